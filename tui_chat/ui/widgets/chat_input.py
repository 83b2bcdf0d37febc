"""The message editor: multi-line, Enter sends, Shift+Enter or Ctrl+J breaks the line."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding
from textual.message import Message
from textual.widgets import TextArea


class ChatInput(TextArea):
    """A TextArea that sends on Enter.

    Textual's ``Input`` keeps only the first line of a paste; a ``TextArea`` keeps all
    of it, which is what pasting a text to translate or discuss needs.
    """

    BINDINGS = [  # noqa: RUF012 (Textual's own declaration style)
        Binding("enter", "submit", "Send", priority=True),
        Binding("shift+enter", "newline", "New line", priority=True),
        Binding("ctrl+j", "newline", "New line", show=False, priority=True),
    ]

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

    def action_submit(self) -> None:
        """Post the text; the screen decides whether it is sent and clears the input."""
        self.post_message(self.Submitted(self, self.text))

    def action_newline(self) -> None:
        """Insert a line break at the cursor."""
        self.insert("\n")
