"""The half of the Chat view that sends a message and shows its reply as it comes.

It shows; the conversation recorder (``service.recorder``) saves. A message is saved
before the model is asked, and each event of its reply goes to the recorder, then here.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial

from textual import on
from textual.containers import Vertical
from textual.message import Message
from textual.widget import Widget

from tui_chat.core.conversation import Conversation, Turn
from tui_chat.core.protocol import (
    ChatMessage,
    ContextTrimmed,
    Done,
    DoneReason,
    Error,
    PromptProgress,
    Sampling,
    Token,
)
from tui_chat.core.settings import Settings
from tui_chat.service.events import RequestEvent, ServiceState
from tui_chat.service.llm_service import LlmService, ServiceUnavailableError
from tui_chat.service.recorder import ConversationRecorder
from tui_chat.ui.widgets.chat_input import ChatInput
from tui_chat.ui.widgets.chat_log import ChatLog, UserMessage
from tui_chat.ui.widgets.reply import Reply

SAY_READING_AFTER_SECONDS = 0.5
"""How long the model may read the prompt before the reply says it is doing so."""


@dataclass(slots=True)
class _Exchange:
    """A reply in the making: its place in the conversation and on screen."""

    turn: Turn
    reply: Reply
    error: str = ""
    cancelled: bool = False
    """Esc came while its message was being saved: the model is not asked."""
    shown: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once the reply's widget is on screen: what the model sends waits for it."""
    queued: int = 0
    """Its events posted as messages and not yet handled."""
    replaced: Turn | None = None
    """A reply asked for again: the version it replaces."""


