"""Conversations in the app (Pilot, scripted model): saved as they happen, listed,
reopened, renamed, deleted, exported, trimmed to the context, folded when long."""

from __future__ import annotations

import asyncio
import gc
import os
import re
import signal
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from textual.message import Message
from textual.notifications import Notification, Notify
from textual.widgets import Input, Label, OptionList, Static

from tests.helpers import (
    SIZE,
    drawn,
    in_log,
    last_reply_turn,
    loaded,
    outgrow_a_512_token_context,
    put_and_send,
    reply_finished,
    wait_until,
)
from tui_chat.core.conversation import TurnStatus
from tui_chat.core.paths import UserPaths
from tui_chat.core.protocol import DoneReason
from tui_chat.core.script import Hold, Say, Script, says
from tui_chat.core.store import Store
from tui_chat.ui.app import ChatApp
from tui_chat.ui.screens.conversations import ConversationsScreen
from tui_chat.ui.screens.dialogs import AskText, Confirm
from tui_chat.ui.widgets.chat_log import (
    SHOWN_AT_MOST,
    SHOWN_PER_SCROLL,
    Reply,
    UserMessage,
)
from tui_chat.ui.widgets.earlier_reply import EarlierReply

STORY = "Once upon a time, a dragon learned to sail."
LONG_REPLY_BLOCKS = 26
"""Paragraphs of a reply longer than the screen."""
SCRIPT = Script(replies=(("story", (Say.text(STORY), Hold())),), default=says("Hello there."))

MakeApp = Callable[..., ChatApp]


