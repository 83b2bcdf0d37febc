"""The main screen: banner, the Chat and Translate views, status line and footer."""

from __future__ import annotations

import gc
from collections.abc import Awaitable, Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widget import MountError
from textual.widgets import ContentSwitcher, Footer

from tui_chat.core import config
from tui_chat.core.options import SCREEN_ORDER
from tui_chat.core.protocol import (
    Done,
    DoneReason,
    Error,
    ErrorKind,
    LoadModel,
    LoadProgress,
    ModelLoaded,
    PromptProgress,
    Token,
)
from tui_chat.core.settings import Settings
from tui_chat.service.events import (
    ServerBack,
    ServiceState,
    StateChanged,
    WorkerCrashed,
)
from tui_chat.service.llm_service import LlmService
from tui_chat.service.store_worker import StoreWorker
from tui_chat.ui.chat_replies import ChatReplies
from tui_chat.ui.chat_view import ChatView
from tui_chat.ui.messages import ServiceMessage, StoreFailed
from tui_chat.ui.textual_compat import draw_changed_rows_only
from tui_chat.ui.widgets.banner import Banner
from tui_chat.ui.widgets.status_line import StatusLine
from tui_chat.ui.widgets.view_tabs import ViewTabs

if TYPE_CHECKING:
    # Imported where used: neither is needed for the first frame.
    from tui_chat.ui.translate_view import TranslateView

STATE_LABELS: dict[ServiceState, str] = {
    ServiceState.LOADING: "loading model…",
    ServiceState.READY: "ready",
    ServiceState.GENERATING: "generating",
    ServiceState.BROKEN: "crashed",
    ServiceState.LOAD_FAILED: "load failed",
    ServiceState.CLOSED: "closed",
}


