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
from tui_chat.core.conversation import TurnStatus
from tui_chat.core.paths import UserPaths
from tui_chat.core.script import Echo, Fail, Fault, Hold, Say, Script, Vary, says
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
        await pilot.click(first, offset=(7, first.size.height - 1))  # ▶, after the padding
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


ECHOES = Script(default=(Echo(),))


async def test_up_puts_the_last_message_back_and_sending_it_takes_its_place(
    make_app: Callable[..., ChatApp], paths: UserPaths
) -> None:
    app = make_app(script=ECHOES)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        chat = app.main.chat
        for text in ("Hello there.", "Tell me a jkoe."):
            await put_and_send(app, pilot, text)
            await reply_finished(app)
        await pilot.press("up")
        assert chat.input.text == "Tell me a jkoe."
        assert chat.input.border_title.startswith("Editing your message")
        chat.input.load_text("Tell me a joke.")
        await pilot.press("enter")
        await reply_finished(app)
        assert [t.text for t in chat.conversation.turns] == [
            "Hello there.",
            "Hello there.",
            "Tell me a joke.",
            "Tell me a joke.",
        ]
        assert [type(w).__name__ for w in chat.chat_log.entries].count("UserMessage") == 2
        await wait_until(lambda: "◀ 2/2 ▶" in drawn(app), message="the message's versions")
        texts, forks = stored(paths, chat.conversation.id)
        assert texts == ["Hello there.", "Hello there.", "Tell me a joke.", "Tell me a joke."]
        assert forks == {2: Fork(2, 2, 2)}
        # The first version is kept, and comes back with its reply.
        await pilot.press("alt+left")
        await wait_until(lambda: "◀ 1/2 ▶" in drawn(app), message="version 1")
        assert [t.text for t in chat.conversation.turns][2:] == ["Tell me a jkoe."] * 2


async def test_up_and_down_walk_the_history_and_esc_leaves_it(
    make_app: Callable[..., ChatApp], paths: UserPaths
) -> None:
    store = Store.open(paths.store)
    other = store.create_conversation("m")
    store.add_message(other, "user", "From another chat.", "complete")
    store.close()
    app = make_app(script=ECHOES)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        chat = app.main.chat
        for text in ("One.", "Two."):
            await put_and_send(app, pilot, text)
            await reply_finished(app)
        walked = []
        for _ in range(4):  # the last stays at the oldest
            await pilot.press("up")
            walked.append(chat.input.text)
        assert walked == ["Two.", "One.", "From another chat.", "From another chat."]
        assert chat.input.border_title.startswith("Sent before")
        await pilot.press("down")
        assert chat.input.text == "One."
        await pilot.press("escape")
        assert (chat.input.text, chat.input.border_title, chat.editing) == ("", "", None)
        # A recalled older message is sent as a new one.
        await pilot.press("up", "up")
        await pilot.press("enter")
        await reply_finished(app)
        assert [t.text for t in chat.conversation.turns if t.role == "user"] == [
            "One.",
            "Two.",
            "One.",
        ]
        # Typed text is the person's own: ↑ moves in it, it does not recall.
        await pilot.press("a", "up")
        assert chat.input.text == "a"


CODE_REPLY = "Here:\n\n```python\nprint('one')\n```\n\nAnd:\n\n```\nls -l\n```\n"


