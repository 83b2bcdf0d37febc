"""Text shown exactly as written: never read as markup, never a terminal control."""

from __future__ import annotations

from rich.text import Text

from tui_chat.core.visible import visible


def literal(text: str, style: str = "") -> Text:
    """``text`` as a Rich ``Text``: markup stays literal, control characters visible."""
    return Text(visible(text), style=style)
