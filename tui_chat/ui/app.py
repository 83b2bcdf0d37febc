"""The Textual application: wires the chat screen to the model service."""

from __future__ import annotations

from collections.abc import Iterable

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from tui_chat.core.paths import UserPaths
from tui_chat.core.settings import Settings
from tui_chat.service.events import ServiceEvent
from tui_chat.service.llm_service import LlmService
from tui_chat.ui.chat_screen import ChatScreen
from tui_chat.ui.messages import ServiceMessage


class ChatApp(App[None]):
    """tui-chat: chat with a language model that runs on this machine."""

    CSS_PATH = "app.tcss"
    TITLE = "tui-chat"
    BINDINGS = [  # noqa: RUF012 (Textual's own declaration style)
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding("f1", "help", "Keys"),
    ]

    def __init__(self, settings: Settings, paths: UserPaths) -> None:
        super().__init__()
        self.settings = settings
        self.paths = paths
        self.service = LlmService(settings, paths.worker_log, self._deliver)
        self.chat = ChatScreen(self.service)

    def get_default_screen(self) -> Screen[None]:
        return self.chat

    def on_ready(self) -> None:
        # After the first frame: the screen paints and takes typing while the model loads.
        self.service.start()

    def _deliver(self, event: ServiceEvent) -> None:
        self.chat.post_message(ServiceMessage(event))

    async def action_quit(self) -> None:
        """Shut the worker down, then leave."""
        await self.service.close()
        self.exit()

    def action_help(self) -> None:
        """Show or hide the panel that lists the keys."""
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    async def on_unmount(self) -> None:
        await self.service.close()

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand(
            "Stop reply", "Stop the reply being written (Esc)", self.chat.action_stop
        )
        yield SystemCommand(
            "Clear chat", "Forget the conversation (Ctrl+L)", self.chat.action_clear
        )
        yield SystemCommand(
            "Restart model", "Start a fresh model worker (Ctrl+R)", self.chat.action_retry
        )
