"""The Chat view: the conversation log and the message editor.

Every message is saved as it happens: the person's message is committed to the store
before the model sees it, a reply is saved while it streams (at most every half second)
and once more when it ends, however it ends.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widget import Widget

from tui_chat.core.conversation import Conversation, Turn, TurnStatus
from tui_chat.core.protocol import ContextTrimmed, Done, DoneReason, Error, PromptProgress, Token
from tui_chat.service.events import RequestEvent, ServiceState
from tui_chat.service.llm_service import LlmService, ServiceUnavailableError
from tui_chat.service.store_worker import StoreWorker
from tui_chat.ui.widgets.chat_input import ChatInput
from tui_chat.ui.widgets.chat_log import ChatLog, Notice, Reply

if TYPE_CHECKING:
    from tui_chat.core.store import Store

SAVE_EVERY_SECONDS = 0.5
"""Longest a streaming reply goes unsaved: what a kill of the app can lose of it."""

SAY_READING_AFTER_SECONDS = 0.5
"""How long the model may read the prompt before the reply says it is doing so."""

MEMORY_MARKER = "The model no longer remembers the messages above (they no longer fit its context)."


@dataclass(slots=True)
class _Exchange:
    """A reply in the making: its place in the conversation and on screen."""

    turn: Turn
    reply: Reply
    error: str = ""
    stopping: bool = False
    """Esc was pressed: tokens still on their way are not shown."""
    save_timer: Timer | None = None
    """Pending save of the text streamed so far."""
    shown: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once the reply's widget is on screen: what the model sends waits for it."""


