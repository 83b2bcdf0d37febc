"""F4 (and F4 in F3): the GGUF models already on this machine (``core.model_files``);
typing filters them, Enter chooses one."""

from __future__ import annotations

import asyncio
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, OptionList
from textual.widgets.option_list import Option

from tui_chat.core.model_files import FoundModel, find_models, size_said
from tui_chat.core.visible import visible


def model_line(model: FoundModel, current: Path | None = None) -> Text:
    """A model as the list shows it: name, then quantization, size, context and where."""
    header = model.header
    line = Text(visible(model.name))
    facts = [header.quantization or "?", size_said(model.size)]
    if header.context_length:
        facts.append(f"{header.context_length:,} context")
    if not header.chat_template:
        facts.append("no chat template")
    line.append(f"  {' · '.join(facts)}  ({model.source})", style="dim")
    if current is not None and model.path == current:
        line.append("  ← loaded now", style="bold")
    return line


class ModelsScreen(ModalScreen[Path | None]):
    """The models found on disk; Enter returns the highlighted one's path."""

    BINDINGS = [  # noqa: RUF012 (Textual's own declaration style)
        Binding("escape", "dismiss(None)", "Close"),
        Binding("enter", "choose", "Load", priority=True),
        Binding("up", "move('cursor_up')", show=False, priority=True),
        Binding("down", "move('cursor_down')", show=False, priority=True),
        Binding("pageup", "move('page_up')", show=False, priority=True),
        Binding("pagedown", "move('page_down')", show=False, priority=True),
    ]

    def __init__(self, current: Path | None, model_dirs: str = "") -> None:
        """
        Args:
            current: The model loaded now (marked in the list).
            model_dirs: More folders to look in (the ``model_dirs`` setting).
        """
        super().__init__(classes="dialog-screen")
        self._current = current
        self._dirs = model_dirs
        self._models: list[FoundModel] | None = None
        self._shown: list[FoundModel] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="models"):
            yield Label("Models on this machine", classes="dialog-title")
            yield Input(placeholder="Type to filter by name, quantization or where")
            yield OptionList(id="model-list")
        yield Footer()

    def on_mount(self) -> None:
        self.options.can_focus = False  # typing goes to the filter; arrows move the list
        self.query_one(Input).focus()
        self.options.add_option(Option(Text("Looking for models…", style="dim"), disabled=True))
        self._scan()

    @property
    def options(self) -> OptionList:
        """The list widget."""
        return self.query_one(OptionList)

    @work(exclusive=True, exit_on_error=False)
    async def _scan(self) -> None:
        # Reading the headers is file work: off the event loop.
        try:
            self._models = await asyncio.to_thread(find_models, model_dirs=self._dirs)
        except Exception as e:  # a folder or file that cannot be read: said, not a crash
            self._models = []
            self.notify(f"Could not look for models: {e}", severity="error", markup=False)
        self._show()

    def _show(self) -> None:
        if self._models is None:
            return
        words = self.query_one(Input).value.lower().split()
        self._shown = [
            m
            for m in self._models
            if all(w in f"{m.name} {m.header.quantization} {m.source}".lower() for w in words)
        ]
        options = self.options
        options.clear_options()
        if not self._shown:
            said = (
                "No model matches the filter."
                if self._models
                else "No GGUF models found (tui-chat models --where lists where it looks)."
            )
            options.add_option(Option(Text(said, style="dim"), disabled=True))
            return
        options.add_options([Option(model_line(m, self._current)) for m in self._shown])
        paths = [m.path for m in self._shown]
        options.highlighted = paths.index(self._current) if self._current in paths else 0

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._show()

    def action_move(self, how: str) -> None:
        """Move the highlight (the list never takes the focus from the filter)."""
        getattr(self.options, f"action_{how}")()

    def action_choose(self) -> None:
        """Choose the highlighted model."""
        index = self.options.highlighted
        if index is not None and index < len(self._shown):
            self.dismiss(self._shown[index].path)
