"""A reply of the model: its Markdown as it streams, and a line that says how it ended
(or what the model does before it starts).

One widget that draws lines (Textual's line API), not a widget per Markdown block: an
update renders the block still being written and repaints the lines it covers; when the
reply did not grow by a line, nothing is laid out again (docs/performance.md).
"""

from __future__ import annotations

from rich.console import Console, ConsoleOptions
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.dom import NoScreen
from textual.geometry import Region, Size
from textual.selection import Selection
from textual.strip import Strip
from textual.widget import Widget

from tui_chat.core.protocol import DoneReason
from tui_chat.core.settings import STREAM_CPU_BUDGET
from tui_chat.core.thinking import ThinkingFilter, split_reply
from tui_chat.core.visible import visible
from tui_chat.ui.batcher import TextBatcher
from tui_chat.ui.literal import literal
from tui_chat.ui.textual_compat import GrowsInPlace, PlainBoxLines, paint_now, style_key
from tui_chat.ui.widgets.markdown_lines import StreamedMarkdown, open_clicked_link
from tui_chat.ui.widgets.thought import fold_line, folded
from tui_chat.ui.widgets.versions import act_on_click, version_line

REPLY_ENDINGS: dict[DoneReason, str] = {
    DoneReason.STOPPED: "stopped",
    DoneReason.LENGTH: "cut off: token limit reached",
    DoneReason.INTERRUPTED: "interrupted: the model worker crashed",
    DoneReason.ERROR: "failed",
}


_BLANK = Strip.blank(0)


def _selected(line: Strip, span: tuple[int, int], style: Style) -> Strip:
    """``line`` with the columns of ``span`` (end -1: to its end) drawn selected."""
    start, end = span
    end = line.cell_length if end == -1 else min(end, line.cell_length)
    if start >= end:
        return line
    middle = Strip(Segment.apply_style(list(line.crop(start, end)), post_style=style))
    return Strip.join([line.crop(0, start), middle, line.crop(end, line.cell_length)])


GROW_STEP_LINES = 8
"""A streaming reply grows by this many lines at a time (blank until written): each new
height lays the screen out again and, in a log kept at its end, scrolls and repaints all
of it, where writing into lines already there repaints those lines only."""