class ChatView(Vertical):
    """Where the person chats with the model."""

    BINDINGS = [  # noqa: RUF012 (Textual's own declaration style)
        Binding("ctrl+t", "screen.switch_view", "Translate"),
        Binding("ctrl+n", "new", "New"),
        Binding("f2", "list", "Chats"),
        Binding("ctrl+l", "new", "Clear", show=False),
        Binding("ctrl+s", "save_markdown", "Save"),
    ]

    class Cleared(Message):
        """A new, empty conversation is open."""

    class ContextUsed(Message):
        """How many tokens of the context the open conversation takes."""

        def __init__(self, tokens: int | None) -> None:
            super().__init__()
            self.tokens = tokens

    def __init__(
        self,
        service: LlmService,
        store: StoreWorker,
        busy_elsewhere: Callable[[], str],
        *,
        id: str | None = None,
    ) -> None:
        """
        Args:
            service: The model service.
            store: The conversation store.
            busy_elsewhere: Why the model cannot take a chat message now ("" if it can).
            id: The widget id.
        """
        super().__init__(id=id)
        self.service = service
        self.store = store
        self._busy_elsewhere = busy_elsewhere
        self.conversation = self._fresh()
        self._exchanges: dict[int, _Exchange] = {}
        self._widgets: dict[int, Widget] = {}  # id(turn) -> its widget in the log
        self.last_reason: DoneReason | None = None
        """How the last reply ended."""
        self._sending = False
        """A message is being sent: saved, shown, its reply not yet asked for."""
        self._unsent: _Exchange | None = None
        """The reply shown while its message is saved, before the model is asked."""

    def compose(self) -> ComposeResult:
        yield ChatLog(id="log")
        yield ChatInput(id="input")

    def _fresh(self) -> Conversation:
        return Conversation(system_prompt=self.service.settings.system_prompt)

    @property
    def input(self) -> ChatInput:
        """The message editor."""
        return self.query_one(ChatInput)

    @property
    def chat_log(self) -> ChatLog:
        """The conversation on screen."""
        return self.query_one(ChatLog)

    def owns(self, request_id: int) -> bool:
        """True if the request is one of this view's replies."""
        return request_id in self._exchanges

    @property
    def replying(self) -> bool:
        """True while a reply is being written or waits for the model."""
        return bool(self._exchanges) or self._sending

    def stop(self) -> None:
        """Stop the reply in progress: nothing more of it is shown."""
        if self._unsent is not None:
            self._unsent.stopping = True  # not asked for yet: it will not be
        if not self._exchanges:
            return
        for exchange in self._exchanges.values():
            exchange.stopping = True
        self.service.stop()

    # Conversations --------------------------------------------------------------------

    async def action_new(self) -> None:
        """Start a new conversation (Ctrl+N, Ctrl+L); the old one stays in the list."""
        had_messages = bool(self.conversation.turns)
        await self.show(self._fresh())
        if had_messages:
            self.notify("New conversation. The last one is kept (F2 lists them).", timeout=3)

    async def show(self, conversation: Conversation) -> None:
        """Make ``conversation`` the open one: its messages in the log, a fresh model
        context (its prompt is read again with the next message)."""
        self._end_all()
        self.service.clear_context()
        self.conversation = conversation
        self.last_reason = None
        self._widgets.clear()
        log = self.chat_log
        await log.clear()
        for turn in conversation.turns:
            if turn.role == "user":
                self._widgets[id(turn)] = await log.add_user(turn.text)
            else:
                reply = await log.add_reply()
                await reply.finish(turn.text, turn.status.reason)
                self._widgets[id(turn)] = reply
        await self._mark_memory_start()
        log.scroll_end(animate=False)
        log.prepare()
        self.post_message(self.Cleared())

    def end_replies(self) -> None:
        """Stop and forget replies in progress, each saved as stopped with what it has."""
        self._end_all()

    def _end_all(self) -> None:
        """Stop and forget replies in progress (saving what they have)."""
        self.stop()
        for exchange in self._exchanges.values():
            exchange.reply.finished = True
            self._save_final(exchange, DoneReason.STOPPED)
        self._exchanges.clear()

    async def open(self, conversation_id: int) -> bool:
        """Open a saved conversation; False if there is no such conversation."""
        stored = await self.store.call(lambda s: s.load(conversation_id))
        if stored is None:
            return False
        conversation = Conversation.from_stored(stored)
        await self.show(conversation)
        self.count_context()
        return True

    @work(exclusive=True, group="context-count")
    async def count_context(self) -> None:
        """Tell the status line how much of the context the open conversation takes."""
        messages = self.conversation.messages_for()
        if len(messages) <= self.conversation.kept:
            self.post_message(self.ContextUsed(None))
            return
        try:
            counts = await self.service.count_tokens(prompts=[messages])
        except Exception:  # the model is down: how much it would take is not known
            self.post_message(self.ContextUsed(None))
            return
        self.post_message(self.ContextUsed(counts.prompts[0]))

    @work
    async def action_list(self) -> None:
        """Show the saved conversations (F2)."""
        from tui_chat.ui.screens.conversations import Choice, ConversationsScreen

        choice: Choice | None = await self.app.push_screen_wait(
            ConversationsScreen(self.store, self.conversation.id, self._deleted)
        )
        if choice is not None and choice.conversation_id is None:
            await self.action_new()
        elif choice is not None and choice.conversation_id != self.conversation.id:
            await self.open(choice.conversation_id)
        elif self.conversation.id is not None:
            # The open conversation may have been renamed (or deleted elsewhere) meanwhile.
            still = await self.store.call(lambda s: s.load(self.conversation.id or 0))
            if still is None:
                await self.show(self._fresh())
            else:
                self.conversation.title = still.info.title

    async def _deleted(self, conversation_id: int) -> None:
        """A conversation was deleted in the list: if it is the open one, it goes from the
        screen at once and a new one takes its place."""
        if conversation_id == self.conversation.id:
            await self.show(self._fresh())

    @work
    async def action_save_markdown(self) -> None:
        """Save the open conversation to a Markdown file (Ctrl+S)."""
        if self.conversation.id is None:
            self.notify("There is nothing to save yet.")
            return
        stored = await self.store.call(lambda s: s.load(self.conversation.id or 0))
        if stored is None:
            self.notify("This conversation is not in the store.", severity="error")
            return
        suggestion = Path.cwd() / f"conversation-{stored.info.id}-{time.strftime('%Y%m%d')}.md"
        from tui_chat.core.export import to_markdown
        from tui_chat.ui.screens.dialogs import save_to_file

        await save_to_file(self.app, to_markdown(stored), suggestion, "the conversation")

    # Sending --------------------------------------------------------------------------

    @on(ChatInput.Submitted)
    async def send(self, message: ChatInput.Submitted) -> None:
        """Send what the person wrote, unless it is empty or the model cannot take it."""
        text = message.text
        if not text.strip():
            return
        if not self.service.accepts_requests:
            self.notify("The model is not running. Press Ctrl+R to restart it.", severity="error")
            return
        reason = self._busy_elsewhere()
        if reason:
            self.notify(reason)
            return
        if self.service.busy or self.replying:
            self.notify("A reply is still being written. Press Esc to stop it first.")
            return
        self._sending = True  # until the reply is asked for: a second Enter waits
        try:
            await self._send(message.text, message.chat_input)
        finally:
            self._sending = False

    async def _send(self, text: str, chat_input: ChatInput) -> None:
        conversation = self.conversation
        user = conversation.add_user(text)
        turn = conversation.start_reply()
        if self.service.state is ServiceState.READY:
            # On disk before the model sees it (~1 ms on the store's thread), then to the
            # model, then on screen while the model reads the prompt. The UI's CPU time in
            # that window is taken from the model (two cores, two threads): the widgets
            # were mounted beforehand, and the input is cleared and they are shown in one
            # batch, so that it is one layout and one paint.
            await self._save_new(conversation, user, turn)
            if conversation is not self.conversation:
                return  # another conversation was opened meanwhile
            exchange, shown = self._new_exchange(text, user, turn)
            self._generate(conversation, exchange)
            await self._show(exchange, shown, chat_input)
            # Most prompts are read in well under a second; say so only for longer ones
            # (long ones also report their progress).
            self.set_timer(
                SAY_READING_AFTER_SECONDS,
                lambda: exchange.reply.show_progress("reading the prompt… (Esc stops)"),
            )
            return
        # The model is not ready (it is loading): nothing to hurry for, so the message is
        # on screen at once, then saved (the store may still be opening), then sent.
        exchange, shown = self._new_exchange(text, user, turn)
        self._unsent = exchange
        try:
            await self._show(exchange, shown, chat_input)
            exchange.reply.show_progress("waiting for the model to load…")
            await self._save_new(conversation, user, turn)
        finally:
            self._unsent = None
        if conversation is self.conversation and not exchange.stopping:
            self._generate(conversation, exchange)
            return
        # Esc, or another conversation, came first: it ends here, saved as stopped.
        turn.status = TurnStatus.STOPPED
        self._save_final(exchange, DoneReason.STOPPED)
        await exchange.reply.finish("", DoneReason.STOPPED)

    def _new_exchange(self, text: str, user: Turn, turn: Turn) -> tuple[_Exchange, Widget]:
        """The widgets of a message and its reply (mounted beforehand), not yet shown."""
        message_widget, reply = self.chat_log.new_exchange(
            text, self.service.settings.stream_cpu_budget or None
        )
        self._widgets[id(user)], self._widgets[id(turn)] = message_widget, reply
        return _Exchange(turn, reply), message_widget

    async def _show(self, exchange: _Exchange, message: Widget, chat_input: ChatInput) -> None:
        """Empty the input and show the message and its reply, in one layout."""
        with self.app.batch_update():
            try:
                chat_input.clear()
                await self.chat_log.show_exchange(message, exchange.reply)
            finally:
                exchange.shown.set()

    def _generate(self, conversation: Conversation, exchange: _Exchange) -> None:
        """Ask for the reply; what the model sends goes to ``exchange``."""
        turn = exchange.turn
        try:
            request_id = self.service.generate(
                conversation.messages_for(turn), keep=conversation.kept
            )
        except ServiceUnavailableError as e:  # it stopped while the message was saved
            turn.status = TurnStatus.FAILED
            self._save_final(exchange, DoneReason.ERROR)
            self.run_worker(exchange.reply.finish("", DoneReason.ERROR, f"Not sent: {e}."))
            return
        self._exchanges[request_id] = exchange

    async def _save_new(self, conversation: Conversation, user: Turn, reply: Turn) -> None:
        model = self.service.model.name if self.service.model else self.service.settings.model.stem

        def save(store: Store) -> tuple[int, int, int]:
            conversation_id = conversation.id or store.create_conversation(
                model, conversation.system_prompt
            )
            user_id = store.add_message(conversation_id, "user", user.text, "complete")
            reply_id = store.add_message(conversation_id, "assistant", "", "streaming")
            return conversation_id, user_id, reply_id

        import sqlite3  # the store's own module is imported on its thread, after start-up

        try:
            new = conversation.id is None
            conversation.id, user.message_id, reply.message_id = await self.store.call(save)
        except (sqlite3.Error, RuntimeError) as e:
            self.post_message(StoreFailed(self.store.failure(e)))
        else:
            if new:  # a new conversation is saved: what failed before is behind
                self.post_message(StoreRecovered())

    # Replies --------------------------------------------------------------------------

    async def handle(self, event: RequestEvent) -> None:
        """Take a token, progress, trim, error or end of one of this view's replies."""
        exchange = self._exchanges.get(event.request_id or -1)
        if exchange is None:
            return
        await exchange.shown.wait()
        match event:
            case Token(text=text):
                if not exchange.stopping:
                    exchange.turn.parts.append(text)
                    await exchange.reply.append(text)
                    if exchange.save_timer is None:
                        exchange.save_timer = self.set_timer(
                            SAVE_EVERY_SECONDS, lambda: self._save_streaming(exchange)
                        )
            case PromptProgress(done=done, total=total):
                if done < total:
                    exchange.reply.show_progress(
                        f"reading the prompt: {done} of {total} tokens (Esc stops)"
                    )
            case ContextTrimmed(dropped=dropped):
                self.conversation.leave_out(exchange.turn, dropped)
                await self._mark_memory_start()
                conversation_id, start = self.conversation.id, self.conversation.context_start
                if conversation_id is not None:
                    self.store.submit(lambda s: s.set_context_start(conversation_id, start))
            case Error(message=message):
                exchange.error = message
            case Done(reason=reason, usage=usage):
                del self._exchanges[event.request_id]
                exchange.turn.status = TurnStatus.from_reason(reason)
                self.last_reason = reason
                self._save_final(exchange, reason, usage.prompt_tokens, usage.completion_tokens)
                await exchange.reply.finish(exchange.turn.text, reason, exchange.error)
                self.chat_log.prepare()  # the model is idle: ready the next exchange

    def _save_streaming(self, exchange: _Exchange) -> None:
        exchange.save_timer = None
        message_id, text = exchange.turn.message_id, exchange.turn.text
        if message_id is not None and not exchange.reply.finished:
            self.store.submit(lambda s: s.update_message(message_id, text, "streaming"))

    def _save_final(
        self,
        exchange: _Exchange,
        reason: DoneReason,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
    ) -> None:
        if exchange.save_timer is not None:
            exchange.save_timer.stop()
            exchange.save_timer = None
        message_id, text = exchange.turn.message_id, exchange.turn.text
        status = TurnStatus.from_reason(reason).value
        if message_id is not None:
            self.store.submit(
                lambda s: s.update_message(
                    message_id, text, status, prompt_tokens or None, completion_tokens
                )
            )

    async def _mark_memory_start(self) -> None:
        """Put the marker where the model's memory of this conversation begins."""
        for old in self.chat_log.query(".memory-marker"):
            await old.remove()
        start = self.conversation.context_start
        if not 0 < start < len(self.conversation.turns):
            return
        first = self._widgets.get(id(self.conversation.turns[start]))
        if first is not None:
            marker = Notice(MEMORY_MARKER, kind="memory-marker")
            marker.display = first.display  # folded away with the message it stands before
            await self.chat_log.mount(marker, before=first)

    async def add_notice(self, text: str, *, kind: str = "info") -> None:
        """Show a notice from tui-chat in the log."""
        await self.chat_log.add_notice(text, kind=kind)


class StoreRecovered(Message):
    """A new conversation was saved: a failure to save an earlier one is behind."""


class StoreFailed(Message):
    """The conversation store could not save something."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
