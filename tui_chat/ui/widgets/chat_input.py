"""The message editor: multi-line, Enter sends, Shift+Enter or Ctrl+J breaks the line."""

from __future__ import annotations

from dataclasses import dataclass

from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets.text_area import EditResult

from tui_chat.core.visible import visible
from tui_chat.ui.widgets.literal_text_area import LiteralTextArea

LARGE_PASTE_CHARS = 20_000
"""A paste this long is held aside and shown as a one-line placeholder: a TextArea
re-wraps its whole text on every key, which takes seconds for a megabyte."""


class ChatInput(LiteralTextArea):
    """A TextArea that sends on Enter.

    Textual's ``Input`` keeps only the first line of a paste; a ``TextArea`` keeps all
    of it, which is what pasting a text to translate or discuss needs.
    """

    # Shown in the footer. The keys themselves are handled in ``_on_key``, in order with
    # the typing before them: a binding would run on the app's queue and could submit
    # before the last typed characters have reached the text.
    BINDINGS = [  # noqa: RUF012 (Textual's own declaration style)
        # The placeholder says that Enter sends: the footer keeps its room for the rest.
        Binding("enter", "submit", "Send", show=False),
        Binding("shift+enter", "newline", "New line", show=False),
        Binding("ctrl+j", "newline", "New line", show=False),
        # Copying is what a terminal user expects of Ctrl+C; not worth a place in the footer.
        Binding("ctrl+c", "copy", "Copy", show=False),
    ]
    NEWLINE_KEYS = frozenset({"shift+enter", "ctrl+j"})

    @dataclass
    class Submitted(Message):
        """The person asked to send what they wrote."""

        chat_input: ChatInput
        """The input that was submitted."""
        text: str
        """The text, exactly as written."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(
            id=id,
            soft_wrap=True,
            tab_behavior="focus",
            show_line_numbers=False,
            compact=True,
            placeholder="Message (Enter sends, Shift+Enter or Ctrl+J for a new line)",
        )
        # A blinking cursor repaints the screen twice a second: CPU taken from the model.
        self.cursor_blink = False
        self._held: dict[str, str] = {}
        """Big pastes, by the placeholder that stands for each in the text."""
        self._pastes = 0

    @dataclass
    class HistoryAsked(Message):
        """↑ on the first line of an empty input (or of a message recalled and not
        changed), ↓ on the last line of one recalled: the message sent before or after."""

        chat_input: ChatInput
        step: int
        """-1: an older message; +1: a newer one (after the newest: the input empties)."""

    recalled: str | None = None
    """The text of the message recalled from the history, as it was put in (None: the
    person writes their own)."""

    def recall(self, text: str | None, title: str = "") -> None:
        """Put a message sent before in (None: empty the input), the cursor at its end,
        ``title`` on the border (what Enter will do with it)."""
        self.recalled = text
        self.load_text(text or "")
        self.move_cursor(self.document.end)
        self.border_title = title

    def _on_key(self, event: events.Key) -> None:
        # Textual calls TextArea's own handler next, unless the default is prevented here.
        recalled = self.recalled is not None and self.text == self.recalled
        if event.key == "up" and self.cursor_location[0] == 0 and (recalled or not self.text):
            event.stop()
            event.prevent_default()
            self.post_message(self.HistoryAsked(self, -1))
        elif (
            event.key == "down"
            and recalled
            and self.cursor_location[0] == self.document.line_count - 1
        ):
            event.stop()
            event.prevent_default()
            self.post_message(self.HistoryAsked(self, 1))
        elif event.key == "enter":
            event.stop()
            event.prevent_default()
            self.action_submit()
        elif event.key in self.NEWLINE_KEYS:
            event.stop()
            event.prevent_default()
            self.action_newline()

    def _on_paste(self, event: events.Paste) -> None:
        # Textual runs this before the handlers of LiteralTextArea and TextArea (which
        # inserts event.text): a big paste is held aside and only its placeholder goes in.
        if len(event.text) < LARGE_PASTE_CHARS:
            return
        text = visible(event.text)
        self._pastes += 1
        lines = text.count("\n") + 1
        placeholder = f"[pasted text #{self._pastes}: {lines:,} lines, {len(text):,} characters]"
        self._held[placeholder] = text
        event.text = placeholder

    @property
    def full_text(self) -> str:
        """The text with every big paste's placeholder replaced by what was pasted."""
        text = self.text
        for placeholder, pasted in self._held.items():
            text = text.replace(placeholder, pasted)
        return text

    def clear(self) -> EditResult:
        """Empty the input, and forget the big pastes it held and what was recalled."""
        self._held.clear()
        self.recalled, self.border_title = None, ""
        return super().clear()

    def action_submit(self) -> None:
        """Post the text; the screen decides whether it is sent and clears the input."""
        self.post_message(self.Submitted(self, self.full_text))

    def action_copy(self) -> None:
        """Copy the selection; with nothing selected, say how to quit (people try Ctrl+C)."""
        if self.selected_text:
            super().action_copy()
        else:
            self.app.action_help_quit()

    def action_newline(self) -> None:
        """Insert a line break at the cursor."""
        self.insert("\n")