class ChatReplies(Vertical):
    """Sends the person's messages and shows the model's replies; ``ChatView`` adds
    which conversation is open."""

    class ReplyEvent(Message):
        """A token, progress, trim, error or end of one of this view's replies, once
        recorded; it bubbles up to the screen for the status line."""

        def __init__(self, event: RequestEvent) -> None:
            super().__init__()
            self.event = event

    service: LlmService
    recorder: ConversationRecorder
    conversation: Conversation

    def __init__(self, busy_elsewhere: Callable[[], str], *, id: str | None = None) -> None:
        """
        Args:
            busy_elsewhere: Why the model cannot take a chat message now ("" if it can).
            id: The widget id.
        """
        super().__init__(id=id)
        self._busy_elsewhere = busy_elsewhere
        self._exchanges: dict[int, _Exchange] = {}
        self._widgets: dict[int, Widget] = {}  # id(turn) -> its widget in the log
        self.last_reason: DoneReason | None = None
        """How the last reply ended."""
        self._sending = False
        """A message is being sent: saved, shown, its reply not yet asked for."""
        self._unsent: _Exchange | None = None
        """The reply shown while its message is saved, before the model is asked."""
        self.editing: Turn | None = None
        """The message of the conversation that the input's text is to take the place
        of when sent (another version from there on; None: a new message)."""

    @property
    def chat_log(self) -> ChatLog:
        """The conversation on screen."""
        return self.query_one(ChatLog)

    @property
    def replying(self) -> bool:
        """True while a reply is being written or waits for the model."""
        return bool(self._exchanges) or self._sending

    def stop(self) -> None:
        """Stop the reply in progress (the model sends nothing more of it)."""
        if self._unsent is not None:
            self._unsent.cancelled = True  # not asked for yet: it will not be
        if self._exchanges:
            self.service.stop()

    def end_replies(self) -> None:
        """Stop and forget replies in progress, each saved as stopped with what it has."""
        self.stop()
        for exchange in self._exchanges.values():
            exchange.reply.finished = True
            self.recorder.end(exchange.turn, DoneReason.STOPPED)
        self._exchanges.clear()

    # Sending --------------------------------------------------------------------------

    def _cannot_ask(self) -> bool:
        """Say why the model cannot be asked for a reply now, if it cannot."""
        if not self.service.accepts_requests:
            self.notify("The model is not running. Press Ctrl+R to restart it.", severity="error")
            return True
        reason = self._busy_elsewhere()
        if reason:
            self.notify(reason)
            return True
        if self.service.busy or self.replying:
            self.notify("A reply is still being written. Press Esc to stop it first.")
            return True
        return False

    @on(ChatInput.Submitted)
    async def send(self, message: ChatInput.Submitted) -> None:
        """Send what the person wrote, unless it is empty or the model cannot take it."""
        text = message.text
        if not text.strip() or self._cannot_ask():
            return
        edits, self.editing = self.editing, None
        if edits is not None and edits not in self.conversation.turns:
            edits = None  # another conversation is open
        self._sending = True  # until the reply is asked for: a second Enter waits
        try:
            await self._send(message.text, message.chat_input, edits)
        finally:
            self._sending = False

    async def _send(self, text: str, chat_input: ChatInput, edits: Turn | None = None) -> None:
        conversation = self.conversation
        fork = None
        if edits is not None:  # the message takes the place of ``edits``, and all after it
            fork = conversation.position(edits)
            await self._forget_from(edits)
            conversation.cut(edits)
        user = conversation.add_user(text)
        if edits is not None:
            user.version = user.versions = edits.versions + 1
        turn = conversation.start_reply()
        if self.service.state is ServiceState.READY:
            # On disk before the model sees it (on the store's thread), then to the
            # model, then on screen while the model reads the prompt. The UI's CPU time in
            # that window is taken from the model (two cores, two threads): the widgets
            # were mounted beforehand, and the input is cleared and they are shown in one
            # batch, so that it is one layout and one paint.
            await self.recorder.begin(conversation, user, turn, self._model_name(), fork)
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
            await self.recorder.begin(conversation, user, turn, self._model_name(), fork)
            self._show_versions(user)
        finally:
            self._unsent = None
        if conversation is self.conversation and not exchange.cancelled:
            self._generate(conversation, exchange)
            return
        # Esc, or another conversation, came first: it ends here, saved as stopped.
        self.recorder.end(turn, DoneReason.STOPPED)
        await exchange.reply.finish("", DoneReason.STOPPED)

    async def regenerate(self) -> None:
        """Ask for the last reply again: a new version of it, the one before kept (the
        seed changes, so that a sampling model can say something else)."""
        conversation = self.conversation
        last = conversation.turns[-1] if conversation.turns else None
        if self._cannot_ask():
            return
        if last is None or last.role != "assistant":
            self.notify("There is no reply to ask for again: send a message first.")
            return
        self._sending = True
        try:
            position = conversation.position(last)
            await self._forget_from(last)
            conversation.cut(last)
            turn = conversation.start_reply()
            turn.version = turn.versions = last.versions + 1
            exchange = _Exchange(turn, await self._reply_for(turn), replaced=last)
            exchange.shown.set()
            await self.recorder.begin(conversation, None, turn, self._model_name(), position)
            exchange.reply.versions = (turn.version, turn.versions)
            if conversation is self.conversation:
                settings = self.settings_for(conversation)
                # A seed of 0 is the model's own, a new one each reply; another one is
                # kept, and each version gets the next.
                seed = settings.seed + turn.version - 1 if settings.seed else secrets.randbits(31)
                self._generate(conversation, exchange, replace(settings.sampling, seed=seed))
        finally:
            self._sending = False

    async def continue_reply(self) -> None:
        """Have the last reply go on from where it was cut (at the token limit, by Esc or
        a crash), in the same reply."""
        conversation = self.conversation
        last = conversation.turns[-1] if conversation.turns else None
        if self._cannot_ask():
            return
        if last is None or last.role != "assistant" or not last.status.may_go_on:
            self.notify("Only a reply cut at the token limit or stopped can go on.")
            return
        if self.service.settings.server:
            # The chat API has no way to say "go on": some servers would answer anew.
            self.notify("A reply goes on with the local model only, not through a server.")
            return
        self._sending = True
        try:
            await self._forget_from(last)
            if last.thinking:  # read back, its thinking saved apart: as the model wrote it
                last.parts = [f"<think>\n{last.thinking}\n</think>\n\n{last.text}"]
            last.thinking = None
            exchange = _Exchange(last, await self._reply_for(last))
            exchange.reply.append(last.text)
            exchange.shown.set()
            self.recorder.resume(last)
            self._generate(conversation, exchange, continues=True)
        finally:
            self._sending = False

    async def _reply_for(self, turn: Turn) -> Reply:
        """A reply widget for ``turn`` at the end of the log, to stream into."""
        reply = await self.chat_log.add_reply(self.service.settings.stream_cpu_budget or None)
        reply.hide_thinking = self.chat_log.hide_thinking
        reply.versions = (turn.version, turn.versions)
        self._widgets[id(turn)] = reply
        return reply

    def _new_exchange(self, text: str, user: Turn, turn: Turn) -> tuple[_Exchange, Widget]:
        """The widgets of a message and its reply (mounted beforehand), not yet shown."""
        message_widget, reply = self.chat_log.new_exchange(
            text, self.service.settings.stream_cpu_budget or None
        )
        self._widgets[id(user)], self._widgets[id(turn)] = message_widget, reply
        reply.hide_thinking = self.chat_log.hide_thinking
        self._show_versions(user)
        return _Exchange(turn, reply), message_widget

    def _show_versions(self, user: Turn) -> None:
        widget = self._widgets.get(id(user))
        if isinstance(widget, UserMessage) and widget.versions != (user.version, user.versions):
            widget.set_versions(user.version, user.versions)

    async def _forget_from(self, turn: Turn) -> None:
        """Take ``turn`` and everything after it off the screen (another version of the
        conversation begins there)."""
        widget = self._widgets.get(id(turn))
        turns = self.conversation.turns
        for later in turns[turns.index(turn) :]:
            self._widgets.pop(id(later), None)
        if widget is not None:
            self._removed(await self.chat_log.remove_from(widget))

    def _removed(self, widgets: list[Widget]) -> None:
        """``widgets`` left the log (``ChatView`` forgets what it read back of them)."""

    async def _show(self, exchange: _Exchange, message: Widget, chat_input: ChatInput) -> None:
        """Empty the input and show the message and its reply, in one layout."""
        with self.app.batch_update():
            try:
                chat_input.clear()
                await self.chat_log.show_exchange(message, exchange.reply)
            finally:
                exchange.shown.set()

    def _model_name(self) -> str:
        model = self.service.model
        return model.name if model else self.service.settings.model.stem

    def _generate(
        self,
        conversation: Conversation,
        exchange: _Exchange,
        sampling: Sampling | None = None,
        *,
        continues: bool = False,
    ) -> None:
        """Ask for the reply (with ``continues``, for more of it); what the model sends
        is recorded, then comes here."""
        turn = exchange.turn
        messages = conversation.messages_for(turn)
        if continues:
            messages.append(ChatMessage("assistant", turn.text))
        own = self.settings_for(conversation)
        try:
            request_id = self.service.generate(
                messages,
                max_tokens=own.max_tokens,
                sampling=sampling or own.sampling,
                keep=conversation.kept,
                continues=continues,
                listener=self.recorder.listen(conversation, turn, partial(self._heard, exchange)),
            )
        except ServiceUnavailableError as e:  # it stopped while the message was saved
            self.recorder.end(turn, DoneReason.ERROR)
            self.run_worker(exchange.reply.finish("", DoneReason.ERROR, f"Not sent: {e}."))
            return
        self._exchanges[request_id] = exchange

    # Replies --------------------------------------------------------------------------

    def _heard(self, exchange: _Exchange, event: RequestEvent) -> None:
        """Take an event of ``exchange`` as the worker's pipe delivers it: the text of a
        reply under way goes straight to it (a message per update, bubbling to the
        screen, cost as much as drawing the text); the rest, and text while earlier
        events wait in the queue, goes as a message, in order."""
        if (
            isinstance(event, Token)
            and not exchange.queued
            and exchange.shown.is_set()
            and exchange.reply.shown_chars  # the first text went by message: status line
        ):
            exchange.reply.append(event.text)
            return
        exchange.queued += 1
        self.post_message(self.ReplyEvent(event))

    async def on_chat_replies_reply_event(self, message: ReplyEvent) -> None:
        exchange = self._exchanges.get(message.event.request_id or -1)
        try:
            await self.handle(message.event)
        finally:
            if exchange is not None:
                exchange.queued -= 1

    async def handle(self, event: RequestEvent) -> None:
        """Show a token, progress, trim, error or end of one of this view's replies."""
        exchange = self._exchanges.get(event.request_id or -1)
        if exchange is None:
            return
        await exchange.shown.wait()
        match event:
            case Token(text=text):
                exchange.reply.append(text)
            case PromptProgress(done=done, total=total):
                if done < total:
                    exchange.reply.show_progress(
                        f"reading the prompt: {done} of {total} tokens (Esc stops)"
                    )
            case ContextTrimmed():
                await self._mark_memory_start()
            case Error(message=message):
                exchange.error = message
            case Done(reason=reason):
                del self._exchanges[event.request_id]
                self.last_reason = reason
                thought = event.usage.thinking_tokens if event.usage else 0
                await exchange.reply.finish(exchange.turn.text, reason, exchange.error, thought)
                self.chat_log.prepare()  # the model is idle: ready the next exchange
                self.screen.refresh_bindings()
                if exchange.replaced is not None:
                    self._same_as_before(exchange.turn, exchange.replaced)

    def settings_for(self, conversation: Conversation) -> Settings:
        """The settings a conversation's replies are written with: the defaults, and
        its own where it has them."""
        return self.service.settings.with_values(conversation.settings)

    def _same_as_before(self, turn: Turn, before: Turn) -> None:
        """Say so when a reply asked for again came out as the one it replaced."""
        if turn.told_apart().answer != before.told_apart().answer or not turn.text:
            return
        said = f"Version {turn.version} came out the same as version {before.version}."
        if self.settings_for(self.conversation).sampling.temperature == 0:
            said = (
                f"{said[:-1]}: at temperature 0 the model always picks its likeliest words. "
                "Raise the temperature (F3) for another reply."
            )
        self.notify(said, timeout=8)

    async def _mark_memory_start(self) -> None:
        """Put the marker where the model's memory of this conversation begins."""
        conversation = self.conversation
        at = conversation.context_start - conversation.first
        turns = conversation.turns
        first = (
            self._widgets.get(id(turns[at]))
            if conversation.context_start > 0 and 0 <= at < len(turns)
            else None
        )
        await self.chat_log.mark_memory_start(first)
