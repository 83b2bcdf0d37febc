"""A banner at the top of the screen for what blocks the chat (crash breaker, bad model)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class Banner(Static):
    """Hidden until there is something the person must know and act on."""

    DEFAULT_CSS = """
    Banner {
        display: none;
        background: $error;
        color: $text;
        padding: 0 1;
        height: auto;
        dock: top;
    }
    Banner.-shown { display: block; }
    """

    def show(self, message: str) -> None:
        """Show ``message`` (literal text, never markup)."""
        self.update(Text(message))
        self.add_class("-shown")

    def hide(self) -> None:
        """Take the banner away."""
        self.remove_class("-shown")
        self.update("")

    @property
    def shown(self) -> bool:
        """True while the banner is visible."""
        return self.has_class("-shown")
