"""A reply read back from the store as the person scrolls up: one widget, drawn by Rich
as a streamed reply is (``markdown_lines``), rendered whole once per width."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console, ConsoleOptions, RenderResult
from rich.segment import Segment
from rich.style import Style
from textual.widgets import Static

from tui_chat.core.visible import visible
from tui_chat.ui.literal import literal
from tui_chat.ui.textual_compat import SizedOnce
from tui_chat.ui.widgets.markdown_lines import open_clicked_link, render_markdown
from tui_chat.ui.widgets.thought import fold_line, folded
from tui_chat.ui.widgets.versions import act_on_click, version_line

THOUGHT_STYLE = Style(dim=True, italic=True)
"""The thinking of a reply read back (a streaming one takes the theme's muted colour)."""

if TYPE_CHECKING:
    from rich.console import RenderableType
    from textual.events import Click
    from textual.geometry import Size
    from textual.selection import Selection


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

    def __init__(
        self, text: str, ending: str, thinking: str = "", versions: tuple[int, int] = (1, 1)
    ) -> None:
        """
        Args:
            text: The reply's Markdown (its answer).
            ending: How it ended, in words ("" when it finished by itself).
            thinking: What a reasoning model thought first ("" if it did not).
            versions: (its number, how many) among the versions that begin with it.
        """
        super().__init__(classes="assistant")
        self.versions = versions
        self._text = text
        self._ending = ending
        self._thinking = thinking.strip()
        self.thought_shown = False
        """The thinking is unfolded (a click on its line)."""
        self._rendered: tuple[int, _Lines] | None = None

    @property
    def source(self) -> str:
        """The reply's Markdown (its answer)."""
        return self._text

    @property
    def thinking_line(self) -> str:
        """The folded thinking's line, as shown ("" when there is none)."""
        if not self._thinking:
            return ""
        return fold_line("Thought first", self.thought_shown)

    def render_at(self, width: int) -> None:
        """Render the reply for a content ``width`` now, ahead of its layout."""
        self._lines(width)

    def _lines(self, width: int) -> _Lines:
        if self._rendered is None or self._rendered[0] != width:
            console = self.app.console
            options = self.app.console_options.update_width(max(1, width)).update(highlight=False)
            text = visible(self._text)
            lines = self._thinking_lines(console, options)
            lines += [list(line) for line in render_markdown(console, options, text)]
            if self._ending:
                ending = literal(f"[{self._ending}]", style="yellow")
                lines += console.render_lines(ending, options, pad=False)
            if line := version_line(*self.versions):
                lines += console.render_lines(literal(line, style="dim"), options, pad=False)
            self._rendered = (width, _Lines(lines))
        return self._rendered[1]

    def _thinking_lines(self, console: Console, options: ConsoleOptions) -> list[list[Segment]]:
        head = self.thinking_line
        if not head:
            return []
        text = folded(head, visible(self._thinking), self.thought_shown, THOUGHT_STYLE)
        return [*console.render_lines(text, options, pad=False), []]

    def on_hide(self) -> None:
        self._rendered = None  # rendered again if it comes back into the layout

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._lines(width).lines)

    def render(self) -> RenderableType:
        return self._lines(self.content_region.width)

    def get_selection(self, selection: Selection) -> tuple[str, str] | None:
        """The reply's selected text, as it is shown."""
        lines = self._lines(self.content_region.width).lines
        text = "\n".join("".join(segment.text for segment in line).rstrip() for line in lines)
        return selection.extract(text), "\n"

    def on_click(self, event: Click) -> None:
        if self.thinking_line and event.y == 0:
            self.toggle_thought()
            return
        last = len(self._lines(self.content_region.width).lines) - 1
        if not act_on_click(self, event, self.versions, last):
            open_clicked_link(self, event)

    def toggle_thought(self) -> None:
        """Unfold the thinking, or fold it again."""
        self.thought_shown = not self.thought_shown
        self._rendered = None
        self.refresh(layout=True)
