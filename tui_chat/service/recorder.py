"""Keeps a conversation on disk as it happens: the person's message before the model
sees it, a reply while it streams (at most every ``SAVE_EVERY_SECONDS``) and once more
when it ends, however it ends.

The one writer of a conversation's messages to the store. It hears a reply's events
before whoever shows them, so what is saved never waits on the screen.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from tui_chat.core.conversation import Conversation, Turn, TurnStatus
from tui_chat.core.protocol import ContextTrimmed, Done, DoneReason, Token
from tui_chat.service.events import RequestEvent
from tui_chat.service.requests import Listener
from tui_chat.service.store_worker import StoreWorker

if TYPE_CHECKING:
    from tui_chat.core.store import Store

SAVE_EVERY_SECONDS = 0.5
"""Longest a streaming reply goes unsaved: what a kill of the app can lose of it."""


class ConversationRecorder:
    """Writes the messages of conversations to the store, in the order they happen."""

    def __init__(
        self,
        store: StoreWorker,
        on_failure: Callable[[str], None],
        on_recovered: Callable[[], None],
    ) -> None:
        """
        Args:
            store: The conversation store.
            on_failure: Told, in words for a person, when a message could not be saved.
            on_recovered: Told when a new conversation was saved after such a failure.
        """
        self._store = store
        self._on_failure = on_failure
        self._on_recovered = on_recovered
        self._saves: dict[int, asyncio.TimerHandle] = {}  # id(reply) -> its next save
        self._resumed: dict[int, TurnStatus] = {}
        """id(reply) -> its status before it went on (``resume``)."""

    async def begin(
        self,
        conversation: Conversation,
        user: Turn | None,
        reply: Turn,
        model: str,
        fork: int | None = None,
    ) -> None:
        """Save the person's message (None: a reply asked for again) and an empty reply
        to it (the conversation too, if it is new), before the model is asked. With
        ``fork``, the first of them begins another version of the conversation at that
        index, and the messages from there on are kept as the version before."""
        import sqlite3  # the store's own module is imported on its thread, after start-up

        turns = [user, reply] if user is not None else [reply]
        rows = [(t.role, t.text, "streaming" if t is reply else "complete") for t in turns]

        def save(store: Store) -> tuple[int, int, list[int]]:
            conversation_id = conversation.id
            if conversation_id is None:
                conversation_id = store.create_conversation(model, conversation.system_prompt)
                if conversation.settings:
                    store.set_settings(
                        conversation_id, conversation.system_prompt, conversation.settings
                    )
            if fork is not None:
                return conversation_id, *store.add_version(conversation_id, fork, rows)
            return conversation_id, 1, [store.add_message(conversation_id, *row) for row in rows]

        try:
            new = conversation.id is None
            conversation.id, version, ids = await self._store.call(save)
        except (sqlite3.Error, RuntimeError) as e:
            self._on_failure(self._store.failure(e))
        else:
            for turn, message_id in zip(turns, ids, strict=True):
                turn.message_id = message_id
            if fork is not None:
                turns[0].version = turns[0].versions = version
            if new:  # a new conversation is saved: what failed before is behind
                self._on_recovered()

    def save_settings(self, conversation: Conversation) -> None:
        """Save a conversation's own system prompt and settings (a new one has them
        saved with its first message)."""
        conversation_id = conversation.id
        prompt, settings = conversation.system_prompt, dict(conversation.settings)
        if conversation_id is not None:
            self._store.submit(lambda s: s.set_settings(conversation_id, prompt, settings))

    def resume(self, reply: Turn) -> None:
        """``reply`` goes on being written (it was cut at the token limit or stopped):
        what comes is recorded after what it has."""
        self._resumed[id(reply)] = reply.status
        reply.status = TurnStatus.STREAMING
        message_id = reply.message_id
        if message_id is not None:
            told = reply.told_apart()
            self._store.submit(
                lambda s: s.update_message(
                    message_id, told.answer, "streaming", thinking=told.thinking
                )
            )

    def listen(self, conversation: Conversation, reply: Turn, then: Listener) -> Listener:
        """A listener for the request that writes ``reply``: it records each event into
        the conversation and the store, then hands it to ``then``."""

        def hear(event: RequestEvent) -> None:
            if reply.status is TurnStatus.STREAMING:
                self._record(conversation, reply, event)
            then(event)

        return hear

    def end(self, reply: Turn, reason: DoneReason, done: Done | None = None) -> None:
        """Save how ``reply`` ended, with what it has (once: what is heard of it after is
        not recorded)."""
        if reply.status is not TurnStatus.STREAMING:
            return
        save = self._saves.pop(id(reply), None)
        if save is not None:
            save.cancel()
        before = self._resumed.pop(id(reply), None)
        # A reply that failed to go on keeps its status: it may go on again (a failed
        # one would be left out of the next prompts).
        failed = reason is DoneReason.ERROR and before is not None
        reply.status = before if failed and before else TurnStatus.from_reason(reason)
        message_id, status, told = reply.message_id, reply.status.value, reply.told_apart()
        usage = done.usage if done is not None else None
        prompt = usage.prompt_tokens or None if usage else None
        completion = usage.completion_tokens if usage else None
        if message_id is not None:
            self._store.submit(
                lambda s: s.update_message(
                    message_id, told.answer, status, prompt, completion, told.thinking
                )
            )

    def _record(self, conversation: Conversation, reply: Turn, event: RequestEvent) -> None:
        match event:
            case Token(text=text):
                reply.parts.append(text)
                if id(reply) not in self._saves:
                    loop = asyncio.get_running_loop()
                    self._saves[id(reply)] = loop.call_later(
                        SAVE_EVERY_SECONDS, self._save_streaming, reply
                    )
            case ContextTrimmed(dropped=dropped):
                conversation.leave_out(reply, dropped)
                conversation_id, start = conversation.id, conversation.context_start
                if conversation_id is not None:
                    self._store.submit(lambda s: s.set_context_start(conversation_id, start))
            case Done(reason=reason):
                self.end(reply, reason, event)

    def _save_streaming(self, reply: Turn) -> None:
        self._saves.pop(id(reply), None)
        message_id, told = reply.message_id, reply.told_apart()
        if message_id is not None and reply.status is TurnStatus.STREAMING:
            self._store.submit(
                lambda s: s.update_message(
                    message_id, told.answer, "streaming", thinking=told.thinking
                )
            )
