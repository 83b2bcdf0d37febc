"""The message editor: multi-line, Enter sends, Shift+Enter or Ctrl+J breaks the line."""

from __future__ import annotations

from dataclasses import dataclass

from textual import events
from textual.binding import Binding
from textual.message import Message

from tui_chat.ui.widgets.literal_text_area import LiteralTextArea


class ChatInput(LiteralTextArea):
    """A TextArea that sends on Enter.

    Textual's ``Input`` keeps only the first line of a paste; a ``TextArea`` keeps all
    of it, which is what pasting a text to translate or discuss needs.
    """

    # Shown in the footer. The keys themselves are handled in ``_on_key``, in order with
    # the typing before them: a binding would run on the app's queue and could submit
    # before the last typed characters have reached the text.
    BINDINGS = [  # noqa: RUF012 (Textual's own declaration style)
        Binding("enter", "submit", "Send"),
        Binding("shift+enter", "newline", "New line", show=False),
        Binding("ctrl+j", "newline", "New line", show=False),
        Binding("ctrl+c", "copy", "Copy"),
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

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            self.action_submit()
        elif event.key in self.NEWLINE_KEYS:
            event.stop()
            event.prevent_default()
            self.action_newline()
        else:
            await super()._on_key(event)

    def action_submit(self) -> None:
        """Post the text; the screen decides whether it is sent and clears the input."""
        self.post_message(self.Submitted(self, self.text))

    def action_copy(self) -> None:
        """Copy the selection; with nothing selected, say how to quit (people try Ctrl+C)."""
        if self.selected_text:
            super().action_copy()
        else:
            self.app.action_help_quit()

    def action_newline(self) -> None:
        """Insert a line break at the cursor."""
        self.insert("\n")
