"""What the screen shows, as SVG snapshots (pytest-textual-snapshot), on the scripted model.

A snapshot that changes fails the test and the report shows both pictures side by side:
look at it, and if the new one is right, accept it with ``pytest tests/test_snapshots.py
--snapshot-update``, look at the new files, and commit them with the change. Every
snapshot here was looked at before it was committed.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, TextArea

from tests.helpers import drawn, ending, in_log, last_reply_turn, loaded, put_and_send, wait_until
from tui_chat.core.conversation import TurnStatus
from tui_chat.core.paths import HOME_ENV, UserPaths, user_paths
from tui_chat.core.script import Echo, Fail, Fault, Hold, Say, Script, says
from tui_chat.core.store import Store
from tui_chat.ui.app import ChatApp
from tui_chat.ui.screens.conversations import ConversationsScreen
from tui_chat.ui.screens.keys import KeysScreen
from tui_chat.ui.screens.settings import SettingsScreen
from tui_chat.ui.widgets.chat_log import Reply

SIZE = (100, 30)
STORY = (
    "Once upon a time, a dragon named **Ember** wanted to sail.\n\n"
    "She built a boat:\n\n- a hull of oak\n- a sail of silk\n"
)
CODE = (
    "A boat needs a **sail**:\n\n```python\ndef sail(boat: str) -> str:\n"
    "    # the wind does the rest\n    return boat"
)
THOUGHT = (
    "<think>The person wants the tide explained. The moon pulls the sea.</think>\n\n"
    "The **moon** pulls the sea toward it: that is the tide."
)
SCRIPT = Script(
    replies=(
        ("story", (Say.text(STORY), Hold())),
        ("crash", (Say.text("The first words"), Fail(Fault.EXIT))),
        ("sail code", (Say.text(CODE), Hold())),
        ("Translate", (Echo(after="exactly as they are.\n\n"), Hold())),
        ("think", (Say.text(THOUGHT), Hold())),
    ),
    default=says("Hello! How can I help you today?"),
)

Snap = Callable[..., bool]
Steps = Callable[[Pilot[None]], Awaitable[None]]


@pytest.fixture
def app(make_app: Callable[..., ChatApp]) -> ChatApp:
    """The app on the script, with a model path that is the same on every machine."""
    return make_app(
        script=SCRIPT, model=Path("/models/scripted.gguf"), max_tokens=1000, n_threads=2
    )


LOOKS = ("TEXTUAL_THEME", "TEXTUAL_COLOR_SYSTEM", "TEXTUAL_FILTERS", "TEXTUAL_DIM_FACTOR")
"""Settings of Textual's that change every picture (read when Textual is imported)."""


@pytest.fixture(autouse=True)
def default_looks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pictures are taken with Textual's default looks, in colour."""
    monkeypatch.delenv("NO_COLOR", raising=False)
    chosen = [name for name in LOOKS if os.environ.get(name)]
    if chosen:
        pytest.fail(f"unset {', '.join(chosen)}: the snapshots show Textual's default looks")


