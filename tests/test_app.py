"""The whole app, headless (``App.run_test`` and Pilot), with the real worker process
playing a scripted model: exact text on screen, stops, clears, crashes, keys."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

import pytest
from textual import events
from textual.message import Message
from textual.notifications import Notify
from textual.pilot import Pilot

from tests.helpers import (
    SIZE,
    ending,
    footer,
    in_log,
    last_reply_turn,
    loaded,
    pid_gone,
    put_and_send,
    reply_finished,
    status_text,
    type_and_send,
    wait_until,
)
from tui_chat.core.conversation import TurnStatus
from tui_chat.core.script import Fail, Fault, Hold, Read, Say, Script, says
from tui_chat.service.events import ServiceState
from tui_chat.ui.app import ChatApp
from tui_chat.ui.widgets.chat_input import ChatInput
from tui_chat.ui.widgets.chat_log import Notice, Reply, UserMessage

STORY = "Once upon a time, a dragon learned to sail. It was **not** easy."
ANSWER = "The capital of France is Paris. It lies on the Seine."
SCRIPT = Script(
    replies=(
        ("story", (Say.text(STORY), Hold())),
        ("capital", says(ANSWER, every=0.15)),
        ("Summarize", (Read(2, seconds=0.4), *says("A summary."))),
    ),
    default=says("Hello there."),
)

MakeApp = Callable[..., ChatApp]


async def test_type_enter_and_the_reply_streams_into_the_log(make_app: MakeApp) -> None:
    app = make_app(script=SCRIPT)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        await type_and_send(pilot, "The capital?")
        await wait_until(lambda: app.main.chat.conversation.turns, message="message sent")
        assert app.main.query_one(ChatInput).text == ""
        (user,) = in_log(app, UserMessage)
        assert str(user.render()) == "The capital?"
        # Streaming: the reply is on screen before it has ended.
        await wait_until(lambda: len(last_reply_turn(app).parts) >= 2, message="tokens")
        assert last_reply_turn(app).status is TurnStatus.STREAMING
        assert ANSWER.startswith(last_reply_turn(app).text)
        turn = await reply_finished(app)
        assert turn.status is TurnStatus.COMPLETE
        assert turn.text == ANSWER
        reply = in_log(app, Reply)[-1]
        await wait_until(lambda: reply.source == ANSWER and reply.finished, message="shown")
        await pilot.pause()
        status = status_text(app)
        assert status.startswith("scripted-model · ready · 6.7 tok/s · reply 13 tokens")


async def test_the_status_line_says_where_the_model_runs_and_a_fallback_is_said(
    make_app: MakeApp,
) -> None:
    """As the worker reports a model loaded with fewer GPU layers than asked for."""
    note = "The model did not load with all layers on the GPU (not enough GPU memory?): ..."
    app = make_app(script=Script(placement="GPU 12/31 layers", load_note=note))
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        await pilot.pause()
        assert status_text(app).startswith("scripted-model · GPU 12/31 layers · ready")
        notices = [str(n.render()) for n in in_log(app, Notice)]
        assert note in notices


async def test_a_message_sent_while_loading_is_sent_when_the_model_is_ready(
    make_app: MakeApp,
) -> None:
    app = make_app(script=Script(default=says("Hello there."), load_seconds=1.0))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(lambda: app.service.worker_pid, message="worker started")
        await put_and_send(app, pilot, "Say hello.")
        await wait_until(lambda: in_log(app, Reply), message="sent")
        assert app.service.state is ServiceState.LOADING
        await wait_until(lambda: "waiting for the model to load" in ending(app), message="said")
        turn = await reply_finished(app)
        assert turn.status is TurnStatus.COMPLETE
        assert turn.text == "Hello there."


async def test_enter_shows_widgets_mounted_while_the_model_was_idle(make_app: MakeApp) -> None:
    """Enter mounts nothing: the message's and the reply's widgets wait, hidden, at the
    end of the log from the time the model is idle (mounting them after Enter took ~7 ms
    of CPU from the model reading the prompt)."""
    app = make_app(script=SCRIPT)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        log = app.main.chat.chat_log
        for n, text in enumerate(["Say hello.", "Say goodbye."], start=1):
            await wait_until(
                lambda n=n: sum(isinstance(w, Reply) for w in log.children) == n,
                message="the next exchange's widgets",
            )
            await pilot.pause()
            mounted = set(log.children)
            await put_and_send(app, pilot, text)
            await wait_until(lambda n=n: len(in_log(app, Reply)) == n, message="sent")
            message, reply = in_log(app, UserMessage)[-1], in_log(app, Reply)[-1]
            assert {message, reply} <= mounted, "sending mounted new widgets"
            assert str(message.render()) == text
            assert message.display
            assert reply.display
            await reply_finished(app)
            await wait_until(lambda r=reply: r.source == "Hello there.", message="rendered")
        # The hidden ones are not part of the conversation on screen.
        assert len(in_log(app, UserMessage)) == 2
        assert [w.display for w in in_log(app, Reply)] == [True, True]


async def test_a_long_prompt_read_says_so_in_the_reply(make_app: MakeApp) -> None:
    """Nothing is drawn under a message until the model has something to say; if the
    prompt takes longer than half a second, the reply says the model is reading it."""
    app = make_app(script=SCRIPT)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        app.main.chat.input.load_text("Summarize: " + "The boats rose with the tide. " * 60)
        await pilot.press("enter")
        await wait_until(lambda: in_log(app, Reply), message="sent")
        reply = in_log(app, Reply)[-1]
        assert not reply.note, "a line before anything to say"
        await wait_until(lambda: "reading the prompt" in reply.note, message="the reading line")
        assert not last_reply_turn(app).parts
        turn = await reply_finished(app)
        assert turn.text == "A summary."
        await pilot.pause()
        assert "reading" not in reply.note


async def stop_a_long_reply(app: ChatApp, pilot: Pilot[None], shown: str) -> None:
    """Ask for a story and press Esc once ``shown`` is on screen: the reply ends stopped,
    holding exactly what was shown, marked [stopped]."""
    await put_and_send(app, pilot, "Tell a long story about a dragon.")
    await wait_until(lambda: last_reply_turn(app).text == shown, message="the story so far")
    await pilot.press("escape")
    turn = await reply_finished(app)
    assert turn.status is TurnStatus.STOPPED
    assert turn.text == shown, "a token appeared after Esc"
    await wait_until(lambda: ending(app) == "[stopped]", message="stopped mark")


async def test_escape_stops_the_reply_and_keeps_it(make_app: MakeApp) -> None:
    app = make_app(script=SCRIPT)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        await stop_a_long_reply(app, pilot, STORY)
        assert "stopped" in status_text(app)
        # The stopped reply stays part of the conversation, and the next turn works.
        await put_and_send(app, pilot, "Thanks.")
        turn = await reply_finished(app)
        assert turn.status is TurnStatus.COMPLETE
        messages = app.main.chat.conversation.messages_for(turn)
        assert [m.content for m in messages] == [
            "Tell a long story about a dragon.",
            STORY,
            "Thanks.",
        ]


async def test_ctrl_l_clears_the_log_and_the_model_context(make_app: MakeApp) -> None:
    app = make_app(script=SCRIPT)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        await put_and_send(app, pilot, "My name is Zorblax.")
        await reply_finished(app)
        await pilot.press("ctrl+l")
        await wait_until(lambda: not in_log(app, UserMessage), message="log cleared")
        assert not in_log(app, Reply)
        assert app.main.chat.conversation.turns == []
        await put_and_send(app, pilot, "My name is Zorblax.")
        await reply_finished(app)
        await pilot.pause()
        usage = app.main.status.usage
        assert usage is not None
        assert usage.cached_tokens == 0, "the same prompt again, but the model forgot it"


async def test_three_worker_kills_show_the_banner_and_ctrl_r_recovers(make_app: MakeApp) -> None:
    app = make_app(script=SCRIPT)
    async with app.run_test(size=SIZE) as pilot:
        for n in (1, 2, 3):
            await loaded(app)
            await put_and_send(app, pilot, "Tell a story.")
            await wait_until(lambda: last_reply_turn(app).text == STORY, message="the story")
            pid = app.service.worker_pid
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            await wait_until(lambda n=n: app.service.crashes == n, message=f"crash {n}")
            turn = await reply_finished(app)
            assert turn.status is TurnStatus.INTERRUPTED
            assert turn.text == STORY, "the partial reply is kept"
            await wait_until(lambda pid=pid: pid_gone(pid))
            if n < 3:
                assert not app.main.banner.shown
        await wait_until(lambda: app.main.banner.shown, message="banner")
        banner = str(app.main.banner.render())
        assert "crashed 3 times in a row" in banner
        assert "Ctrl+R" in banner
        notices = [str(n.render()) for n in in_log(app, Notice)]
        assert any(n.endswith("again: crash 1 of 3 in a row.") for n in notices)
        assert "crashed" in status_text(app)
        # Sending now is refused and the text stays in the input.
        await put_and_send(app, pilot, "hello")
        assert app.main.query_one(ChatInput).text == "hello"
        await pilot.press("ctrl+r")
        await loaded(app)
        assert not app.main.banner.shown
        await pilot.press("enter")
        turn = await reply_finished(app)
        assert turn.status is TurnStatus.COMPLETE
        assert turn.text == "Hello there."


async def test_a_multi_line_paste_keeps_every_line(make_app: MakeApp) -> None:
    pasted = "first line\nsecond line\n\n  indented fourth line"
    app = make_app(script=SCRIPT)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        chat_input = app.main.query_one(ChatInput)
        # As the terminal driver does: the app forwards a paste to the focused widget.
        app.post_message(events.Paste(pasted))
        await wait_until(lambda: chat_input.text == pasted, message="paste")
        await pilot.press("shift+enter", *"x")
        assert chat_input.text == pasted + "\nx"
        await pilot.press("enter")
        await wait_until(lambda: app.main.chat.conversation.turns, message="sent")
        assert app.main.chat.conversation.turns[0].text == pasted + "\nx"
        await reply_finished(app)


async def test_empty_and_blank_messages_are_not_sent(make_app: MakeApp) -> None:
    app = make_app(script=SCRIPT)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        await pilot.press("enter", "space", "space", "enter", "ctrl+j", "enter")
        await pilot.pause()
        assert app.main.chat.conversation.turns == []
        assert not in_log(app, UserMessage)


async def test_markup_in_messages_is_shown_literally(make_app: MakeApp) -> None:
    text = "[bold red]not bold[/] [@click=app.quit]quit[/]"
    app = make_app(script=SCRIPT)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        await put_and_send(app, pilot, text)
        await wait_until(lambda: in_log(app, UserMessage), message="sent")
        (user,) = in_log(app, UserMessage)
        assert str(user.render()) == text
        await reply_finished(app)
        assert app.is_running


async def test_ctrl_q_shuts_the_worker_down(make_app: MakeApp) -> None:
    app = make_app(script=SCRIPT)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        pid = app.service.worker_pid
        assert pid is not None
        await pilot.press("ctrl+q")
        await wait_until(lambda: pid_gone(pid), message="worker gone")
        assert app.service.state is ServiceState.CLOSED


async def test_ctrl_c_copies_a_selection_and_otherwise_says_how_to_quit(
    make_app: MakeApp,
) -> None:
    notices: list[str] = []

    def hook(message: Message) -> None:
        if isinstance(message, Notify):
            notices.append(message.notification.message)

    app = make_app(script=SCRIPT)
    async with app.run_test(size=SIZE, message_hook=hook) as pilot:
        await pilot.press(*"hello", "ctrl+c")
        await wait_until(lambda: notices, message="a notification")
        assert app.is_running
        assert notices[0] == "Press Ctrl+Q to quit tui-chat."
        await pilot.press("shift+home", "ctrl+c")
        assert app.clipboard == "hello"


async def test_enter_during_a_reply_says_once_that_a_reply_is_being_written(
    make_app: MakeApp,
) -> None:
    notices: list[str] = []

    def hook(message: Message) -> None:
        if isinstance(message, Notify):
            notices.append(message.notification.message)

    app = make_app(script=SCRIPT)
    async with app.run_test(size=SIZE, message_hook=hook) as pilot:
        await loaded(app)
        await put_and_send(app, pilot, "Tell a story.")
        await wait_until(lambda: last_reply_turn(app).text == STORY, message="the story")
        app.main.chat.input.load_text("And then?")
        await pilot.press("enter", "enter", "enter")
        await pilot.pause()
        assert notices == ["A reply is still being written. Press Esc to stop it first."]
        assert app.main.chat.input.text == "And then?", "the message waits in the input"


async def test_f1_shows_the_apps_own_keys_first_by_view(make_app: MakeApp) -> None:
    from tui_chat.ui.screens.keys import KeysScreen

    app = make_app(script=SCRIPT)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f1")
        await wait_until(lambda: isinstance(app.screen, KeysScreen), message="F1")
        await pilot.pause()
        tables = list(app.screen.query("Static"))
        titles = [t.name for t in tables]
        assert titles == [
            "Everywhere",
            "Chat",
            "Chat log (Tab or a click gives it the focus)",
            "Translate",
            "Saved conversations (F2)",
            "Editing text",
        ]
        chat = tables[1]
        assert chat.region.bottom <= app.screen.region.bottom, "the chat's keys are in view"
        await pilot.press("escape")
        await wait_until(lambda: not isinstance(app.screen, KeysScreen), message="closed")


def test_f1_names_every_key_the_app_binds() -> None:
    """The list is written by hand, in words: it must not miss a key a binding adds."""
    from textual.app import App

    from tui_chat.ui.chat_view import ChatView
    from tui_chat.ui.main_screen import MainScreen
    from tui_chat.ui.screens.conversations import ConversationsScreen
    from tui_chat.ui.screens.keys import APP_KEYS
    from tui_chat.ui.translate_view import TranslateView

    listed = {
        key.strip().lower().replace("delete", "delete")
        for _, rows in APP_KEYS
        for keys, _ in rows
        for key in keys.split(",")
    }
    bound = {
        key.strip()
        for owner in (ChatApp, MainScreen, ChatView, ChatInput, TranslateView, ConversationsScreen)
        for binding in owner.BINDINGS
        if binding not in App.BINDINGS
        and binding.action not in ("app.focus_next", "app.focus_previous")
        for key in binding.key.split(",")
    }
    assert {key.replace("escape", "esc") for key in bound} <= listed | {"tab", "shift+tab"}


async def test_the_palette_clears_the_chat_and_ctrl_c_is_not_in_the_footer(
    make_app: MakeApp,
) -> None:
    app = make_app(script=SCRIPT)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "New conversation (clear the chat)" in titles
        keys = footer(app)
        assert not [key for key in keys if key.startswith("^c")], "Ctrl+C copies in the input"
        assert "^q Quit" in keys


async def test_after_a_crash_the_context_is_the_conversations_not_the_replys(
    make_app: MakeApp,
) -> None:
    crash = Script(replies=(("crash", (Say.text(STORY), Fail(Fault.EXIT))),))
    app = make_app(script=crash)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        await put_and_send(app, pilot, "Please crash.")
        turn = await reply_finished(app)
        assert turn.status is TurnStatus.INTERRUPTED
        await loaded(app)
        messages = app.main.chat.conversation.messages_for()
        (expected,) = (await app.service.count_tokens(prompts=[messages])).prompts
        await wait_until(lambda: app.main.status.context_tokens == expected, message="recount")
        assert f"context {expected}/4096" in status_text(app)


async def test_a_message_sent_while_the_model_loads_is_on_screen_before_it_is_saved(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing to hurry for while the model loads: the message shows at once, whatever
    the store (still opening at start-up) takes."""
    import threading

    from tui_chat.core.store import Store

    release, saved = threading.Event(), threading.Event()
    add_message = Store.add_message

    def slow(store: Store, *args: object, **kwargs: object) -> int:
        release.wait(10)
        try:
            return add_message(store, *args, **kwargs)  # type: ignore[arg-type]
        finally:
            saved.set()

    monkeypatch.setattr(Store, "add_message", slow)
    app = make_app(script=Script(default=says("Hello there."), load_seconds=1.0))
    async with app.run_test(size=SIZE):
        await wait_until(lambda: app.service.worker_pid, message="worker started")
        app.main.chat.input.load_text("Say hello.")
        # As the terminal delivers it (Pilot.press would wait for the handler to finish).
        app.post_message(events.Key("enter", "\r"))
        await wait_until(lambda: in_log(app, UserMessage), message="the message on screen")
        assert not saved.is_set(), "it was shown only once saved"
        assert app.main.chat.input.text == ""
        release.set()
        turn = await reply_finished(app)
        assert (turn.status, turn.text) == (TurnStatus.COMPLETE, "Hello there.")


