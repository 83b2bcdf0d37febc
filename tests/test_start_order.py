"""What happens in which order as the app starts: a conversation opened at start is on the
screen before the model's worker starts (and the worker still hears of it), and the
garbage collector, off while start-up builds, is on again once the screen is drawn."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from tests.helpers import in_log, loaded, wait_until
from tui_chat import cli
from tui_chat.commands import chat as chat_command
from tui_chat.core.paths import UserPaths
from tui_chat.core.script import Script, says
from tui_chat.core.settings import Settings
from tui_chat.core.store import Store
from tui_chat.service.store_worker import StoreWorker
from tui_chat.ui import app as app_module
from tui_chat.ui.app import ChatApp
from tui_chat.ui.widgets.chat_log import ChatLog
from tui_chat.ui.widgets.earlier_reply import EarlierReply

MakeApp = Callable[..., ChatApp]
SCRIPT = Script(default=says("Hello there."))
SIZE = (100, 30)


def _stored(paths: UserPaths, exchanges: int) -> int:
    paths.data.mkdir(parents=True, exist_ok=True)
    store = Store.open(paths.store)
    conversation = store.create_conversation("model")
    for n in range(exchanges):
        store.add_message(conversation, "user", f"Question {n}?", "complete")
        store.add_message(conversation, "assistant", f"Answer {n}. " + "Words. " * 40, "complete")
    store.close()
    return conversation


def _watch_service(app: ChatApp) -> list[str]:
    """What the service is asked, in order: ``start`` (with how many of the opened
    conversation's replies were drawn then) and ``prepare``."""
    said: list[str] = []
    service = app.service
    start, prepare = service.start, service.prepare

    def watched_start() -> None:
        drawn = [w for w in in_log(app, EarlierReply) if w.region.height > 0]
        said.append(f"start, {len(drawn)} replies drawn")
        start()

    def watched_prepare(messages: object, keep: int = 0) -> None:
        said.append("prepare")
        prepare(messages, keep)  # type: ignore[arg-type]

    service.start = watched_start  # type: ignore[method-assign]
    service.prepare = watched_prepare  # type: ignore[method-assign]
    return said


class FirstFrameWatched(ChatApp):
    """The app, noting how many replies of the log were drawn in its first frame."""

    CSS_PATH = str(Path(app_module.__file__).with_name(ChatApp.CSS_PATH))  # type: ignore[arg-type]
    in_first_frame: int | None = None

    def on_ready(self) -> None:
        # Textual then calls ChatApp's own on_ready too (handlers of every class run).
        self.in_first_frame = len([w for w in in_log(self, EarlierReply) if w.region.height])


async def test_a_conversation_opened_at_start_is_in_the_first_frame(
    settings: Settings, paths: UserPaths
) -> None:
    """With the store open by the time the screen is built, the conversation is drawn
    in the first frame (not in a second layout and paint after it); the worker starts
    after it, and hears of the conversation after its start."""
    conversation = _stored(paths, 3)
    app = FirstFrameWatched(replace(settings, script=SCRIPT), paths, open_conversation=conversation)
    said = _watch_service(app)
    try:
        await app.store.opened()  # before the screen is built
        async with app.run_test(size=SIZE):
            await loaded(app)
            status = app.main.status
            await wait_until(lambda: status.context_tokens is not None, message="context counted")
    finally:
        app.service.close_now()
        app.store.close_now()
    assert app.in_first_frame == 3
    assert said == ["start, 3 replies drawn", "prepare"]


async def test_a_conversation_opened_while_the_store_opens_is_drawn_before_the_worker_starts(
    make_app: MakeApp, paths: UserPaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store still opening (a migration, say) does not hold the first frame back: the
    conversation follows it. The worker's start takes the CPU that paint needs, so it
    comes after; what the model is told of the conversation (to restore its kept state,
    to count its tokens) comes after the start, not into a worker not there yet."""
    monkeypatch.setattr(StoreWorker, "is_open", property(lambda self: False))
    conversation = _stored(paths, 3)
    app = make_app(script=SCRIPT, open_conversation=conversation)
    said = _watch_service(app)
    async with app.run_test(size=SIZE):
        await loaded(app)
        status = app.main.status
        await wait_until(lambda: status.context_tokens is not None, message="context counted")
        assert in_log(app, EarlierReply)
    assert said == ["start, 3 replies drawn", "prepare"]


async def test_a_conversation_not_there_at_start_still_starts_the_worker(
    make_app: MakeApp, paths: UserPaths
) -> None:
    _stored(paths, 1)
    app = make_app(script=SCRIPT, open_conversation=999)
    said = _watch_service(app)
    async with app.run_test(size=SIZE):
        await loaded(app)
        await wait_until(lambda: app._notifications, message="the notice")
        assert [n.message for n in app._notifications] == ["There is no conversation 999."]
    assert said == ["start, 0 replies drawn"]


@pytest.fixture
def collecting() -> Iterator[None]:
    """Whatever a test does to the collector, it is on again after it."""
    try:
        yield
    finally:
        gc.enable()


async def test_collection_is_on_again_once_the_screen_is_drawn(
    make_app: MakeApp, collecting: None
) -> None:
    app = make_app(script=SCRIPT)
    gc.disable()  # as ``tui-chat`` starts
    async with app.run_test(size=SIZE):
        await wait_until(lambda: app.main.query(Footer), message="the second frame")
        await wait_until(gc.isenabled, message="collection on again")


def test_the_command_builds_the_app_with_collection_off_and_leaves_it_on(
    monkeypatch: pytest.MonkeyPatch, collecting: None
) -> None:
    seen: list[bool] = []

    def run_app(arguments: list[str]) -> int:
        seen.append(gc.isenabled())
        raise SystemExit(2)  # as a bad command line ends

    monkeypatch.setattr(chat_command, "run_app", run_app)
    with pytest.raises(SystemExit):
        cli.main(["--nonsense"])
    assert seen == [False]
    assert gc.isenabled()


async def test_the_log_never_has_the_focus_at_start_and_the_footer_shows_its_keys(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Focus given to the log first and moved to the input restyles both; with it
    straight on the input, nothing changes the keys after the footer is there: it draws
    them all the same, with nothing pressed."""
    focused: list[str] = []
    monkeypatch.setattr(ChatLog, "on_focus", lambda self, _: focused.append("log"), raising=False)
    app = make_app(script=SCRIPT)
    async with app.run_test(size=SIZE):
        await wait_until(lambda: app.main.query(FooterKey), message="the footer's keys")
        keys = " ".join(str(key.render()) for key in app.main.query(FooterKey))
        assert "Quit" in keys
        assert app.focused is app.main.chat.input
    assert focused == []
