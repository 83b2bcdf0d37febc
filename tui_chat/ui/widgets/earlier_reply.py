"""A reply read back from the store as the person scrolls up: one widget, drawn by Rich.

A streamed ``Reply`` is a widget per Markdown block (Textual's Markdown), a dozen or more
for a reply with a list and some code; building and laying out a page of them costs most
of a second on two cores. A finished reply never changes, so one widget that renders its
Markdown whole does: a page then takes a few tens of milliseconds.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from rich.console import Group
from textual.widgets import Static

from tui_chat.core.visible import visible
from tui_chat.ui.literal import literal
from tui_chat.ui.textual_compat import SizedOnce

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.markdown import Markdown as RichMarkdown


@functools.cache
def _markdown_class() -> type[RichMarkdown]:
    """Rich's Markdown as the chat shows replies: headings to the left, and a single
    line break kept (as ``chat_markdown_parser`` does for streamed replies)."""
    from rich.markdown import Heading, Markdown

    class LeftHeading(Heading):
        LEVEL_ALIGN = {}  # noqa: RUF012 (Rich's own declaration): every level to the left

    class ChatRichMarkdown(Markdown):
        elements = {**Markdown.elements, "heading_open": LeftHeading}  # noqa: RUF012

        def __init__(self, markup: str) -> None:
            super().__init__(markup, hyperlinks=False)
            for token in self.parsed:
                for child in token.children or ():
                    if child.type == "softbreak":
                        child.type = "hardbreak"

    return ChatRichMarkdown


class EarlierReply(SizedOnce, Static):
    """A finished reply of the model, and how it ended if not by itself."""

    DEFAULT_CSS = """
    EarlierReply { padding: 0 1; }
    """

    def __init__(self, text: str, ending: str) -> None:
        """
        Args:
            text: The reply's Markdown.
            ending: How it ended, in words ("" when it finished by itself).
        """
        parts: list[RenderableType] = [_markdown_class()(visible(text))] if text else []
        if ending:
            parts.append(literal(f"[{ending}]", style="yellow"))
        super().__init__(Group(*parts), classes="assistant")
