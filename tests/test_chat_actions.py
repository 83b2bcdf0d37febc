"""What the chat does besides sending: a reply asked for again and its versions, a
message edited and sent again, a reply continued, copied, the prompt history."""

from __future__ import annotations

from collections.abc import Callable

from tests.helpers import (
    SIZE,
    drawn,
    footer,
    in_log,
    loaded,
    put_and_send,
    reply_finished,
    wait_until,
)
from tui_chat.core.paths import UserPaths
from tui_chat.core.script import Script, Vary
from tui_chat.core.store import Store
from tui_chat.core.store_versions import Fork
from tui_chat.ui.app import ChatApp
from tui_chat.ui.widgets.earlier_reply import EarlierReply
from tui_chat.ui.widgets.reply import Reply

SEED = 1000
"""The settings' seed: version n of a reply gets SEED + n - 1, and ``Vary`` says its
text number (seed % 2): the first reply (no seed of its own) and version 3 say "First",
version 2 "Second"."""

VARIES = Script(default=(Vary(("First answer.", "Second answer.")),))


def stored(paths: UserPaths, conversation_id: int | None) -> tuple[list[str], dict[int, Fork]]:
    store = Store.open(paths.store)
    try:
        loaded_ = store.load(conversation_id or 0)
        assert loaded_ is not None
        return [m.text for m in loaded_.messages], loaded_.forks
    finally:
        store.close()


async def test_ctrl_g_asks_again_and_the_arrows_switch_between_versions(
    make_app: Callable[..., ChatApp], paths: UserPaths
) -> None:
    app = make_app(script=VARIES, seed=SEED)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        chat = app.main.chat
        await pilot.pause()
        assert "^g Again" not in footer(app), "nothing to ask again yet"
        await put_and_send(app, pilot, "Hi?")
        await reply_finished(app)
        await pilot.pause()
        assert "^g Again" in footer(app)
        await pilot.press("ctrl+g")
        turn = await reply_finished(app)
        await wait_until(lambda: "◀ 2/2 ▶" in drawn(app), message="version line")
        assert (turn.text, turn.version, turn.versions) == ("Second answer.", 2, 2)
        assert [t.text for t in chat.conversation.turns] == ["Hi?", "Second answer."]
        assert stored(paths, chat.conversation.id) == (
            ["Hi?", "Second answer."],
            {1: Fork(1, 2, 2)},
        )

        await pilot.press("alt+left")
        await wait_until(lambda: "◀ 1/2 ▶" in drawn(app), message="version 1 shown")
        assert "First answer." in drawn(app)
        assert [t.text for t in chat.conversation.turns] == ["Hi?", "First answer."]
        assert stored(paths, chat.conversation.id)[1] == {1: Fork(1, 1, 2)}

        # The next turn builds on the version shown.
        await put_and_send(app, pilot, "And?")
        await reply_finished(app)
        sent = [m.content for m in chat.conversation.messages_for()]
        assert sent == ["Hi?", "First answer.", "And?", "First answer."]

        # A click on ▶ of the first reply: version 2, without the later turn (it stays
        # with version 1).
        (first,) = [w for w in in_log(app, EarlierReply) if "First" in w._text]
        await pilot.click(first, offset=(6, first.size.height - 1))
        await wait_until(lambda: "◀ 2/2 ▶" in drawn(app), message="version 2 again")
        assert [t.text for t in chat.conversation.turns] == ["Hi?", "Second answer."]


async def test_a_version_that_came_out_the_same_says_so(
    make_app: Callable[..., ChatApp],
) -> None:
    app = make_app(script=VARIES, seed=SEED + 1)  # version 2 gets seed 1002: "First answer."
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        await put_and_send(app, pilot, "Hi?")
        await reply_finished(app)
        await pilot.press("ctrl+g")
        await reply_finished(app)
        await wait_until(
            lambda: any("came out the same as version 1" in n.message for n in app._notifications),
            message="the notice",
        )
        replies = in_log(app, Reply)
        assert replies[-1].versions == (2, 2)
