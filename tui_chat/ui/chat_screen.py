"""The chat screen: the log, the input, the status line and the banner."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer

from tui_chat.core.conversation import Conversation, Turn, TurnStatus
from tui_chat.core.protocol import (
    Done,
    DoneReason,
    Error,
    ErrorKind,
    LoadProgress,
    ModelLoaded,
    PromptProgress,
    Token,
)
from tui_chat.service.events import ServiceState, StateChanged, WorkerCrashed
from tui_chat.service.llm_service import LlmService
from tui_chat.ui.messages import ServiceMessage
from tui_chat.ui.widgets.banner import Banner
from tui_chat.ui.widgets.chat_input import ChatInput
from tui_chat.ui.widgets.chat_log import ChatLog, Reply
from tui_chat.ui.widgets.status_line import StatusLine

STATE_LABELS: dict[ServiceState, str] = {
    ServiceState.LOADING: "loading model…",
    ServiceState.READY: "ready",
    ServiceState.GENERATING: "generating",
    ServiceState.BROKEN: "crashed",
    ServiceState.LOAD_FAILED: "load failed",
    ServiceState.CLOSED: "closed",
}


@dataclass(slots=True)
class _Exchange:
    """A reply in the making: its place in the conversation and on screen."""

    turn: Turn
    reply: Reply
    error: str = ""
    stopping: bool = False
    """Esc was pressed: tokens still on their way are not shown."""


class ChatScreen(Screen[None]):
    """Where the person chats with the model."""

    BINDINGS = [  # noqa: RUF012 (Textual's own declaration style)
        Binding("escape", "stop", "Stop reply", priority=True),
        Binding("ctrl+l", "clear", "Clear chat", priority=True),
        Binding("ctrl+r", "retry", "Restart model", priority=True),
    ]

    def __init__(self, service: LlmService) -> None:
        super().__init__()
        self.service = service
        self.conversation = Conversation()
        self._exchanges: dict[int, _Exchange] = {}
        self._ended_stopped = False

    def compose(self) -> ComposeResult:
        yield Banner(id="banner")
        yield ChatLog(id="log")
        yield ChatInput(id="input")
        yield StatusLine(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(ChatInput).focus()

    @property
    def chat_log(self) -> ChatLog:
        """The conversation on screen."""
        return self.query_one(ChatLog)

    @property
    def status(self) -> StatusLine:
        """The status line."""
        return self.query_one(StatusLine)

    @property
    def banner(self) -> Banner:
        """The banner for the crash breaker and load errors."""
        return self.query_one(Banner)

    # Keys -----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Show "Restart model" only when there is something to restart."""
        if action == "retry":
            return self.service.state in (ServiceState.BROKEN, ServiceState.LOAD_FAILED)
        return True

    def action_stop(self) -> None:
        """Stop the reply in progress (Esc)."""
        for exchange in self._exchanges.values():
            exchange.stopping = True
        self.service.stop()

    async def action_clear(self) -> None:
        """Clear the log and the model's context (Ctrl+L)."""
        self.service.clear_context()
        for exchange in self._exchanges.values():
            exchange.reply.finished = True
        self._exchanges.clear()
        self.conversation.clear()
        await self.chat_log.clear()
        self._ended_stopped = False
        self.status.usage = None
        self._show_state(self.service.state)
        self.notify("Chat cleared. The model has forgotten it.", timeout=3)

    def action_retry(self) -> None:
        """Close the crash breaker and start a fresh worker (Ctrl+R)."""
        if self.service.state not in (ServiceState.BROKEN, ServiceState.LOAD_FAILED):
            return
        self.banner.hide()
        self.service.retry()
        self.refresh_bindings()

    # Sending --------------------------------------------------------------------------

    @on(ChatInput.Submitted)
    async def send(self, message: ChatInput.Submitted) -> None:
        """Send what the person wrote, unless it is empty or the model cannot take it."""
        text = message.text
        if not text.strip():
            return
        if not self.service.accepts_requests:
            self.notify(
                "The model is not running. Press Ctrl+R to restart it.",
                severity="error",
            )
            return
        if self.service.busy:
            self.notify("A reply is still being written. Press Esc to stop it first.")
            return
        message.chat_input.clear()
        self.conversation.add_user(text)
        await self.chat_log.add_user(text)
        turn = self.conversation.start_reply()
        reply = await self.chat_log.add_reply()
        request_id = self.service.generate(self.conversation.messages_for(turn))
        self._exchanges[request_id] = _Exchange(turn, reply)
        self._ended_stopped = False
        if self.service.state is ServiceState.LOADING:
            reply.show_progress("waiting for the model to load…")

    # Service events -------------------------------------------------------------------

    async def on_service_message(self, message: ServiceMessage) -> None:
        event = message.event
        match event:
            case Token(request_id=rid, text=text):
                exchange = self._exchanges.get(rid)
                if exchange is not None and not exchange.stopping:
                    if not exchange.turn.parts:
                        self.status.state = "generating"
                    exchange.turn.parts.append(text)
                    await exchange.reply.append(text)
            case PromptProgress(request_id=rid, done=done, total=total):
                exchange = self._exchanges.get(rid)
                if exchange is not None and done < total:
                    label = f"reading prompt: {done} of {total} tokens"
                    self.status.state = label
                    exchange.reply.show_progress(label + " (Esc stops)")
            case Done(request_id=rid):
                await self._finish(event)
            case Error():
                await self._on_error(event)
            case LoadProgress(fraction=fraction):
                self.status.state = f"loading model {fraction:.0%}"
            case ModelLoaded(name=name):
                self.status.model_name = name
                self.banner.hide()
                self.refresh_bindings()
            case StateChanged(state=state):
                self._show_state(state)
                self.refresh_bindings()
            case WorkerCrashed():
                await self.chat_log.add_notice(event.notice, kind="error")
                if not event.restarting:
                    self.banner.show(
                        f"{event.notice} Press Ctrl+R to restart it, or Ctrl+Q to quit."
                    )

    async def _finish(self, done: Done) -> None:
        exchange = self._exchanges.pop(done.request_id, None)
        if exchange is None:
            return
        exchange.turn.status = TurnStatus.from_reason(done.reason)
        await exchange.reply.finish(exchange.turn.text, done.reason, exchange.error)
        self._ended_stopped = done.reason is DoneReason.STOPPED
        if done.reason is not DoneReason.ERROR:
            self.status.usage = done.usage
        self._show_state(self.service.state)

    async def _on_error(self, error: Error) -> None:
        if error.kind is ErrorKind.LOAD:
            self.banner.show(
                f"Could not load the model. {error.message} "
                "Press Ctrl+R to try again, or Ctrl+Q to quit."
            )
            return
        exchange = self._exchanges.get(error.request_id or -1)
        if exchange is not None:
            exchange.error = error.message
        else:
            await self.chat_log.add_notice(error.message, kind="error")

    def _show_state(self, state: ServiceState) -> None:
        label = STATE_LABELS[state]
        if state is ServiceState.READY and self._ended_stopped:
            label = "stopped"
        self.status.state = label