@pytest.fixture
def db(paths: UserPaths) -> Iterator[sqlite3.Connection]:
    """A second connection to the app's store, as another process would have."""
    path = paths.store
    paths.data.mkdir(parents=True, exist_ok=True)
    Store.open(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    yield conn
    conn.close()


def rows(db: sqlite3.Connection) -> list[tuple[str, str, str]]:
    return db.execute("SELECT role, text, status FROM messages ORDER BY id").fetchall()


async def test_the_message_is_on_disk_before_the_model_sees_it_and_the_reply_while_it_streams(
    make_app: MakeApp, db: sqlite3.Connection
) -> None:
    app = make_app(script=SCRIPT)
    seen_at_send: list[list[tuple[str, str, str]]] = []
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        generate = app.service.generate

        def watching(*args: object, **kwargs: object) -> int:
            seen_at_send.append(rows(db))
            return generate(*args, **kwargs)  # type: ignore[arg-type]

        app.service.generate = watching  # type: ignore[method-assign]
        await put_and_send(app, pilot, "Tell a story.")
        await wait_until(lambda: seen_at_send, message="generate called")
        assert seen_at_send[0] == [
            ("user", "Tell a story.", "complete"),
            ("assistant", "", "streaming"),
        ]
        # While the reply streams, its row fills in (at most half a second behind).
        await wait_until(
            lambda: rows(db)[1][1] and last_reply_turn(app).status is TurnStatus.STREAMING,
            message="a streaming save",
        )
        assert last_reply_turn(app).text.startswith(rows(db)[1][1])
        await pilot.press("escape")
        turn = await reply_finished(app)
        await wait_until(lambda: rows(db)[1][2] == "stopped", message="final save")
        assert rows(db)[1][1] == turn.text == STORY


async def test_store_work_never_runs_on_the_ui_thread(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(script=SCRIPT)
    threads: set[str] = set()
    for name in ("add_message", "update_message", "create_conversation", "load"):
        original = getattr(Store, name)

        def spy(*args: object, _original: object = original, **kwargs: object) -> object:
            threads.add(threading.current_thread().name)
            return _original(*args, **kwargs)  # type: ignore[operator]

        monkeypatch.setattr(Store, name, spy)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        await put_and_send(app, pilot, "Say hello.")
        await reply_finished(app)
        await pilot.press("ctrl+n")
        await wait_until(lambda: app.main.chat.conversation.id is None)
    assert threads
    assert all(name.startswith("store") for name in threads), threads


async def test_ctrl_n_keeps_the_old_conversation_and_the_list_reopens_it(make_app: MakeApp) -> None:
    app = make_app(script=SCRIPT)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        await put_and_send(app, pilot, "My name is Zorblax.")
        first = await reply_finished(app)
        old_id = app.main.chat.conversation.id
        assert old_id is not None
        await pilot.press("ctrl+l")  # clear starts a new conversation too
        await wait_until(lambda: not in_log(app, UserMessage), message="empty log")
        assert app.main.chat.conversation.id is None
        await pilot.press("f2")
        await wait_until(lambda: isinstance(app.screen, ConversationsScreen), message="list")
        options = app.screen.query_one(OptionList)
        await wait_until(lambda: options.option_count == 1, message="one conversation")
        assert "My name is Zorblax." in str(options.get_option_at_index(0).prompt)
        await pilot.press("enter")
        await wait_until(lambda: app.main.chat.conversation.id == old_id, message="reopened")
        texts = [str(w.render()) for w in in_log(app, UserMessage)]
        assert texts == ["My name is Zorblax."]
        assert in_log(app, EarlierReply), "the reply, read back"
        # The model gets the history again with the next message.
        await put_and_send(app, pilot, "What is my name?")
        turn = await reply_finished(app)
        history = app.main.chat.conversation.messages_for(turn)
        assert [m.content for m in history[:2]] == ["My name is Zorblax.", first.text]


async def test_rename_and_delete_from_the_list(make_app: MakeApp) -> None:
    app = make_app(script=SCRIPT)
    notes: list[Notification] = []

    def hook(message: Message) -> None:
        if isinstance(message, Notify):
            notes.append(message.notification)

    async with app.run_test(size=SIZE, message_hook=hook) as pilot:
        await loaded(app)
        await put_and_send(app, pilot, "First chat.")
        await reply_finished(app)
        await pilot.press("f2")
        await wait_until(lambda: isinstance(app.screen, ConversationsScreen))
        await pilot.press("ctrl+e")
        await wait_until(lambda: isinstance(app.screen, AskText), message="rename dialog")
        app.screen.query_one(Input).value = "Renamed [bold]chat[/]"
        await pilot.press("enter")
        await wait_until(lambda: isinstance(app.screen, ConversationsScreen))
        options = app.screen.query_one(OptionList)
        await wait_until(
            lambda: "Renamed [bold]chat[/]" in str(options.get_option_at_index(0).prompt),
            message="new title",
        )
        await pilot.press("ctrl+d")
        await wait_until(lambda: isinstance(app.screen, Confirm), message="confirmation")
        await pilot.press("n")  # not yet
        await wait_until(lambda: isinstance(app.screen, ConversationsScreen))
        assert options.option_count == 1
        await pilot.press("ctrl+d")
        await wait_until(lambda: isinstance(app.screen, Confirm))
        await pilot.press("y")
        await wait_until(lambda: isinstance(app.screen, ConversationsScreen))
        # It was the open one: it leaves the screen at once, a new one takes its place.
        await wait_until(lambda: not in_log(app, UserMessage), message="the chat cleared")
        assert app.main.chat.conversation.id is None
        # The title is the person's text: shown as written, never read as markup.
        await wait_until(lambda: any(n.message.startswith("Deleted") for n in notes))
        deleted = next(n for n in notes if n.message.startswith("Deleted"))
        assert "Renamed [bold]chat[/]" in deleted.message
        assert not deleted.markup
        await wait_until(
            lambda: "No saved conversations" in str(options.get_option_at_index(0).prompt)
        )
        await pilot.press("escape")
        await wait_until(lambda: not isinstance(app.screen, ConversationsScreen))
        await pilot.pause()
        assert app.main.chat.conversation.id is None
        assert not in_log(app, UserMessage)
        assert not [n for n in notes if "kept" in n.message], "nothing was kept"


async def test_an_interrupted_reply_shows_as_such_when_reopened(make_app: MakeApp) -> None:
    app = make_app(script=SCRIPT)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        await put_and_send(app, pilot, "Tell a story.")
        await wait_until(lambda: last_reply_turn(app).text == STORY, message="the story")
        pid = app.service.worker_pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        turn = await reply_finished(app)
        assert turn.status is TurnStatus.INTERRUPTED
        conversation_id = app.main.chat.conversation.id
        assert conversation_id is not None
        await pilot.press("ctrl+n")
        await wait_until(lambda: app.main.chat.conversation.id is None)
        await loaded(app)
        assert await app.main.chat.open(conversation_id)
        assert len(in_log(app, EarlierReply)) == 1
        await pilot.pause()
        assert "[interrupted: the model worker crashed]" in drawn(app)
        assert app.main.chat.conversation.turns[1].text == turn.text == STORY


async def test_ctrl_s_saves_the_conversation_as_markdown(make_app: MakeApp, tmp_path: Path) -> None:
    app = make_app(script=SCRIPT)
    target = tmp_path / "chat.md"
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        await put_and_send(app, pilot, "Say hello.")
        turn = await reply_finished(app)
        await pilot.press("ctrl+s")
        await wait_until(lambda: isinstance(app.screen, AskText), message="save dialog")
        app.screen.query_one(Input).value = str(target)
        await pilot.press("enter")
        await wait_until(target.exists, message="file written")
    lines = target.read_text().splitlines()
    assert lines[:2] == ["# Say hello.", ""]
    assert re.fullmatch(r"_Conversation 1 · scripted-model · [0-9T:+-]+_", lines[2])
    assert lines[3:] == ["", "**You**", "", "Say hello.", "", "**Assistant**", "", turn.text]
    assert turn.text == "Hello there."


async def test_a_damaged_store_gives_a_banner_and_the_chat_still_works(
    make_app: MakeApp, paths: UserPaths
) -> None:
    paths.data.mkdir(parents=True)
    bad = paths.store
    bad.write_bytes(b"\x00garbage that is not SQLite\n" * 200)
    app = make_app(script=SCRIPT)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(lambda: app.main.banner.message("store"), message="banner")
        message = app.main.banner.message("store")
        assert str(bad) in message
        assert "damaged" in message
        await loaded(app)
        await put_and_send(app, pilot, "Say hello.")
        turn = await reply_finished(app)
        assert turn.status is TurnStatus.COMPLETE
    moved = [p for p in paths.data.iterdir() if ".damaged-" in p.name]
    assert len(moved) == 1
    assert moved[0].read_bytes() == b"\x00garbage that is not SQLite\n" * 200


async def test_a_long_conversation_is_trimmed_and_the_model_still_answers(
    make_app: MakeApp, paths: UserPaths
) -> None:
    app = make_app(script=SCRIPT, n_ctx=512, max_tokens=48)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        await outgrow_a_512_token_context(app, pilot)
        # And the conversation goes on.
        await put_and_send(app, pilot, "Thanks.")
        turn = await reply_finished(app)
        assert turn.status is TurnStatus.COMPLETE


async def test_a_store_that_cannot_be_written_keeps_the_chat_in_memory(
    make_app: MakeApp, paths: UserPaths, home: Path
) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "data").write_text("a file where the data folder should be")
    app = make_app(script=SCRIPT)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(lambda: app.main.banner.message("store"), message="banner")
        assert "not being saved" in app.main.banner.message("store")
        assert str(home / "data") in app.main.banner.message("store")
        await loaded(app)
        await put_and_send(app, pilot, "Say hello.")
        turn = await reply_finished(app)
        assert turn.status is TurnStatus.COMPLETE


@pytest.mark.parametrize(
    ("becomes", "said"),
    [
        # SQLite's own errors, from the real store: a connection that may only read, and
        # a file that may not grow by one more page (what a full disk does to a write).
        ("read-only", "attempt to write a readonly database"),
        ("full", "database or disk is full"),
    ],
)
async def test_a_store_that_becomes_read_only_or_full_says_so_and_the_chat_goes_on(
    make_app: MakeApp,
    paths: UserPaths,
    db: sqlite3.Connection,
    becomes: str,
    said: str,
) -> None:
    def break_the_store(store: Store) -> None:
        conn = store._conn
        if becomes == "read-only":
            conn.execute("PRAGMA query_only = ON")
        else:
            conn.execute("VACUUM")  # no free page left inside the file either
            (pages,) = conn.execute("PRAGMA page_count").fetchone()
            conn.execute(f"PRAGMA max_page_count = {pages}")

    app = make_app(script=SCRIPT)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await loaded(app)
            await put_and_send(app, pilot, "Say hello.")
            saved = await reply_finished(app)
            await wait_until(
                lambda: [status for _, _, status in rows(db)] == ["complete", "complete"],
                message="the first exchange saved",
            )
            before = rows(db)
            await app.store.call(break_the_store)
            # Longer than a page of the file: it cannot be saved without growing it.
            await put_and_send(app, pilot, "Say the word river. " + "The river runs. " * 400)
            turn = await reply_finished(app)
            assert turn.status is TurnStatus.COMPLETE
            assert turn is not saved
            await wait_until(lambda: app.main.banner.message("saving"), message="banner")
            message = app.main.banner.message("saving")
            assert said in message
            assert message.endswith("What could not be saved is only on screen.")
            await put_and_send(app, pilot, "Again.")
            assert (await reply_finished(app)).status is TurnStatus.COMPLETE
            assert len(in_log(app, UserMessage)) == 3, "every message is still on the screen"
    finally:
        await app.service.close()
        app.store.close_now()
    # What was saved before is all there and the file is sound.
    assert rows(db)[:2] == before
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


async def test_a_reopened_reply_shows_its_last_line(make_app: MakeApp, paths: UserPaths) -> None:
    """What the terminal gets, not only the widget's state: the line that says how the
    reply ended was once laid out below the reply's (stale) height and never drawn."""
    text = (
        "Once upon a time, in the land of Eldrador, there lived a magnificent dragon named "
        "Eira. Eira was born to a wise and powerful dragon named Aethonax. She grew up with "
        "the beauty of the land and the strength of the earth.\n\nAthelax had been a great "
        "king who ruled over a kingdom filled with dragons. He loved his dragons dearly, but "
        "he also loved the people of Eldrador. He was known for his kindness and generosity"
    )
    paths.data.mkdir(parents=True, exist_ok=True)
    store = Store.open(paths.store)
    conversation = store.create_conversation("model")
    store.add_message(conversation, "user", STORY, "complete")
    store.add_message(conversation, "assistant", text, "streaming")  # cut off by a crash
    store.close()
    app = make_app(script=SCRIPT, open_conversation=conversation)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(lambda: in_log(app, EarlierReply), message="the reopened reply")
        await pilot.pause(0.5)
        assert "generosity" in drawn(app)
        assert "[interrupted: the model worker crashed]" in drawn(app)


def _stored_exchanges(paths: UserPaths, exchanges: int, answer_tail: str) -> int:
    """A saved conversation of ``exchanges`` questions and answers; its id."""
    paths.data.mkdir(parents=True, exist_ok=True)
    store = Store.open(paths.store)
    conversation = store.create_conversation("model")
    for n in range(exchanges):
        store.add_message(conversation, "user", f"Question {n}?", "complete")
        store.add_message(conversation, "assistant", f"Answer {n}.{answer_tail}", "complete")
    store.close()
    return conversation


async def test_the_log_stays_at_the_end_and_sending_after_scrolling_up_goes_back_down(
    make_app: MakeApp, paths: UserPaths
) -> None:
    conversation = _stored_exchanges(paths, 8, "\n\n" + "Words. " * 60)
    app = make_app(script=SCRIPT, open_conversation=conversation)
    async with app.run_test(size=SIZE) as pilot:
        log = app.main.chat.chat_log
        await wait_until(lambda: in_log(app, EarlierReply), message="the conversation")
        await loaded(app)
        await pilot.pause()
        assert log.max_scroll_y > 0, "the conversation is longer than the screen"
        await put_and_send(app, pilot, "Say hello.")
        await reply_finished(app)
        await pilot.pause()
        assert log.scroll_y == log.max_scroll_y, "the log followed the reply"
        scrollbar = log.vertical_scrollbar  # its thumb follows without a second layout
        assert scrollbar.window_virtual_size == log.virtual_size.height
        assert scrollbar.position == log.scroll_y
        log.scroll_home(animate=False)  # as a person scrolling back up
        await pilot.pause()
        assert log.scroll_y == 0
        await put_and_send(app, pilot, "Say goodbye.")
        await reply_finished(app)
        await pilot.pause()
        assert log.scroll_y == log.max_scroll_y, "sending brought the log back to the end"


async def test_a_long_conversation_builds_only_its_last_entries_and_earlier_ones_on_scroll(
    make_app: MakeApp, paths: UserPaths
) -> None:
    conversation = _stored_exchanges(paths, 15, "\n\n- one\n- two")
    store = Store.open(paths.store)
    store.set_context_start(conversation, 20)  # the model gets "Question 10?" on
    store.close()
    app = make_app(script=SCRIPT, open_conversation=conversation)
    async with app.run_test(size=SIZE) as pilot:
        chat = app.main.chat
        log = chat.chat_log
        await wait_until(lambda: len(in_log(app, EarlierReply)) > 0, message="the conversation")
        await wait_until(lambda: log.max_scroll_y > 0, message="the screen filled")

        def built() -> int:
            return len([w for w in log.entries if not w.has_class("memory-marker")])

        def said() -> str:
            return str(log.query_one(".earlier", Static).render())

        # (once a page that was on its way when the screen filled is in)
        await wait_until(lambda: f"{30 - built()} earlier entries: scroll up" in said())
        assert 2 <= built() <= SHOWN_AT_MOST + SHOWN_PER_SCROLL, "what fills the screen is built"
        # The view holds the turns the model gets and the last screenful, no more.
        assert (chat.conversation.first, len(chat.conversation.turns)) == (18, 12)
        # The person scrolls to the top, again and again: each time a page more is built
        # above what they read, from the view's turns, then from the store.
        log.focus()
        while len(log.entries) < 31:  # 30 messages and the memory marker
            before = len(log.entries)
            first = log.entries[0]
            await pilot.press("home")
            await wait_until(lambda n=before: len(log.entries) > n, message="a page built")
            await pilot.pause()
            assert len(log.entries) - before <= SHOWN_PER_SCROLL + 1
            # (in view, if a line or two of it may sit above the top: the page's heights
            # can change in the layout after the scroll that keeps it there)
            await wait_until(
                lambda f=first: f.region.bottom > log.region.y and f.region.y < log.region.bottom,
                message="what was first in view stays in view",
            )
        assert not log.query_one(".earlier", Static).display
        texts = [str(w.render()) for w in in_log(app, UserMessage)]
        assert texts == [f"Question {n}?" for n in range(15)], "all of it, in order"
        entries = log.entries
        marker = next(i for i, w in enumerate(entries) if w.has_class("memory-marker"))
        assert str(entries[marker + 1].render()) == "Question 10?"
        # A new exchange folds the oldest shown ones again.
        chat.input.focus()
        await put_and_send(app, pilot, "Say hello.")
        await reply_finished(app)
        assert sum(w.display for w in log.entries) == SHOWN_AT_MOST
        assert log.entries[-1].display


async def test_the_page_above_is_read_ahead_and_shows_without_waiting_on_the_store(
    make_app: MakeApp, paths: UserPaths
) -> None:
    """While the person reads, the page above is read from the store and built; scrolling
    up then only shows it, even if the store were slow to answer just then."""
    conversation = _stored_exchanges(paths, 30, "\n\n- one\n- two")
    store = Store.open(paths.store)
    store.set_context_start(conversation, 56)  # the view holds the last 12 turns
    store.close()
    app = make_app(script=SCRIPT, open_conversation=conversation)
    chat = app.main.chat
    reads: list[object] = []
    answering = asyncio.Event()
    answering.set()
    store_call = chat.store.call

    async def call(work: Callable[[Store], object]) -> object:
        await answering.wait()
        result = await store_call(work)
        reads.append(result)
        return result

    chat.store.call = call  # type: ignore[method-assign,assignment]

    def read_above() -> bool:
        shown = {str(w.render()) for w in in_log(app, UserMessage)}
        pages = [r[0] if isinstance(r, tuple) else r for r in reads]  # (messages, forks)
        read = {m.text for page in pages if isinstance(page, list) for m in page}
        return any(text.startswith("Question") and text not in shown for text in read)

    async with app.run_test(size=SIZE) as pilot:
        log = chat.chat_log
        await wait_until(lambda: log.max_scroll_y > 0, message="the screen filled")
        assert len(chat.conversation.turns) == SHOWN_AT_MOST
        log.focus()
        # Past the turns the view holds: the pages above come from the store.
        while len(log.entries) <= len(chat.conversation.turns):
            before = len(log.entries)
            await pilot.press("home")
            await wait_until(lambda n=before: len(log.entries) > n, message="a page built")
        await wait_until(read_above, message="the page above read ahead")
        answering.clear()  # the store answers nothing more
        before = len(log.entries)
        await pilot.press("home")
        await wait_until(
            lambda: len(log.entries) == before + SHOWN_PER_SCROLL, message="the page shown"
        )
        texts = [str(w.render()) for w in in_log(app, UserMessage)]
        first = 30 - len(texts)
        assert texts == [f"Question {n}?" for n in range(first, 30)], "in order, no gap"
        answering.set()


async def test_pages_read_back_are_out_of_the_collectors_view_until_the_conversation_is_left(
    make_app: MakeApp, paths: UserPaths
) -> None:
    """Each full pass of Python's garbage collector walks every object it tracks: entries
    read back are kept out of its view while they are on the log, and freed once the
    conversation is left."""
    conversation = _stored_exchanges(paths, 30, "\n\n- one\n- two")
    store = Store.open(paths.store)
    store.set_context_start(conversation, 56)
    store.close()
    app = make_app(script=SCRIPT, open_conversation=conversation)
    async with app.run_test(size=SIZE) as pilot:
        chat = app.main.chat
        log = chat.chat_log
        await wait_until(lambda: log.max_scroll_y > 0, message="the screen filled")
        log.focus()
        while len(in_log(app, UserMessage)) < 30:
            before = len(log.entries)
            await pilot.press("home")
            await wait_until(lambda n=before: len(log.entries) > n, message="a page built")
        await pilot.pause()
        entries = [w for w in log.entries if isinstance(w, EarlierReply | UserMessage)]
        tracked = {id(o) for o in gc.get_objects()}
        assert sum(id(w) in tracked for w in entries) <= SHOWN_AT_MOST, "pages read back"
        gone = [weakref.ref(w) for w in entries]
        del entries
        await pilot.press("ctrl+n")
        await wait_until(lambda: not chat.conversation.turns, message="a new conversation")

        def freed() -> bool:
            gc.collect()
            return all(ref() is None for ref in gone)

        await wait_until(freed, message="the entries freed")


def _paragraphs(n: int) -> str:
    return "".join(f"Paragraph {k} of a long reply.\n\n" for k in range(n))


async def test_a_long_streamed_reply_is_one_widget_shown_whole(
    make_app: MakeApp, paths: UserPaths
) -> None:
    """A streamed reply draws lines (no widget per block to lay out at each update), so
    none of it needs folding away: scrolling up shows its start."""
    app = make_app(script=SCRIPT)
    async with app.run_test(size=SIZE) as pilot:
        log = app.main.chat.chat_log
        reply = Reply(cpu_budget=None)
        await log.mount(reply)
        text = _paragraphs(LONG_REPLY_BLOCKS)
        for start in range(0, len(text), 40):  # streamed, in pieces
            reply.append(text[start : start + 40])
        await reply.finish(text, DoneReason.FINISHED)
        await pilot.pause()
        assert not reply.children
        assert reply.size.height == 2 * LONG_REPLY_BLOCKS - 1, "a line and a gap per block"
        log.scroll_to_widget(reply, top=True, animate=False)
        await pilot.pause()
        assert "Paragraph 0 of a long reply." in drawn(app)


async def test_a_long_saved_reply_is_one_widget_that_opens_at_its_end(
    make_app: MakeApp, paths: UserPaths
) -> None:
    """Read back, a reply of many blocks is one widget (Rich draws it: no block to lay
    out); the log opens at its end and scrolling up shows its start."""
    conversation = _stored_exchanges(paths, 1, "\n\n" + _paragraphs(LONG_REPLY_BLOCKS))
    app = make_app(script=SCRIPT, open_conversation=conversation)
    async with app.run_test(size=SIZE) as pilot:
        log = app.main.chat.chat_log
        await wait_until(lambda: len(in_log(app, EarlierReply)) == 1, message="the conversation")
        (reply,) = in_log(app, EarlierReply)
        assert not reply.children
        await pilot.pause()
        assert f"Paragraph {LONG_REPLY_BLOCKS - 1} of a long reply." in drawn(app)
        assert "Question 0?" not in drawn(app)
        log.scroll_home(animate=False)
        await pilot.pause()
        assert "Question 0?" in drawn(app)


async def test_ctrl_s_offers_a_name_that_is_free(
    make_app: MakeApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    app = make_app(script=SCRIPT)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        await put_and_send(app, pilot, "Say hello.")
        await reply_finished(app)
        for n, expected in enumerate(["", "-2", "-3"]):
            await pilot.press("ctrl+s")
            await wait_until(lambda: isinstance(app.screen, AskText), message="save dialog")
            offered = Path(app.screen.query_one(Input).value)
            assert offered.parent == tmp_path
            assert re.fullmatch(rf"conversation-1-\d{{8}}{expected}\.md", offered.name), n
            await pilot.press("enter")
            await wait_until(offered.exists, message="saved where offered")


async def test_ctrl_q_mid_reply_saves_it_as_stopped(
    make_app: MakeApp, db: sqlite3.Connection
) -> None:
    app = make_app(script=SCRIPT)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        await put_and_send(app, pilot, "Tell a story.")
        await wait_until(lambda: last_reply_turn(app).text == STORY, message="the story")
        await pilot.press("ctrl+q")
    app.store.close_now()
    assert rows(db) == [("user", "Tell a story.", "complete"), ("assistant", STORY, "stopped")]


async def test_a_conversation_deleted_in_another_tui_chat_says_so_until_saving_works_again(
    make_app: MakeApp, paths: UserPaths
) -> None:
    app = make_app(script=SCRIPT)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        await put_and_send(app, pilot, "Say hello.")
        await reply_finished(app)
        other = Store.open(paths.store)  # the other tui-chat
        other.delete(app.main.chat.conversation.id or 0)
        other.close()
        await put_and_send(app, pilot, "Still there?")
        await reply_finished(app)
        await wait_until(lambda: app.main.banner.message("saving"), message="the banner")
        assert app.main.banner.message("saving") == (
            "This conversation was deleted in another tui-chat: what is written in it now "
            "is not saved. Ctrl+N starts a new conversation, which is."
        )
        assert len(in_log(app, UserMessage)) == 2, "what was written stays on screen"
        await pilot.press("ctrl+n")
        await put_and_send(app, pilot, "A new start.")
        await reply_finished(app)
        await wait_until(lambda: not app.main.banner.shown, message="the banner gone")


async def test_deleting_a_long_titled_conversation_asks_a_whole_question(
    make_app: MakeApp, paths: UserPaths
) -> None:
    long_title = "A very long first message " + "that goes on and on " * 6
    paths.data.mkdir(parents=True, exist_ok=True)
    store = Store.open(paths.store)
    conversation = store.create_conversation("model")
    store.add_message(conversation, "user", long_title, "complete")
    store.close()
    app = make_app(script=SCRIPT)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        await wait_until(lambda: isinstance(app.screen, ConversationsScreen), message="F2")
        options = app.screen.query_one(OptionList)
        await wait_until(lambda: options.option_count == 1, message="the list")
        await pilot.press("ctrl+d")
        await wait_until(lambda: isinstance(app.screen, Confirm), message="the question")
        await pilot.pause()
        question = app.screen.query_one(Label)
        asked = str(question.render())
        assert asked.startswith("Delete the conversation “A very long first message")
        assert asked.endswith("…” and its 1 message?")
        assert app.screen.query_one(".dialog").region.contains_region(question.region)
        await pilot.press("n")