class MainScreen(Screen[None]):
    """Chat and Translate side by side in tabs, over one model service."""

    AUTO_FOCUS = "#input"
    """Straight to the input: focus given to the log first and then moved restyles both."""
    BINDINGS = [  # noqa: RUF012 (Textual's own declaration style)
        Binding("escape", "stop", "Stop", priority=True),
        # Ctrl+T itself is bound in each view, so that the footer names the other one.
        Binding("ctrl+t", "switch_view", show=False),
        Binding("ctrl+r", "retry", "Restart", priority=True),
        Binding("f3", "settings", "Settings"),
        Binding("f4", "models", "Models"),
    ]

    def __init__(
        self,
        service: LlmService,
        store: StoreWorker,
        settings: Settings,
        config_file: Path,
        before_first_frame: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """``before_first_frame`` runs once the screen is built, before it is first
        drawn (the frame waits for it)."""
        super().__init__()
        draw_changed_rows_only(self)
        self._before_first_frame = before_first_frame
        self.service = service
        self._config_file = config_file
        self._showing_retry = False
        self._server_gone = False
        """The breaker opened because the server could not be reached."""
        self._settings = settings
        self.chat = ChatView(service, store, self._why_chat_must_wait, id="chat-view")

    @cached_property
    def translate(self) -> TranslateView:
        """The Translate view: built (and its modules imported) after the first frame."""
        from tui_chat.ui.translate_view import TranslateView

        settings = self._settings
        return TranslateView(
            self.service,
            settings.translation_template,
            self._why_translation_must_wait,
            settings.translation_language,
            chunk_tokens=settings.translation_chunk_tokens,
            id="translate-view",
        )

    def compose(self) -> ComposeResult:
        # The first frame holds what is needed to start typing; the Translate view and
        # the footer follow a frame later (together they would delay the first frame).
        yield Banner(id="banner")
        yield ViewTabs(id="tabs")
        with ContentSwitcher(initial="chat-view", id="views"):
            yield self.chat
        yield StatusLine(id="status")

    async def on_mount(self) -> None:
        if self.service.settings.server:  # until it names its model
            self.status.model_name = f"server {urlsplit(self.service.settings.server).netloc}"
        self.call_after_refresh(self._complete)
        if self._before_first_frame is not None:
            await self._before_first_frame()

    async def _complete(self) -> None:
        """Mount the rest of the screen after the first frame."""
        try:
            # ContentSwitcher hides only the children it starts with; a later one is hidden here.
            self.translate.display = False
            await self.query_one(ContentSwitcher).mount(self.translate)
            # Compact, and the palette's key in F1: the keys of the view fit in 100 columns.
            await self.mount(Footer(compact=True, show_command_palette=False))
            self.refresh_bindings()  # a footer draws its keys once told they changed
        except (MountError, NoMatches):
            return  # the app closed before its second frame
        # What start-up built lives as long as the app: taking it out of the garbage
        # collector's view makes its full collections, which pause the screen while a
        # reply streams, several times shorter. Collection was off until now (``cli``).
        gc.freeze()
        gc.enable()

    @property
    def status(self) -> StatusLine:
        """The status line."""
        return self.query_one(StatusLine)

    @property
    def banner(self) -> Banner:
        """The banner for the crash breaker and load errors."""
        return self.query_one(Banner)

    def _why_chat_must_wait(self) -> str:
        if self.translate.running:
            return "A translation is running. Press Esc to stop it, or wait for it to finish."
        return ""

    def _why_translation_must_wait(self) -> str:
        if self.chat.replying:
            return "A chat reply is being written. Press Esc to stop it first."
        return ""

    # Keys -----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Show "Restart model" only when there is something to restart."""
        if action == "retry":
            return self.service.state in (ServiceState.BROKEN, ServiceState.LOAD_FAILED)
        return True

    def action_stop(self) -> None:
        """Stop whatever the model is writing (Esc): a chat reply or a translation; with
        nothing to stop, leave a message recalled into the chat's input."""
        running = self.chat.replying or ("translate" in self.__dict__ and self.translate.running)
        if not running and self.current_view == "chat" and self.chat.leave_recalled():
            return
        self.translate.stop()
        self.chat.stop()

    @property
    def current_view(self) -> str:
        """``chat`` or ``translate``."""
        return self.query_one(ViewTabs).active

    def action_switch_view(self) -> None:
        """Go from Chat to Translate and back (Ctrl+T)."""
        self.show_view("translate" if self.current_view == "chat" else "chat")

    def show_view(self, view: str) -> None:
        """Open the Chat or the Translate view."""
        if view == "translate" and not self.translate.is_attached:
            return  # not mounted yet (the first frame is still being drawn)
        self.query_one(ContentSwitcher).current = f"{view}-view"
        self.query_one(ViewTabs).active = view
        if view == "translate":
            self.translate.source.focus()
        else:
            self.chat.input.focus()

    def on_view_tabs_chosen(self, message: ViewTabs.Chosen) -> None:
        self.show_view(message.view)

    @work
    async def action_settings(self) -> None:
        """Edit the settings (F3). Sampling, reply length and system prompt apply at once;
        another model file, context size or thread count loads the model again."""
        from tui_chat.ui.screens.settings import SettingsScreen

        shown = self.chat.own_settings()
        chosen_ = await self.app.push_screen_wait(
            SettingsScreen(self.service.settings, self._config_file, shown)
        )
        if chosen_ is None:
            return
        saved = chosen_.saved
        current = self.service.settings
        # Only what the screen shows: a key the file holds besides may be overridden by an
        # option for this session.
        chosen = current.with_values({k: v for k, v in saved.items() if k in SCREEN_ORDER})
        language = str(saved.get("translation_language", current.translation_language))
        later = (
            " The translation language takes effect at the next start."
            if language != current.translation_language
            else ""
        )
        own = self.chat.set_own_settings(shown, chosen_.conversation, chosen)
        if _worker_settings(chosen) == _worker_settings(current):
            self.service.settings = chosen
            self.notify(f"Saved to {self._config_file}.{own}{later}", timeout=6, markup=False)
            return
        self.banner.hide()
        loading = (
            f"Connecting to {chosen.server}" if chosen.server else f"Loading {chosen.model.name}"
        )
        # The path and the address are a person's text: shown as written, never as markup.
        self.notify(f"Saved to {self._config_file}.{own} {loading}…{later}", markup=False)
        await self.service.reload(chosen)

    @work
    async def action_models(self) -> None:
        """List the models on this machine (F4); the one chosen is loaded and kept as the
        settings file's model."""
        from tui_chat.ui.screens.models import ModelsScreen

        current = self.service.settings
        path = await self.app.push_screen_wait(
            ModelsScreen(None if current.server else current.model, current.model_dirs)
        )
        if path is None or (path == current.model and not current.server):
            return
        try:
            values = config.load(self._config_file)
            values["model"] = str(path)
            if values.get("server"):
                values["server"] = ""  # the file now, not the server
            config.save(self._config_file, values)
            saved = f" Saved to {self._config_file}."
        except config.ConfigError as e:
            saved = f" Not saved as the default: {e}"
        self.banner.hide()
        # The path is a person's text: shown as written, never as markup.
        self.notify(f"Loading {path.name}…{saved}", markup=False)
        await self.service.reload(current.with_values({"model": str(path), "server": ""}))

    def action_retry(self) -> None:
        """Close the crash breaker and start a fresh worker (Ctrl+R)."""
        if self.service.state not in (ServiceState.BROKEN, ServiceState.LOAD_FAILED):
            return
        self.banner.hide()
        self.service.retry()

    def on_chat_view_cleared(self) -> None:
        self.status.usage = None
        self.status.context_tokens = None
        self.status.context_over = False
        self._show_state(self.service.state)

    def on_chat_view_context_used(self, message: ChatView.ContextUsed) -> None:
        self.status.context_tokens = message.tokens
        self.status.context_over = message.over
        model = self.service.model
        self.status.estimated = bool(model and model.estimated)

    def on_store_failed(self, message: StoreFailed) -> None:
        # Its own line: "store" says what went wrong opening the store, and stays.
        self.banner.show(message.text, key="saving")

    def on_store_recovered(self) -> None:
        self.banner.hide(key="saving")

    # Service events -------------------------------------------------------------------

    async def on_service_message(self, message: ServiceMessage) -> None:
        event = message.event
        match event:
            case Error(kind=ErrorKind.LOAD):
                self.banner.show(
                    f"Could not load the model. {event.message} "
                    "Press F3 to choose another model, Ctrl+R to try again, or Ctrl+Q to quit."
                )
            case Error():
                await self.chat.add_notice(event.message, kind="error")
            case LoadProgress(fraction=fraction):
                self.status.state = f"loading model {fraction:.0%}"
            case ModelLoaded(
                name=name, n_ctx=n_ctx, estimated=estimated, placement=placement, note=note
            ):
                self.status.model_name = name
                self.status.placement = placement
                if note:
                    await self.chat.add_notice(note)
                self.status.n_ctx = n_ctx
                self.status.estimated = estimated
                self.banner.hide()
            case StateChanged(state=state):
                if state is ServiceState.LOADING and self._server_gone:
                    # Trying the server again (a message sent, or it answers again).
                    self._server_gone = False
                    self.banner.hide()
                self._show_state(state)
                # Redrawing the footer is dear in CPU: only when its keys change.
                broken = state in (ServiceState.BROKEN, ServiceState.LOAD_FAILED)
                if broken != self._showing_retry:
                    self._showing_retry = broken
                    self.refresh_bindings()
            case ServerBack():
                await self.chat.add_notice(event.notice)
            case WorkerCrashed():
                self._server_gone = event.server and not event.restarting
                await self.chat.add_notice(event.notice, kind="error")
                if not event.restarting:
                    self.banner.show(
                        f"{event.notice} Press Ctrl+R to try again, or Ctrl+Q to quit."
                    )

    def on_chat_replies_reply_event(self, message: ChatReplies.ReplyEvent) -> None:
        """The status line follows the chat's replies."""
        match message.event:
            case Token():
                if self.status.state != "generating":
                    self.status.state = "generating"
            case PromptProgress(done=done, total=total) if done < total:
                self.status.state = f"reading prompt: {done} of {total} tokens"
            case Done(reason=reason, usage=usage):
                if reason is not DoneReason.ERROR:
                    self.status.usage = usage
                    self.status.estimated = usage.estimated
                if usage.prompt_tokens:
                    self.status.context_tokens = usage.prompt_tokens + usage.completion_tokens
                    self.status.context_over = False
                else:
                    # Cut off before the worker said its counts (a crash, a stop while the
                    # prompt waited): the model counts the conversation again.
                    self.chat.count_context()
                self._show_state(self.service.state)

    def _show_state(self, state: ServiceState) -> None:
        label = STATE_LABELS[state]
        if state is ServiceState.LOADING and self.service.settings.server:
            label = "connecting to the server…"
        elif state is ServiceState.BROKEN and self._server_gone:
            label = "server not reachable"
        if state is ServiceState.READY and self.chat.last_reason is DoneReason.STOPPED:
            label = "stopped"
        self.status.state = label


def _worker_settings(settings: Settings) -> LoadModel:
    """What a worker is started with: a change loads the model again."""
    return settings.load_command()
