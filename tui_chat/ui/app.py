"""The Textual application: wires the main screen to the model service."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from textual import events, work
from textual.app import SystemCommand
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.screen import Screen

from tui_chat.core import config
from tui_chat.core.paths import UserPaths
from tui_chat.core.settings import Settings
from tui_chat.core.visible import visible
from tui_chat.service.events import ServiceEvent
from tui_chat.service.llm_service import LlmService
from tui_chat.service.store_worker import StoreWorker
from tui_chat.ui import paste_parser
from tui_chat.ui.main_screen import MainScreen
from tui_chat.ui.messages import ServiceMessage, StoreFailed
from tui_chat.ui.textual_compat import QuietFailure

log = logging.getLogger(__name__)

ENDING_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
"""Signals that end the app as Ctrl+Q does (SIGHUP: the terminal window was closed)."""
EXIT_WAIT_SECONDS = 1.0
"""After a signal, how long the app's own exit may take once its worker and store are
closed, before the process ends without it."""


class ChatApp(QuietFailure):
    """tui-chat: chat with a language model that runs on this machine."""

    CSS_PATH = "app.tcss"
    TITLE = "tui-chat"
    BINDINGS = [  # noqa: RUF012 (Textual's own declaration style)
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding("f1", "help", "Keys"),
    ]

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """A toast. Its text is never markup and never a terminal control: notices name
        files, conversations and errors, which carry what people and models wrote. The
        same toast is not shown again while it is still on screen (Enter pressed three
        times during a reply says so once)."""
        message, title = visible(message), visible(title)
        now = time.monotonic()
        if self._toasts.get((title, message), 0.0) > now:
            return
        self._toasts[(title, message)] = now + (
            self.NOTIFICATION_TIMEOUT if timeout is None else timeout
        )
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    def __init__(
        self,
        settings: Settings,
        paths: UserPaths,
        *,
        open_conversation: int | None = None,
        store_path: Path | None = None,
        log_problem: str = "",
    ) -> None:
        """
        Args:
            settings: Model, sampling and the other settings.
            paths: Where user files go.
            open_conversation: A saved conversation to open at start (0 or None: a new one).
            store_path: The conversation store (default: in the data folder of ``paths``).
            log_problem: Why no log can be written ("" if it can), for the banner.
        """
        paste_parser.install()
        super().__init__()
        self.settings = settings
        self.paths = paths
        self.service = LlmService(settings, paths.worker_log, self._deliver)
        self.store = StoreWorker(store_path or paths.store, self._store_failed)
        self.main = MainScreen(
            self.service,
            self.store,
            settings,
            config.config_path(paths.config),
            before_first_frame=self._show_at_start,
        )
        self._open_at_start = open_conversation
        self._log_problem = log_problem
        self._early_input: list[events.Key | events.Paste] | None = []
        """Keys and pastes that came before the first frame (None once it is drawn)."""
        self._toasts: dict[tuple[str, str], float] = {}
        """When each toast shown leaves the screen (monotonic time), by title and text."""
        self.failure = ""
        """Why the app ended on an error, for the terminal once it is back ("" if not)."""
        self.ended_by: signal.Signals | None = None
        """The signal that ended the app, if one did."""
        self._shown_at_start: bool | None = None
        """Whether the conversation to open at start was found, once it was looked for
        before the first frame (None: it was not)."""

    def internal_error(self, error: BaseException | None) -> None:
        """An exception escaped a handler and the app ends. Its traceback goes to the
        log, not the terminal (it holds the chat's text); ``failure`` says in two lines
        what and where."""
        log.error("the app stopped on an error", exc_info=error)
        what = f"{type(error).__name__}: {error}" if error is not None else "unknown"
        self.bell()
        self.failure = (
            f"tui-chat stopped on an internal error ({visible(what)}).\n"
            f"The details are in {self.paths.app_log}. "
            "tui-chat --continue opens the conversation again."
        )  # the caller prints it: Rich would break the path

    def get_default_screen(self) -> Screen[None]:
        return self.main

    def on_mount(self) -> None:
        if not self.is_headless:
            # A kill, a closed terminal window or a Ctrl+C sent from elsewhere ends the app
            # the way Ctrl+Q does: the terminal is given back as it was, nothing is left.
            loop = asyncio.get_running_loop()
            for sig in ENDING_SIGNALS:
                loop.add_signal_handler(sig, self._end_on_signal, sig)

    async def _show_at_start(self) -> None:
        if self._open_at_start and self.store.is_open:
            # Shown in the first frame (a layout and a paint fewer than after it), when
            # the store answers at once: one still opening (migrating, say) would hold
            # that frame back.
            self._shown_at_start = await self.main.chat.show_stored(self._open_at_start)

    def _end_on_signal(self, sig: signal.Signals) -> None:
        if self.ended_by is None:
            self.ended_by = sig
            self.run_worker(self._quit_on_signal(sig), name="quit on a signal")

    async def _quit_on_signal(self, sig: signal.Signals) -> None:
        await self.action_quit()
        self.store.close_now()
        # Everything is put away. When the terminal is gone (SIGHUP from a closed window),
        # Textual 8.2.8's output thread dies on the failed write and its exit then waits
        # for it for ever: a stuck exit ends the process here instead.
        watchdog = threading.Timer(EXIT_WAIT_SECONDS, os._exit, args=(128 + sig,))
        watchdog.daemon = True
        watchdog.start()

    async def on_event(self, event: events.Event) -> None:
        # What is typed or pasted before the input exists (the first ~0.1 s after launch)
        # has nowhere to go: it is kept and given to the input once it is there.
        early = self._early_input
        if early is not None and isinstance(event, events.Key | events.Paste):
            early.append(event)  # all of them until then: in the order they were typed
            return
        await super().on_event(event)

    def on_ready(self) -> None:
        # After the first frame: the screen paints and takes typing while the model loads.
        early, self._early_input = self._early_input or [], None
        for event in early:  # new events: the old ones went some way through Textual
            if isinstance(event, events.Key):
                self.post_message(events.Key(event.key, event.character))
            else:
                self.post_message(events.Paste(event.text))
        if not self._open_at_start or self._shown_at_start is not None:
            self._start_service()  # the first frame is out, with all it had to show
        self._open_store()

    @work
    async def _open_store(self) -> None:
        try:
            if self._log_problem:
                self.main.banner.show(self._log_problem, key="logs")
            opened = await self.store.opened()
            if opened.problem:
                self.main.banner.show(opened.problem, key="store")
            opening = self._open_at_start
            if not opening:
                return
            shown = self._shown_at_start
            if shown is None:
                shown = await self.main.chat.show_stored(opening)
                # The worker starts once the conversation is on the screen: the start of
                # a process that loads a model takes the CPU that first paint needs.
                await self.main.chat.drawn()
                self._start_service()
            if shown:
                self.main.chat.tell_model()
            else:
                self.notify(f"There is no conversation {opening}.", severity="error")
        finally:
            self._start_service()

    def _start_service(self) -> None:
        if not self.service.started:
            self.service.start()

    def _store_failed(self, message: str) -> None:
        # Called on the store's thread; post_message is safe from there.
        self.main.post_message(StoreFailed(message))

    def _deliver(self, event: ServiceEvent) -> None:
        self.main.post_message(ServiceMessage(event))

    async def action_quit(self) -> None:
        """Stop what is being written (a reply is saved as stopped: the person quit, nothing
        crashed), shut the worker down, then leave (queued saves are finished on the way
        out)."""
        self.main.chat.end_replies()
        await self.service.close()
        self.exit()

    def action_help_quit(self) -> None:
        """Ctrl+C with nothing to copy: say how to quit (Textual's own words are markup)."""
        self.notify("Press Ctrl+Q to quit tui-chat.", title="Quit?")

    def action_help(self) -> None:
        """Show the keys (F1): the app's own by view, then the text editor's."""
        from tui_chat.ui.screens.keys import KeysScreen

        if not isinstance(self.screen, KeysScreen):
            self.push_screen(KeysScreen())

    async def on_unmount(self) -> None:
        await self.service.close()
        self.store.close_now()

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        main, chat, translate = self.main, self.main.chat, self.main.translate
        commands = [
            ("Stop", "Stop the reply or the translation (Esc)", main.action_stop),
            ("Chat / Translate", "Switch views (Ctrl+T)", main.action_switch_view),
            ("New conversation (clear the chat)", "The open one stays in the list (Ctrl+N, Ctrl+L)",
             chat.action_new),
            ("Conversations", "Open, rename or delete saved ones (F2)", chat.action_list),
            ("Save conversation", "As a Markdown file (Ctrl+S)", chat.action_save_markdown),
            ("Ask again", "A new version of the last reply, the one before kept (Ctrl+G)",
             chat.action_regenerate),
            ("Go on with the reply", "The last reply, where it was cut (Ctrl+F)",
             chat.action_continue_reply),
            ("Copy the reply", "The last reply, as Markdown (Ctrl+O)", chat.action_copy_message),
            ("Version before", "Of the newest message with versions (Alt+Left)",
             lambda: chat.action_version(-1)),
            ("Version after", "Of the newest message with versions (Alt+Right)",
             lambda: chat.action_version(1)),
            ("Edit your last message", "Put it back in the input: sent, it takes its place "
             "(Up in an empty input)", chat.action_edit_last),
            ("Translate", "Translate the text in the Translate view (Ctrl+G)",
             translate.action_translate),
            ("Copy translation", "To the clipboard (Ctrl+O)", translate.action_copy_translation),
            ("Save translation", "To a file (Ctrl+S)", translate.action_save_translation),
            ("Restart model", "Start a fresh model worker (Ctrl+R)", main.action_retry),
            ("Settings", "Model, sampling, system prompt… (F3)", main.action_settings),
            ("Show or hide the thinking", "Of the newest reply that thought first (or click its "
             "▸ Thought line)", chat.action_toggle_thinking),
            ("Models", "The models on this machine (F4)", main.action_models),
        ]  # fmt: skip
        for title, help_text, callback in commands:
            yield SystemCommand(title, help_text, callback)