async def test_ctrl_o_copies_the_last_reply_as_markdown_and_the_log_selects_others(
    make_app: Callable[..., ChatApp],
) -> None:
    script = Script(replies=(("code", (Say.text(CODE_REPLY),)),), default=says("**Bold** hi."))
    app = make_app(script=script)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        chat = app.main.chat
        assert "^o Copy" not in footer(app)
        await put_and_send(app, pilot, "Hi?")
        await reply_finished(app)
        await pilot.press("ctrl+o")
        assert app.clipboard == "**Bold** hi.", "the Markdown, not the text shown"
        await put_and_send(app, pilot, "Some code?")
        await reply_finished(app)
        await pilot.press("ctrl+o")
        assert app.clipboard == CODE_REPLY
        # In the log, ↑ and ↓ move from message to message; Ctrl+O copies the one selected.
        chat.chat_log.focus()
        await pilot.press("up", "up")
        assert isinstance(chat.chat_log.selected, EarlierReply | Reply)
        await pilot.press("ctrl+o")
        assert app.clipboard == "**Bold** hi."
        await pilot.press("up", "ctrl+o")
        assert app.clipboard == "Hi?"
        # b copies a code block of the selected message, then the next.
        await pilot.press("down", "down", "down", "b")
        assert app.clipboard == "print('one')"
        await pilot.press("b")
        assert app.clipboard == "ls -l"
        # A click on a block's copy line copies it too.
        reply = in_log(app, Reply)[-1]
        line = next(n for n, strip in enumerate(reply._lines) if "⧉ copy python" in strip.text)
        app.copy_to_clipboard("")
        await pilot.click(reply, offset=(2, line))
        assert app.clipboard == "print('one')"


async def test_e_on_a_message_in_the_log_edits_it_and_sends_it_in_its_place(
    make_app: Callable[..., ChatApp], paths: UserPaths
) -> None:
    app = make_app(script=ECHOES)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        chat = app.main.chat
        for text in ("First.", "Second.", "Third."):
            await put_and_send(app, pilot, text)
            await reply_finished(app)
        chat.chat_log.focus()
        await pilot.press("up", "up", "up", "e")  # Third's reply, Third, Second's reply, Second
        assert chat.input.has_focus
        assert chat.input.text == "Second."
        chat.input.load_text("Second, edited.")
        await pilot.press("enter")
        await reply_finished(app)
        assert [t.text for t in chat.conversation.turns if t.role == "user"] == [
            "First.",
            "Second, edited.",
        ]
        texts, forks = stored(paths, chat.conversation.id)
        assert texts[2:] == ["Second, edited.", "Second, edited."]
        assert forks == {2: Fork(2, 2, 2)}


async def test_ctrl_f_goes_on_with_a_reply_cut_at_the_token_limit_in_the_same_reply(
    make_app: Callable[..., ChatApp], paths: UserPaths
) -> None:
    app = make_app(script=Script(default=says("One two three four five six.")), max_tokens=3)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        chat = app.main.chat
        await put_and_send(app, pilot, "Count.")
        turn = await reply_finished(app)
        assert (turn.text, turn.status) == ("One two three", TurnStatus.LENGTH)
        await pilot.pause()
        assert "^f Continue" in footer(app)
        await pilot.press("ctrl+f")
        await wait_until(lambda: turn.text == "One two three four five six", message="more")
        await reply_finished(app)
        await pilot.press("ctrl+f")
        await wait_until(lambda: turn.text == "One two three four five six.", message="all")
        turn = await reply_finished(app)
        assert turn.status is TurnStatus.COMPLETE
        assert len(in_log(app, Reply)) == 1, "the same reply, not another"
        await wait_until(lambda: in_log(app, Reply)[0].source == turn.text, message="shown")
        await pilot.pause()
        assert "^f Continue" not in footer(app), "it finished: nothing to go on with"
        assert stored(paths, chat.conversation.id)[0] == ["Count.", "One two three four five six."]


async def test_a_stopped_reply_goes_on_after_where_it_was_stopped(
    make_app: Callable[..., ChatApp],
) -> None:
    script = Script(default=(Say.text("Once upon"), Hold(), Say.text(" a time.")))
    app = make_app(script=script)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        await put_and_send(app, pilot, "A story?")
        await wait_until(lambda: "Once upon" in drawn(app), message="the start")
        await pilot.press("escape")
        turn = await reply_finished(app)
        assert (turn.text, turn.status) == ("Once upon", TurnStatus.STOPPED)
        await pilot.press("ctrl+f")
        await wait_until(lambda: turn.text == "Once upon a time.", message="the rest")
        assert (await reply_finished(app)).status is TurnStatus.COMPLETE


