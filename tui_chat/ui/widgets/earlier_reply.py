"""A reply read back from the store as the person scrolls up: one widget, drawn by Rich.

A streamed ``Reply`` is a widget per Markdown block (Textual's Markdown), a dozen or more
for a reply with a list and some code; building and laying out a page of them costs most
of a second on two cores. A finished reply never changes, so one widget that renders its
Markdown whole does: a page then takes a few tens of milliseconds.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.segment import Segment
from textual.widgets import Static

from tui_chat.core.visible import visible
from tui_chat.ui.literal import literal
from tui_chat.ui.textual_compat import SizedOnce

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.markdown import Markdown as RichMarkdown
    from textual.geometry import Size


@functools.cache
def _markdown_class() -> type[RichMarkdown]:
    """Rich's Markdown drawn as Textual draws a streamed reply: headings to the left, a
    single line break kept (as ``chat_markdown_parser`` does), numbers of a list with
    their dot, tables boxed across the width."""
    from rich import box
    from rich.markdown import Heading, ListItem, Markdown, TableElement
    from rich.segment import Segment
    from rich.table import Table

    class LeftHeading(Heading):
        LEVEL_ALIGN = {}  # noqa: RUF012 (Rich's own declaration): every level to the left

    class DottedItem(ListItem):
        def render_number(
            self, console: Console, options: ConsoleOptions, number: int, last_number: int
        ) -> RenderResult:
            width = len(str(last_number)) + 3
            style = console.get_style("markdown.item.number", default="none")
            lines = console.render_lines(
                self.elements, options.update(width=options.max_width - width), style=self.style
            )
            for n, line in enumerate(lines):
                yield Segment(f"{number}. ".rjust(width) if n == 0 else " " * width, style)
                yield from line
                yield Segment("\n")

    class BoxedTable(TableElement):
        def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
            table = Table(box=box.SQUARE, expand=True, style="markdown.table.border")
            if self.header is not None and self.header.row is not None:
                for cell in self.header.row.cells:
                    heading = cell.content.copy()
                    heading.stylize("markdown.table.header")
                    table.add_column(heading)
            if self.body is not None:
                for row in self.body.rows:
                    table.add_row(*(cell.content for cell in row.cells))
            yield table

    class ChatRichMarkdown(Markdown):
        elements = {  # noqa: RUF012 (Rich's own declaration)
            **Markdown.elements,
            "heading_open": LeftHeading,
            "list_item_open": DottedItem,
            "table_open": BoxedTable,
        }

        def __init__(self, markup: str) -> None:
            super().__init__(markup, hyperlinks=False)
            for token in self.parsed:
                for child in token.children or ():
                    if child.type == "softbreak":
                        child.type = "hardbreak"

    return ChatRichMarkdown


class _Lines:
    """Lines Rich has rendered, given back as they are."""

    def __init__(self, lines: list[list[Segment]]) -> None:
        self.lines = lines

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        new_line = Segment.line()
        for line in self.lines:
            yield from line
            yield new_line


class EarlierReply(SizedOnce, Static):
    """A finished reply of the model, and how it ended if not by itself.

    Rich renders the Markdown once per width, for the layout's height and the screen
    alike (Textual would render it for each). Out of the layout (folded away while the
    person reads elsewhere) it keeps its text alone: a thousand replies read back would
    otherwise hold millions of rendered pieces, which each full pass of Python's garbage
    collector walks (150 ms pauses)."""

    DEFAULT_CSS = """
    EarlierReply { padding: 0 1; }
    """

    def __init__(self, text: str, ending: str) -> None:
        """
        Args:
            text: The reply's Markdown.
            ending: How it ended, in words ("" when it finished by itself).
        """
        super().__init__(classes="assistant")
        self._text = text
        self._ending = ending
        self._rendered: tuple[int, _Lines] | None = None

    @property
    def content(self) -> RenderableType:
        """The reply as Rich draws it: its Markdown, then how it ended."""
        parts: list[RenderableType] = [_markdown_class()(visible(self._text))] if self._text else []
        if self._ending:
            parts.append(literal(f"[{self._ending}]", style="yellow"))
        return Group(*parts)

    def render_at(self, width: int) -> None:
        """Render the reply for a content ``width`` now, ahead of its layout."""
        self._lines(width)

    def _lines(self, width: int) -> _Lines:
        if self._rendered is None or self._rendered[0] != width:
            options = self.app.console_options.update_width(max(1, width)).update(highlight=False)
            lines = self.app.console.render_lines(self.content, options, pad=False)
            self._rendered = (width, _Lines(lines))
        return self._rendered[1]

    def on_hide(self) -> None:
        self._rendered = None  # rendered again if it comes back into the layout

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._lines(width).lines)

    def render(self) -> RenderableType:
        return self._lines(self.content_region.width)
