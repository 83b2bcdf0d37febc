"""Small modal dialogs: ask for a line of text, ask for a yes or no, save to a file."""

from __future__ import annotations

import time
from pathlib import Path

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

from tui_chat.service.store_worker import StoreWorker
from tui_chat.ui.literal import literal


class AskText(ModalScreen[str | None]):
    """Asks for one line of text; Enter accepts, Esc cancels (None)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]  # noqa: RUF012

    def __init__(self, question: str, value: str = "") -> None:
        super().__init__(classes="dialog-screen")
        self._question = question
        self._value = value

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(literal(self._question))
            yield Input(self._value, id="answer")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class Confirm(ModalScreen[bool]):
    """Asks a yes-or-no question; Y or the Yes button confirms, N or Esc refuses."""

    BINDINGS = [  # noqa: RUF012
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__(classes="dialog-screen")
        self._question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(literal(self._question))
            with Horizontal(classes="buttons"):
                yield Button("Yes (y)", id="yes", variant="error")
                yield Button("No (n)", id="no", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


def free_name(path: Path) -> Path:
    """``path``, or the first of ``NAME-2.EXT``, ``NAME-3.EXT``, … that does not exist."""
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate


async def save_to_file(app: App[object], text: str, suggestion: Path, what: str) -> Path | None:
    """Ask where to save ``text`` (offering ``suggestion``, or a free name beside it) and
    write it there, never over an existing file.

    Must run in a worker (it waits for the dialog). Returns the path written, if any.
    """
    answer = await app.push_screen_wait(
        AskText(f"Save {what} to (Enter saves, Esc cancels):", str(free_name(suggestion)))
    )
    if not answer or not answer.strip():
        return None
    path = Path(answer.strip()).expanduser()
    try:
        with path.open("x", encoding="utf-8") as f:
            f.write(text)
    except FileExistsError:
        app.notify(f"{path} exists already; nothing was saved.", severity="error", markup=False)
    except OSError as e:
        app.notify(f"Could not save to {path}: {e.strerror or e}", severity="error", markup=False)
    else:
        app.notify(f"Saved to {path}", markup=False)
        return path
    return None


async def export_markdown(
    app: App[object], store: StoreWorker, conversation_id: int | None
) -> None:
    """Save a conversation to a Markdown file the person names (Ctrl+S in the chat)."""
    if conversation_id is None:
        app.notify("There is nothing to save yet.")
        return
    stored, aside = await store.call(
        lambda s: (s.load(conversation_id), s.versions(conversation_id))
    )
    if stored is None:
        app.notify("This conversation is not in the store.", severity="error")
        return
    from tui_chat.core.export import to_markdown

    suggestion = Path.cwd() / f"conversation-{stored.info.id}-{time.strftime('%Y%m%d')}.md"
    await save_to_file(app, to_markdown(stored, aside=aside), suggestion, "the conversation")