@pytest.fixture(autouse=True)
def utc() -> Iterator[None]:
    """Times on screen (F2) in one time zone on every machine."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if saved is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = saved
    time.tzset()


async def steady(pilot: Pilot[None]) -> None:
    """What varies from run to run off the screen: no blinking cursor, no toast."""
    for widget in pilot.app.screen.query("TextArea, Input"):
        if isinstance(widget, TextArea | Input):
            widget.cursor_blink = False
    pilot.app.clear_notifications()
    await pilot.pause()


def take(snap_compare: Snap, app: ChatApp, steps: Steps, size: tuple[int, int] = SIZE) -> bool:
    """Run ``steps`` in the app, then compare the screen with its snapshot."""
    failed: list[BaseException] = []

    async def run_before(pilot: Pilot[None]) -> None:
        try:
            await loaded(app)
            await steps(pilot)
            await steady(pilot)
        except BaseException as e:  # a failed wait: said here, not lost inside the app
            failed.append(e)
            app.exit()

    try:
        return snap_compare(app, terminal_size=size, run_before=run_before)
    except AssertionError:
        if failed:
            raise failed[0] from None
        raise


def test_the_empty_chat(snap_compare: Snap, app: ChatApp) -> None:
    async def steps(pilot: Pilot[None]) -> None:
        await wait_until(lambda: app.main.chat.input.has_focus, message="the input focused")

    assert take(snap_compare, app, steps)


async def _streamed(app: ChatApp, pilot: Pilot[None], prompt: str, text: str) -> Reply:
    await put_and_send(app, pilot, prompt)
    await wait_until(lambda: in_log(app, Reply), message="sent")
    reply = in_log(app, Reply)[-1]
    await wait_until(lambda: reply.source == text, message="the reply so far on screen")
    return reply


async def _story(app: ChatApp, pilot: Pilot[None]) -> Reply:
    return await _streamed(app, pilot, "Tell me a story.", STORY)


def test_a_reply_streaming(snap_compare: Snap, app: ChatApp) -> None:
    async def steps(pilot: Pilot[None]) -> None:
        await _story(app, pilot)
        assert last_reply_turn(app).status is TurnStatus.STREAMING

    assert take(snap_compare, app, steps)


def test_a_reply_that_thought_first_with_its_thinking_unfolded(
    snap_compare: Snap, app: ChatApp
) -> None:
    """The fold line, the thinking dimmed under it, then the answer, still streaming."""

    async def steps(pilot: Pilot[None]) -> None:
        answer = "The **moon** pulls the sea toward it: that is the tide."
        reply = await _streamed(app, pilot, "Why do tides happen? Please think.", answer)
        reply.toggle_thought()
        await wait_until(lambda: "The person wants" in drawn(app), message="unfolded")

    assert take(snap_compare, app, steps)


def test_a_reply_stopped_by_esc(snap_compare: Snap, app: ChatApp) -> None:
    async def steps(pilot: Pilot[None]) -> None:
        await _story(app, pilot)
        await pilot.press("escape")
        await wait_until(lambda: ending(app) == "[stopped]", message="stopped")

    assert take(snap_compare, app, steps)


def test_a_crash_notice(snap_compare: Snap, app: ChatApp) -> None:
    async def steps(pilot: Pilot[None]) -> None:
        await put_and_send(app, pilot, "Please crash.")
        await wait_until(lambda: app.service.crashes == 1, message="the crash")
        await wait_until(lambda: "interrupted" in ending(app), message="the reply's end")
        await loaded(app)
        messages = app.main.chat.conversation.messages_for()
        (counted,) = (await app.service.count_tokens(prompts=[messages])).prompts
        await wait_until(lambda: app.main.status.context_tokens == counted, message="recount")

    assert take(snap_compare, app, steps)


def test_the_breaker_banner(snap_compare: Snap, app: ChatApp) -> None:
    async def steps(pilot: Pilot[None]) -> None:
        for n in (1, 2, 3):
            await loaded(app)
            await put_and_send(app, pilot, "Tell me a story.")
            await wait_until(lambda: last_reply_turn(app).text == STORY, message="the story")
            pid = app.service.worker_pid
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            await wait_until(lambda n=n: app.service.crashes == n, message=f"crash {n}")
        await wait_until(lambda: app.main.banner.shown, message="the banner")
        # The model is down: how much of its context the chat takes is not known.
        await wait_until(lambda: app.main.status.context_tokens is None, message="no count")

    assert take(snap_compare, app, steps)


def test_a_code_block_streaming(snap_compare: Snap, app: ChatApp) -> None:
    """Mid-stream, the block being written (a code fence not yet closed) is drawn plain,
    in the box it will have: colours come when it is complete."""

    async def steps(pilot: Pilot[None]) -> None:
        await _streamed(app, pilot, "Show me the sail code.", CODE)
        assert last_reply_turn(app).status is TurnStatus.STREAMING

    assert take(snap_compare, app, steps)


def test_the_translate_view_mid_translation(snap_compare: Snap, app: ChatApp) -> None:
    text = "Good morning, my friend.\n\nThe train leaves at 9:30 from platform 4."

    async def steps(pilot: Pilot[None]) -> None:
        await pilot.press("ctrl+t")
        view = app.main.translate
        await wait_until(lambda: view.source.has_focus, message="the Translate view")
        view.source.load_text(text)
        app.main.query_one("#target-other", Input).value = "French"
        await pilot.press("ctrl+g")
        await wait_until(lambda: view.output.text == text, message="the text said back")

    assert take(snap_compare, app, steps)


def test_f2_lists_the_conversations(snap_compare: Snap, app: ChatApp, paths: UserPaths) -> None:
    paths.data.mkdir(parents=True, exist_ok=True)
    store = Store.open(paths.store)
    for title, reply in [
        ("How do tides work?", "The moon pulls the sea."),
        ("Translate a [bold]menu[/] for me", "Of course."),
        ("Plan a walk along the river", "Start at the bridge."),
    ]:
        conversation = store.create_conversation("scripted-model")
        store.add_message(conversation, "user", title, "complete")
        store.add_message(conversation, "assistant", reply, "complete")
    store.close()
    with sqlite3.connect(paths.store) as db:  # times that are the same on every run
        db.execute("UPDATE conversations SET updated = 1764000000 + id * 3600")

    async def steps(pilot: Pilot[None]) -> None:
        await pilot.press("f2")
        await wait_until(lambda: isinstance(app.screen, ConversationsScreen), message="F2")
        options = app.screen.query_one("OptionList")
        await wait_until(lambda: options.option_count == 3, message="the list")  # type: ignore[attr-defined]

    assert take(snap_compare, app, steps)


@pytest.fixture
def fixed_home(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A TUI_CHAT_HOME whose path is the same on every run: F3 shows where it saves."""
    root = Path("/tmp/tui-chat-snapshot")
    shutil.rmtree(root, ignore_errors=True)
    monkeypatch.setenv(HOME_ENV, str(root))
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_f3_settings(
    snap_compare: Snap, make_app: Callable[..., ChatApp], fixed_home: Path
) -> None:
    app = make_app(
        script=SCRIPT, model=Path("/models/scripted.gguf"), n_threads=2, paths=user_paths()
    )

    async def steps(pilot: Pilot[None]) -> None:
        await pilot.press("f3")
        await wait_until(lambda: isinstance(app.screen, SettingsScreen), message="F3")

    assert take(snap_compare, app, steps)


def test_a_narrow_terminal(snap_compare: Snap, app: ChatApp) -> None:
    async def steps(pilot: Pilot[None]) -> None:
        await put_and_send(app, pilot, "Hello there, how are you?")
        await wait_until(lambda: in_log(app, Reply) and in_log(app, Reply)[-1].finished)

    assert take(snap_compare, app, steps, size=(40, 12))


def test_f1_lists_the_keys(snap_compare: Snap, app: ChatApp) -> None:
    async def steps(pilot: Pilot[None]) -> None:
        await pilot.press("f1")
        await wait_until(lambda: isinstance(app.screen, KeysScreen), message="F1")

    assert take(snap_compare, app, steps)
