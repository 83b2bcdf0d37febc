"""A one-line header naming the views, the open one highlighted.

Lighter than Textual's TabbedContent (a tab bar, an underline and a switcher, all in the
first frame), and the views are switched with a key anyway.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Static

VIEWS = (("chat", "Chat"), ("translate", "Translate"))


class ViewTabs(Static):
    """``Chat  Translate   Ctrl+T switches``, the open view in bold."""

    DEFAULT_CSS = """
    ViewTabs { height: 1; padding: 0 1; background: $panel; }
    """

    active: reactive[str] = reactive("chat")
    """The view that is open."""

    class Chosen(Message):
        """A view name was clicked."""

        def __init__(self, view: str) -> None:
            super().__init__()
            self.view = view

    def render(self) -> Text:
        line = Text()
        for view, label in VIEWS:
            style = "bold reverse" if view == self.active else "dim"
            line.append(f" {label} ", style=style)
            line.append(" ")
        line.append("  Ctrl+T switches", style="dim")
        return line

    def on_click(self, event: events.Click) -> None:
        offset = 0
        for view, label in VIEWS:
            width = len(label) + 3
            if offset <= event.x - 1 < offset + width:
                self.post_message(self.Chosen(view))
                return
            offset += width
