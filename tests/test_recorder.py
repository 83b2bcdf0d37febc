"""The conversation recorder below the UI: a client without a screen (here, the service
and the store alone) gets the same never-lost guarantee as the Chat view."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers import ready, wait_until
from tui_chat.core.conversation import Conversation, TurnStatus
from tui_chat.core.paths import UserPaths
from tui_chat.core.protocol import Done, DoneReason
from tui_chat.core.script import Hold, Say, Script, says
from tui_chat.core.store import StoredConversation
from tui_chat.service.events import RequestEvent
from tui_chat.service.llm_service import LlmService
from tui_chat.service.recorder import ConversationRecorder
from tui_chat.service.store_worker import StoreWorker

STORY = "Once upon a time, a dragon learned to sail."
SCRIPT = Script(replies=(("story", (Say.text(STORY), Hold())),), default=says("Hello there."))


@pytest.fixture
def store(paths: UserPaths) -> Iterator[StoreWorker]:
    worker = StoreWorker(paths.store, on_error=lambda _text: None)
    yield worker
    worker.close_now()


def last_saved(path: Path) -> tuple[str, str] | None:
    """The newest message on disk, read as another process would."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return conn.execute("SELECT text, status FROM messages ORDER BY id DESC").fetchone()


async def saved(store: StoreWorker, conversation_id: int) -> StoredConversation:
    stored = await store.call(lambda s: s.load(conversation_id))
    assert stored is not None
    return stored


async def test_a_reply_is_on_disk_while_it_streams_and_when_it_ends(
    start_service: Callable[..., LlmService], store: StoreWorker, paths: UserPaths
) -> None:
    failures: list[str] = []
    recorder = ConversationRecorder(store, failures.append, lambda: None)
    service = start_service(script=SCRIPT)
    await ready(service)
    conversation = Conversation()
    user = conversation.add_user("Tell a story.")
    reply = conversation.start_reply()
    await recorder.begin(conversation, user, reply, "scripted")
    assert conversation.id is not None
    heard: list[RequestEvent] = []
    service.generate(
        conversation.messages_for(reply),
        listener=recorder.listen(conversation, reply, heard.append),
    )
    store_file = paths.store

    # The story waits for Esc: it is on disk while it streams, without any screen.
    await wait_until(lambda: last_saved(store_file) == (STORY, "streaming"), message="saved")
    assert reply.text == STORY, "the conversation holds what streamed"
    service.stop()
    await wait_until(lambda: any(isinstance(e, Done) for e in heard), message="the end heard")
    assert reply.status is TurnStatus.STOPPED
    await wait_until(lambda: last_saved(store_file) == (STORY, "stopped"), message="its end")
    assert [type(e).__name__ for e in heard][-1] == "Done", "the listener heard every event"
    assert not failures


async def test_a_reply_ended_before_it_was_asked_is_saved_once_and_hears_no_more(
    store: StoreWorker,
) -> None:
    recorder = ConversationRecorder(store, lambda _text: None, lambda: None)
    conversation = Conversation()
    user = conversation.add_user("Hi.")
    reply = conversation.start_reply()
    await recorder.begin(conversation, user, reply, "scripted")
    recorder.end(reply, DoneReason.STOPPED)
    heard: list[RequestEvent] = []
    listen = recorder.listen(conversation, reply, heard.append)
    listen(Done(1, DoneReason.FINISHED))
    assert reply.status is TurnStatus.STOPPED, "what came after its end was recorded"
    assert heard == [Done(1, DoneReason.FINISHED)], "whoever shows it still hears it"
    assert conversation.id is not None
    stored = await saved(store, conversation.id)
    assert [(m.role, m.status) for m in stored.messages] == [
        ("user", "complete"),
        ("assistant", "stopped"),
    ]