async def test_f3_gives_the_open_conversation_its_own_settings_from_its_next_message(
    make_app: Callable[..., ChatApp], paths: UserPaths
) -> None:
    from textual.widgets import Input, TextArea

    from tui_chat.ui.screens.settings import SettingsScreen

    app = make_app(script=Script(default=says("One two three four five.")), max_tokens=100)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        chat = app.main.chat
        await put_and_send(app, pilot, "Count.")
        assert (await reply_finished(app)).text == "One two three four five."
        await pilot.press("f3")
        await wait_until(lambda: isinstance(app.screen, SettingsScreen), message="F3")
        screen = app.screen
        assert screen.query_one("#conversation-max_tokens", Input).value == "100"
        screen.query_one("#conversation-max_tokens", Input).value = "2"
        screen.query_one("#conversation-temperature", Input).value = "0.9"
        screen.query_one("#conversation-system_prompt", TextArea).load_text("Count slowly.")
        await pilot.press("ctrl+s")
        await wait_until(lambda: not isinstance(app.screen, SettingsScreen), message="saved")
        assert chat.conversation.settings == {"max_tokens": 2, "temperature": 0.9}
        assert app.service.settings.max_tokens == 100, "the defaults are as they were"
        await put_and_send(app, pilot, "Again.")
        assert (await reply_finished(app)).text == "One two", "its own limit"
        sent = chat.conversation.messages_for()
        assert sent[0].content == "Count slowly."
        conversation_id = chat.conversation.id
        # Saved with it, and shown in the export.
        store = Store.open(paths.store)
        saved = store.load(conversation_id or 0)
        store.close()
        assert saved is not None
        assert (saved.system_prompt, saved.settings) == (
            "Count slowly.",
            {"max_tokens": 2, "temperature": 0.9},
        )
        # A new conversation follows the defaults.
        await pilot.press("ctrl+n")
        await put_and_send(app, pilot, "Count.")
        assert (await reply_finished(app)).text == "One two three four five."
        # Opened again, the conversation has its own settings again.
        await chat.open(conversation_id or 0)
        assert chat.conversation.settings == {"max_tokens": 2, "temperature": 0.9}


async def test_a_reply_that_fails_to_go_on_keeps_what_it_had_and_may_go_on_again(
    make_app: Callable[..., ChatApp],
) -> None:
    script = Script(default=(Say.text("One two three four"), Fail(Fault.ERROR, "Out of memory")))
    app = make_app(script=script, max_tokens=3)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        await put_and_send(app, pilot, "Count.")
        turn = await reply_finished(app)
        assert turn.status is TurnStatus.LENGTH
        await pilot.press("ctrl+f")
        await wait_until(lambda: "Out of memory" in drawn(app), message="the failure said")
        turn = await reply_finished(app)
        assert (turn.text, turn.status) == ("One two three four", TurnStatus.LENGTH)
        assert app.main.chat.conversation.messages_for()[-1].content == "One two three four"


async def test_the_palette_has_every_action_on_the_chat(make_app: Callable[..., ChatApp]) -> None:
    app = make_app(script=VARIES, seed=SEED)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        await put_and_send(app, pilot, "Hi?")
        await reply_finished(app)
        commands = {c.title: c.callback for c in app.get_system_commands(app.screen)}
        for title in ("Ask again", "Go on with the reply", "Copy the reply", "Version before",
                      "Version after", "Edit your last message"):  # fmt: skip
            assert title in commands
        await commands["Ask again"]()  # type: ignore[misc]
        turn = await reply_finished(app)
        assert (turn.version, turn.text) == (2, "Second answer.")
        await commands["Edit your last message"]()  # type: ignore[misc]
        assert app.main.chat.input.text == "Hi?"
        assert app.main.chat.editing is app.main.chat.conversation.turns[0]