async def test_esc_while_a_message_is_being_saved_stops_its_reply_before_it_is_asked(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the model loads, a message is shown at once and saved, and only then sent:
    Esc in between means its reply is never asked for."""
    import threading

    from tui_chat.core.store import Store

    release = threading.Event()
    add_message = Store.add_message

    def slow(store: Store, *args: object, **kwargs: object) -> int:
        release.wait(10)
        return add_message(store, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Store, "add_message", slow)
    app = make_app(script=Script(default=says("Hello there."), load_seconds=1.0))
    async with app.run_test(size=SIZE):
        await wait_until(lambda: app.service.worker_pid, message="worker started")
        app.main.chat.input.load_text("Say hello.")
        # As the terminal delivers keys (Pilot.press would wait for the handlers to finish).
        app.post_message(events.Key("enter", "\r"))
        await wait_until(lambda: in_log(app, UserMessage), message="the message on screen")
        app.post_message(events.Key("escape", None))
        chat = app.main.chat
        await wait_until(lambda: chat._unsent and chat._unsent.cancelled, message="Esc heard")
        release.set()
        turn = await reply_finished(app)
        assert (turn.status, turn.text) == (TurnStatus.STOPPED, "")
        await wait_until(lambda: ending(app) == "[stopped]", message="stopped mark")
        await loaded(app)
        assert not app.service.busy, "the model was not asked"
