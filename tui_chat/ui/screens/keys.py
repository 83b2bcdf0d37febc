"""F1: the keys, the app's own first, by view, then those that edit text.

Textual's own help panel lists the focused widget's bindings, which in a text editor are
forty editing keys before any of the app's; people press F1 to learn the app.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static, TextArea

APP_KEYS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "Everywhere",
        (
            ("Ctrl+T", "switch between the Chat and the Translate view"),
            ("Esc", "stop the reply or the translation; what came so far stays"),
            ("F3", "settings"),
            ("F4", "the models on this machine: typing filters, Enter loads one"),
            ("Ctrl+R", "start the model again after it stopped (said in the banner)"),
            ("Ctrl+P", "command palette"),
            ("F1", "this list (Esc closes it)"),
            ("Ctrl+Q", "quit"),
        ),
    ),
    (
        "Chat",
        (
            ("Enter", "send the message"),
            ("Shift+Enter, Ctrl+J", "new line in the message"),
            ("Up, Down", "in an empty input: what you sent; first your last, to edit (Esc)"),
            ("Ctrl+O", "copy the last reply as Markdown (in the log: the one selected)"),
            ("Ctrl+N, Ctrl+L", "new conversation; the open one stays in the list"),
            ("F2", "the saved conversations"),
            ("Ctrl+G", "ask for the last reply again (the one before is kept)"),
            ("Ctrl+F", "the last reply goes on where it was cut (token limit, Esc)"),
            ("Alt+Left, Alt+Right", "the version before, after; or click ◀ ▶ under it"),
            ("Ctrl+S", "save the conversation as a Markdown file"),
            ("Ctrl+C", "copy the selected text"),
        ),
    ),
    (
        "Chat log (Tab or a click gives it the focus)",
        (
            ("Up, Down", "select the message before, after"),
            ("e", "edit the selected message of yours and send it in its place"),
            ("b", "copy a code block of the selected message (again: the next one)"),
            ("Left, Right", "the version before, after of the selected message"),
            ("Click ⧉ copy", "copy that code block"),
            ("t, click ▸ Thought", "show or hide what a reasoning model thought (or Ctrl+P)"),
        ),
    ),
    (
        "Translate",
        (
            ("Ctrl+G, F5", "translate the text"),
            ("Ctrl+O", "copy the translation"),
            ("Ctrl+S", "save the translation to a file"),
            ("Tab, Shift+Tab", "next, previous field"),
        ),
    ),
    (
        "Saved conversations (F2)",
        (
            ("typing", "filter by title and search every message"),
            ("Up, Down, PageUp, PageDown", "move in the list"),
            ("Enter", "open (a found message: the conversation scrolled to it)"),
            ("Ctrl+E", "rename"),
            ("Ctrl+D", "delete, after asking"),
            ("Ctrl+N", "new conversation"),
            ("Esc", "clear the filter; with none, close the list"),
        ),
    ),
)
"""The app's keys, by where they work: what F1 shows first (a test checks it against the
bindings)."""


def editing_keys(key_display: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """The text editor's keys with their descriptions, as Textual declares them."""
    rows: dict[str, list[str]] = {}
    for binding in TextArea.BINDINGS:
        if not isinstance(binding, Binding) or not binding.description:
            continue
        keys = ", ".join(_key_name(key) for key in binding.key.split(","))
        rows.setdefault(binding.description, []).append(keys)
    return [(", ".join(keys), description.lower()) for description, keys in rows.items()]


def _key_name(key: str) -> str:
    """``ctrl+shift+left`` as a person reads it: ``Ctrl+Shift+Left``."""
    return "+".join(part if len(part) == 1 else part.capitalize() for part in key.split("+"))


class KeysScreen(ModalScreen[None]):
    """The list of keys; Esc, F1 or q closes it."""

    BINDINGS = [  # noqa: RUF012 (Textual's own declaration style)
        Binding("escape,f1,q", "close", "Close"),
    ]

    def __init__(self) -> None:
        super().__init__(classes="dialog-screen")

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog keys"):
            for title, rows in (*APP_KEYS, ("Editing text", tuple(editing_keys()))):
                yield Static(_table(title, rows), name=title)

    def action_close(self) -> None:
        """Close the list."""
        self.dismiss(None)


def _table(title: str, rows: tuple[tuple[str, str], ...]) -> Table:
    table = Table(
        title=Text(title, style="bold"),
        title_justify="left",
        show_header=False,
        box=None,
        padding=(0, 2, 0, 0),
    )
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for key, what in rows:
        table.add_row(Text(key), Text(what))
    return table
