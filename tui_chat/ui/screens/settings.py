"""The settings screen: edits the common settings and writes the settings file back."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Footer, Input, Label, TextArea

from tui_chat.core import config
from tui_chat.core.models import ModelFileError, check_model_file
from tui_chat.core.options import OPTIONS, SCREEN_ORDER
from tui_chat.core.settings import Settings
from tui_chat.ui.literal import literal

OWN = "conversation-"
"""Prefix of the ids of the open conversation's fields."""


@dataclass(frozen=True, slots=True)
class Chosen:
    """What the settings screen was saved with."""

    saved: dict[str, config.Value]
    """The settings file's values, as written."""
    conversation: dict[str, config.Value]
    """The open conversation's fields (its system prompt and ``CONVERSATION_KEYS``), as
    the person left them."""


class SettingsScreen(ModalScreen[Chosen | None]):
    """Shows the open conversation's own settings and the defaults in use; Ctrl+S saves
    the defaults to the file (and the conversation's with it), Esc leaves unchanged.

    Dismisses with what was saved, or None.
    """

    BINDINGS = [  # noqa: RUF012 (Textual's own declaration style)
        Binding("ctrl+s", "save", "Save", priority=True),
        Binding("escape", "cancel", "Cancel"),
        Binding("f4", "pick_model", "Models"),
    ]

    def __init__(
        self, settings: Settings, path: Path, conversation: dict[str, config.Value]
    ) -> None:
        """
        Args:
            settings: The settings in use.
            path: The settings file.
            conversation: The open conversation's system prompt and settings in effect.
        """
        super().__init__(classes="dialog-screen")
        self._settings = settings
        self._path = path
        self._conversation = conversation

    def compose(self) -> ComposeResult:
        values = self._settings.values()
        with VerticalScroll(classes="dialog", id="settings"):
            yield Label("Settings", classes="dialog-title")
            # Under the title, where it is seen however far down the person has scrolled.
            problem = Label("", id="settings-problem")
            problem.display = False
            yield problem
            yield Label("This conversation, from its next message on", classes="dialog-section")
            for key, value in self._conversation.items():
                yield from _field(key, value, OWN)
            yield Label(
                literal(f"Defaults, for new conversations: saved in {self._path}"),
                classes="dialog-section",
            )
            for key in SCREEN_ORDER:
                yield from _field(key, values[key])
            with Horizontal(classes="buttons"):
                yield Button("Save (Ctrl+S)", id="save", variant="primary")
                yield Button("Cancel (Esc)", id="cancel")
        yield Footer()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        else:
            self.action_cancel()

    def action_pick_model(self) -> None:
        """List the models on this machine; the one chosen goes into the model field."""
        from tui_chat.ui.screens.models import ModelsScreen

        def chosen(path: Path | None) -> None:
            if path is not None:
                self.query_one("#model", Input).value = str(path)
                self.query_one("#server", Input).value = ""  # the file, not a server

        field = self.query_one("#model", Input).value.strip()
        try:
            current = Path(field).expanduser() if field else None
        except RuntimeError:  # ~someone who has no home here
            current = Path(field)
        self.app.push_screen(ModelsScreen(current, self._settings.model_dirs), chosen)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_save(self) -> None:
        """Check every field, merge into the file (keeping its other keys), write it."""
        try:
            current = config.load(self._path)
            in_use = self._settings.values()
            # Only what the person changed, or what the file already says, is written:
            # the file should not pin, say, the bundled model's path by accident.
            changed = {
                key: value
                for key, value in self._edited(SCREEN_ORDER).items()
                if key in current or value != in_use[key]
            }
            values = {**current, **changed}
            if "model" in changed:
                check_model_file(Path(str(changed["model"])).expanduser())
            conversation = self._edited(self._conversation, OWN)
            config.save(self._path, values)
        except config.ConfigError as e:
            # Nothing was written: the file is named only when it is what failed.
            problem = str(e).removeprefix(f"{self._path}: ")
            if problem.startswith("cannot be"):
                problem = f"{self._path} {problem}"
            self._say_problem(problem)
            return
        except (ModelFileError, ValueError) as e:
            self._say_problem(str(e))
            return
        self.dismiss(Chosen(values, conversation))

    def _say_problem(self, problem: str) -> None:
        label = self.query_one("#settings-problem", Label)
        label.update(literal(f"Not saved: {problem}", style="bold red"))
        label.display = True
        self.query_one("#settings", VerticalScroll).scroll_home(animate=False)

    def _edited(self, keys: Iterable[str], prefix: str = "") -> dict[str, config.Value]:
        edited: dict[str, config.Value] = {}
        for key in keys:
            option = OPTIONS[key]
            if option.multiline:
                edited[key] = self.query_one(f"#{prefix}{key}", TextArea).text
                continue
            raw = self.query_one(f"#{prefix}{key}", Input).value.strip()
            where = "This conversation: " if prefix else ""
            try:
                edited[key] = option.kind(raw)
            except ValueError:
                what = {int: "a whole number", float: "a number"}.get(option.kind, "valid")
                raise ValueError(f"{where}{option.label}: {raw!r} is not {what}") from None
            if prefix and (problem := option.check(edited[key])):
                raise ValueError(f"{where}{option.label}: {problem}, got {raw}")
        return edited


def _field(key: str, value: config.Value, prefix: str = "") -> Iterator[Widget]:
    """A setting's label and the field that edits it."""
    option = OPTIONS[key]
    own_prompt = prefix and key == "system_prompt"  # the default's label says "for new ones"
    yield Label("System prompt (empty: the model's own)" if own_prompt else option.label)
    if option.multiline:
        yield TextArea(str(value), id=f"{prefix}{key}", soft_wrap=True, classes=key)
    else:
        yield Input(str(value), id=f"{prefix}{key}")
