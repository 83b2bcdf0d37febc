"""The Chat view: the conversation log and the message editor."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message

from tui_chat.core.conversation import Conversation, Turn, TurnStatus
from tui_chat.core.protocol import Done, DoneReason, Error, PromptProgress, Token
from tui_chat.service.events import RequestEvent, ServiceState
from tui_chat.service.llm_service import LlmService
from tui_chat.ui.widgets.chat_input import ChatInput
from tui_chat.ui.widgets.chat_log import ChatLog, Reply


@dataclass(slots=True)
class _Exchange:
    """A reply in the making: its place in the conversation and on screen."""

    turn: Turn
    reply: Reply
    error: str = ""
    stopping: bool = False
    """Esc was pressed: tokens still on their way are not shown."""


class ChatView(Vertical):
    """Where the person chats with the model."""

    BINDINGS = [  # noqa: RUF012 (Textual's own declaration style)
        Binding("ctrl+l", "clear", "Clear chat"),
    ]

    def __init__(
        self,
        service: LlmService,
        busy_elsewhere: Callable[[], str],
        *,
        id: str | None = None,
    ) -> None:
        """
        Args:
            service: The model service.
            busy_elsewhere: Why the model cannot take a chat message now ("" if it can).
            id: The widget id.
        """
        super().__init__(id=id)
        self.service = service
        self._busy_elsewhere = busy_elsewhere
        self.conversation = Conversation()
        self._exchanges: dict[int, _Exchange] = {}
        self.last_reason: DoneReason | None = None
        """How the last reply ended."""

    def compose(self) -> ComposeResult:
        yield ChatLog(id="log")
        yield ChatInput(id="input")

    class Cleared(Message):
        """The chat was cleared."""

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
        return bool(self._exchanges)

    def stop(self) -> None:
        """Stop the reply in progress: nothing more of it is shown."""
        if not self._exchanges:
            return
        for exchange in self._exchanges.values():
            exchange.stopping = True
        self.service.stop()

    async def action_clear(self) -> None:
        """Clear the log and the model's context (Ctrl+L)."""
        if self._exchanges:
            self.stop()
        self.service.clear_context()
        for exchange in self._exchanges.values():
            exchange.reply.finished = True
        self._exchanges.clear()
        self.conversation.clear()
        self.last_reason = None
        await self.chat_log.clear()
        self.post_message(self.Cleared())
        self.notify("Chat cleared. The model has forgotten it.", timeout=3)

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
        if self.service.busy or self._exchanges:
            self.notify("A reply is still being written. Press Esc to stop it first.")
            return
        message.chat_input.clear()
        self.conversation.add_user(text)
        await self.chat_log.add_user(text)
        turn = self.conversation.start_reply()
        reply = await self.chat_log.add_reply()
        request_id = self.service.generate(self.conversation.messages_for(turn))
        self._exchanges[request_id] = _Exchange(turn, reply)
        if self.service.state is ServiceState.LOADING:
            reply.show_progress("waiting for the model to load…")

    async def handle(self, event: RequestEvent) -> None:
        """Take a token, progress, error or end of one of this view's replies."""
        exchange = self._exchanges.get(event.request_id or -1)
        if exchange is None:
            return
        match event:
            case Token(text=text):
                if not exchange.stopping:
                    exchange.turn.parts.append(text)
                    await exchange.reply.append(text)
            case PromptProgress(done=done, total=total):
                if done < total:
                    exchange.reply.show_progress(
                        f"reading the prompt: {done} of {total} tokens (Esc stops)"
                    )
            case Error(message=message):
                exchange.error = message
            case Done(reason=reason):
                del self._exchanges[event.request_id]
                exchange.turn.status = TurnStatus.from_reason(reason)
                self.last_reason = reason
                await exchange.reply.finish(exchange.turn.text, reason, exchange.error)

    async def add_notice(self, text: str, *, kind: str = "info") -> None:
        """Show a notice from tui-chat in the log."""
        await self.chat_log.add_notice(text, kind=kind)