class Reply(GrowsInPlace, Widget):
    """One streamed reply of the model.

    A ``TextBatcher`` gathers tokens so that the screen is updated about ten times a
    second, within the UI's share of the CPU while the model writes.
    """

    COMPONENT_CLASSES = {"reply--ending", "reply--waiting", "reply--thinking"}  # noqa: RUF012 (Textual's own)

    DEFAULT_CSS = """
    Reply { height: auto; padding: 0 1; }
    Reply > .reply--ending { color: $text-warning; }
    Reply > .reply--waiting { color: $text-muted; }
    Reply > .reply--thinking { color: $text-muted; text-style: italic; }
    """

    def __init__(self, cpu_budget: float | None = STREAM_CPU_BUDGET) -> None:
        """
        Args:
            cpu_budget: Share of a core the UI may use while this reply streams (see
                ``TextBatcher``); None updates the screen ten times a second regardless.
        """
        super().__init__(classes="assistant")
        self._markdown = StreamedMarkdown()
        self._note = ""
        """How the reply ended, or what the model does before the first text."""
        self._waiting = False
        """The note says what the model does before the first text."""
        self._lines: list[Strip] = []
        self._width = -1
        """Content width ``_lines`` were rendered for; -1: to render again."""
        self._style: tuple[tuple[int, ...], Style] | None = None
        """The widget's Rich style, and the key of the styles it comes from."""
        self._box = PlainBoxLines()
        self._batcher = TextBatcher(self._write, cpu_budget=cpu_budget)
        self._splitter = ThinkingFilter()
        self._thought = ""
        """What a reasoning model thought before its answer, so far."""
        self._thinking_tokens = 0
        self.thought_shown = False
        """The thinking is unfolded (a click on its line)."""
        self.hide_thinking = False
        """The thinking is not shown at all, not even folded (``show_thinking``)."""
        self.versions = (1, 1)
        """(its number, how many) among the versions that begin with it: shown under
        it once it has ended."""
        self.finished = False
        """True once the reply has ended, however it ended."""
        self.reason: DoneReason | None = None
        """Why it ended, once it is shown whole with its ending."""

    def set_cpu_budget(self, cpu_budget: float | None) -> None:
        """Change the share of a core the UI may use while this reply streams (before
        the first text only)."""
        self._batcher = TextBatcher(self._write, cpu_budget=cpu_budget)

    @property
    def source(self) -> str:
        """The reply's Markdown shown so far."""
        return self._markdown.source

    @property
    def note(self) -> str:
        """The line under the reply as shown: how it ended ("[stopped]"), what the model
        does before it starts, or ""."""
        return self._note if self._waiting or not self._note else f"[{self._note}]"

    @property
    def shown_chars(self) -> int:
        """Characters of the reply handed to the screen so far."""
        return len(self._markdown.source)

    # Drawing ---------------------------------------------------------------------------

    @property
    def thought(self) -> str:
        """What a reasoning model thought before its answer ("" if it did not)."""
        return self._thought.strip()

    @property
    def thinking_line(self) -> str:
        """The folded thinking's line, as shown ("" when there is none to show)."""
        if self.hide_thinking or not (self._splitter.thinking or self._thought):
            return ""
        if not self.finished and not self._splitter.answering:
            what = f"Thinking… ({len(self._thought.split())} words)"
        else:
            tokens = self._thinking_tokens
            what = f"Thought for {tokens} tokens" if tokens else "Thought first"
        return fold_line(what, self.thought_shown)

    def _thinking_lines(self, console: Console, options: ConsoleOptions) -> list[Strip]:
        head = self.thinking_line
        if not head:
            return []
        dim = self.get_component_rich_style("reply--thinking")
        text = folded(head, self.thought, self.thought_shown, dim)
        rendered = console.render_lines(text, options, style=self._rich_style(), pad=False)
        return [*(Strip(line) for line in rendered), _BLANK]

    def _content(self, width: int) -> list[Strip]:
        if width != self._width:
            self._width = width
            console, style = self.app.console, self._rich_style()
            options = self.app.console_options.update_width(max(1, width)).update(highlight=False)
            lines = self._markdown.lines(console, options, style)
            if self._splitter.thinking or self._thought:
                lines = self._thinking_lines(console, options) + lines
            if self._note:
                note = literal(self.note)
                note.stylize(
                    self.get_component_rich_style(
                        "reply--waiting" if self._waiting else "reply--ending"
                    )
                )
                rendered = console.render_lines(note, options, style=style, pad=False)
                lines = lines + [Strip(line) for line in rendered]
            if self.finished and (line := version_line(*self.versions)):
                rendered = console.render_lines(
                    literal(line, style="dim"), options, style=style, pad=False
                )
                lines = lines + [Strip(line) for line in rendered]
            if not self.finished and lines:
                lines = lines + [_BLANK] * (-len(lines) % GROW_STEP_LINES)
            self._lines = lines
        return self._lines

    def _rich_style(self) -> Style:
        key = style_key(self)
        if self._style is None or self._style[0] != key:
            self._style = (key, self.rich_style)
        return self._style[1]

    def render_lines(self, crop: Region) -> list[Strip]:
        return self._box.lines(self, crop) or super().render_lines(crop)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._content(width))

    def render_line(self, y: int) -> Strip:
        # The width of the last layout or update (a resize lays the reply out first).
        lines = self._content(self._width if self._width >= 0 else self.content_size.width)
        line = lines[y] if y < len(lines) else _BLANK
        try:
            selection = self.text_selection
        except NoScreen:  # removed, and drawn once more behind a dialog from a stale map
            selection = None
        if selection is not None and (span := selection.get_span(y)) is not None:
            line = _selected(line, span, self.screen.get_component_rich_style("screen--selection"))
        return line.apply_offsets(0, y)  # where a mouse selection starts and ends

    def get_selection(self, selection: Selection) -> tuple[str, str] | None:
        """The reply's selected text, as it is shown."""
        text = "\n".join(line.text.rstrip() for line in self._content(self.content_size.width))
        return selection.extract(text), "\n"

    def selection_updated(self, selection: Selection | None) -> None:
        self.refresh()

    def _changed(self) -> None:
        """Show what changed: the lines that differ, laid out again only if their number
        did."""
        old, self._width = self._lines, -1
        width = self.content_size.width if self.is_mounted else 0
        if not width:
            self.refresh(layout=True)
            return
        new = self._content(width)
        # The block being written is rendered anew, most of its lines as they were.
        changed = [
            n for n, (a, b) in enumerate(zip(old, new, strict=False)) if a is not b and a != b
        ]
        if len(new) != len(old):
            changed.append(min(len(old), len(new)))
        if not changed:
            return
        if len(new) == len(old):
            top, bottom = changed[0], changed[-1]
            paint_now(self, Region(0, top, width, bottom - top + 1))
            return
        last = max(changed[-1], len(new) - 1)
        self.refresh(Region(0, changed[0], width, last - changed[0] + 1), layout=True)

    def on_resize(self, event: events.Resize) -> None:
        # Textual reuses its arrangement of the log for a size it had before, without
        # asking the reply's height at that width: the lines are for another width.
        if self._width >= 0 and self.content_size.width != self._width:
            self._width = -1
            self.refresh(layout=True)

    def on_click(self, event: events.Click) -> None:
        if self.thinking_line and event.y == 0:
            self.toggle_thought()
            return
        versions = self.versions if self.finished else (1, 1)
        if not act_on_click(self, event, versions, len(self._lines) - 1):
            open_clicked_link(self, event)

    def set_versions(self, version: int, count: int) -> None:
        """Say that it is version ``version`` of ``count`` (under it, once it has ended)."""
        self.versions = (version, count)
        if self.finished:
            self._width = -1
            self.refresh(layout=True)

    def toggle_thought(self) -> None:
        """Unfold the thinking, or fold it again."""
        self.thought_shown = not self.thought_shown
        self._width = -1
        self.refresh(layout=True)

    # Streaming -------------------------------------------------------------------------

    def show_progress(self, message: str) -> None:
        """Say what the model is doing before the first token (loading, reading)."""
        if not self._markdown.source and not self.finished:
            self._note, self._waiting = message, True
            self._changed()

    def append(self, fragment: str) -> None:
        """Add streamed text (shown now, or with the next pieces when the last update
        is too recent)."""
        if not self.finished:
            self._batcher.add(fragment)

    def _write(self, fragment: str) -> None:
        if self.finished:
            return
        if self._waiting:
            self._note, self._waiting = "", False
        thought, answer = self._splitter.split(visible(fragment))
        if thought:
            self._thought += thought
        if answer:
            self._markdown.append(answer)
        self._changed()

    async def finish(
        self, text: str, reason: DoneReason, detail: str = "", thinking_tokens: int = 0
    ) -> None:
        """End the reply: stop streaming, make sure ``text`` is shown whole (its answer,
        the thinking folded above it), say how it ended."""
        if self.finished:
            return
        self._batcher.flush()  # the last pieces go through the stream too
        self.finished = True
        self._batcher.discard()
        self._thinking_tokens = thinking_tokens
        told = split_reply(visible(text))
        if told.thinking:
            self._thought = told.thinking
        if text and told.answer != self._markdown.source:
            # What streamed is not the reply (a crash cut it, say): show the reply.
            self._markdown = StreamedMarkdown()
            self._markdown.append(told.answer)
        self._markdown.finish()
        ending = REPLY_ENDINGS.get(reason)
        if detail and reason is DoneReason.INTERRUPTED:
            ending = f"interrupted: {detail}"  # what broke, instead of "crashed"
        elif detail:
            ending = f"{ending}: {detail}" if ending else detail
        self._note, self._waiting = ending or "", False
        self.reason = reason
        self._changed()
