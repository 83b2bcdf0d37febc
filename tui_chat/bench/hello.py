"""A bare Textual app: the start-up time tui-chat is compared with."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Static


class Hello(App[None]):
    """One line of text and nothing else; Ctrl+Q quits (Textual's default)."""

    def compose(self) -> ComposeResult:
        yield Static("Hello from Textual")


if __name__ == "__main__":
    Hello().run()
