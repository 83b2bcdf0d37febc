"""A reply's Markdown as lines of the screen, drawn by Rich: whole for a reply read back,
block by block for one that streams.

One renderer for both, so that a streamed reply ends up looking exactly like the same
reply read back. A streaming reply renders each block once, when the next one begins;
only the block still being written is drawn again at each update (a code fence plainly,
without colours, until it is complete: highlighting it again at each update would cost
more than the rest of the update). Rich and markdown-it are imported with the first
reply, not at start-up.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from tui_chat.core.visible import visible
from tui_chat.ui.rich_compat import Wrapped, wrapped_lines

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.rules_core import StateCore
    from markdown_it.token import Token
    from rich.console import Console, ConsoleOptions, RenderableType
    from rich.markdown import Markdown as RichMarkdown
    from textual.events import Click
    from textual.widget import Widget

HREF = "href"
"""Key of the style meta that carries a link's address (a click opens it)."""
CODE = "code"
"""Meta key of a code block's copy line: the code (a click there copies it)."""

LINK_SCHEMES = frozenset({"http", "https", "mailto"})
"""Links in replies that a click opens (in the browser); others are only shown."""


@functools.cache
def markdown_parser() -> MarkdownIt:
    """Rich's own Markdown (CommonMark, tables, strikethrough) in which a single line
    break stays a line break: models write poems, addresses and lists of lines with
    single newlines, which plain Markdown would run together into one paragraph."""
    from markdown_it import MarkdownIt

    parser = MarkdownIt().enable("strikethrough").enable("table")

    def keep_line_breaks(state: StateCore) -> None:
        for token in state.tokens:
            for child in token.children or ():
                if child.type == "softbreak":
                    child.type = "hardbreak"

    parser.core.ruler.push("keep_line_breaks", keep_line_breaks)
    return parser


@functools.cache
def _markdown_class() -> type[RichMarkdown]:
    """Rich's Markdown drawn from tokens already parsed: headings to the left, numbers
    of a list with their dot, tables boxed across the width, code fences highlighted in
    the language they name (plain when they name none: Pygments would otherwise try
    every lexer it has on the code), links clickable."""
    from rich import box
    from rich.console import RenderResult
    from rich.markdown import CodeBlock, Heading, ListItem, Markdown, TableElement
    from rich.syntax import Syntax
    from rich.table import Table
    from rich.text import Text

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

    class NamedCode(CodeBlock):
        plain = False
        """Drawn without colours (a fence still being written)."""

        def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
            code = str(self.text).rstrip()
            lexer = "text" if self.plain else (self.lexer_name or "text")
            if not self.plain:  # a finished block: a line to click to copy it
                name = visible(self.lexer_name or "")[:20] if self.lexer_name != "text" else ""
                copy = Style(dim=True) + Style.from_meta({CODE: code})
                yield Text(f"⧉ copy {name or 'code'}", style=copy)
            yield Syntax(code, lexer, theme=self.theme, word_wrap=True, padding=1)

    class PlainCode(NamedCode):
        plain = True

    class TokensMarkdown(Markdown):
        elements = {  # noqa: RUF012 (Rich's own declaration)
            **Markdown.elements,
            "heading_open": LeftHeading,
            "list_item_open": DottedItem,
            "table_open": BoxedTable,
            "fence": NamedCode,
            "code_block": NamedCode,
        }

        def __init__(self, tokens: list[Token], plain_code: bool = False) -> None:
            # Rich's own __init__ builds a markdown-it parser (~1 ms) for text it parses.
            self.markup, self.parsed = "", tokens
            self.code_theme = self.inline_code_theme = "monokai"
            self.justify, self.style, self.hyperlinks = None, "none", True
            self.inline_code_lexer = None
            if plain_code:
                self.elements = {**self.elements, "fence": PlainCode, "code_block": PlainCode}

    return TokensMarkdown


def _clickable(line: list[Segment]) -> list[Segment]:
    """Links as the terminal never sees them (no OSC 8: a model's address could be
    anything): their address moves into the style's meta, where a click finds it."""
    if not any(style is not None and style.link for _, style, _ in line):
        return line
    clickable: list[Segment] = []
    for text, style, control in line:
        if style is not None and style.link:
            style = style.update_link(None) + Style.from_meta({HREF: style.link})
        clickable.append(Segment(text, style, control))
    return clickable


def render_tokens(
    console: Console,
    options: ConsoleOptions,
    tokens: list[Token],
    style: Style | None = None,
    plain_code: bool = False,
) -> list[Strip]:
    """Markdown tokens as lines of ``options.max_width`` cells (their own length), on a
    base ``style``."""
    if not tokens:
        return []
    renderable: RenderableType = _markdown_class()(tokens, plain_code)
    lines = console.render_lines(renderable, options, style=style, pad=False)
    return [Strip(_clickable(line)) for line in lines]


def render_markdown(
    console: Console, options: ConsoleOptions, text: str, style: Style | None = None
) -> list[Strip]:
    """Markdown ``text`` as lines of ``options.max_width`` cells, on a base ``style``."""
    return render_tokens(console, options, markdown_parser().parse(text), style)


def code_blocks(text: str) -> list[str]:
    """The code of each code block in Markdown ``text``, in order."""
    return [
        t.content.rstrip("\n")
        for t in markdown_parser().parse(text)
        if t.type in ("fence", "code_block")
    ]


def _blocks(tokens: list[Token]) -> list[int]:
    """Indexes of the tokens that begin a top-level block."""
    return [n for n, t in enumerate(tokens) if t.level == 0 and t.nesting >= 0]


class StreamedMarkdown:
    """Markdown that grows at its end, as lines: the blocks before the last are final
    and rendered once, the last is rendered again at each update."""

    def __init__(self) -> None:
        self.source = ""
        """The Markdown so far."""
        self._final_at = 0
        """Where the last block, the one that may still change, begins in ``source``."""
        self._final: list[Strip] = []
        """The blocks before it, rendered."""
        self._blank_after_final = False
        """The last final block is one that Rich follows with an empty line."""
        self._last: list[Strip] = []
        self._width = 0
        self._style: Style | None = None
        self._stale = True
        self._growing: _Growing | None = None
        """The last block, when it is a paragraph of plain text."""
        self._plain_styles: tuple[Style | None, Style | None, bool] | None = None
        """The styles Rich gives a plain paragraph's words and the spaces after them,
        and whether it draws them as one segment (None: not asked yet)."""
        self._plain_by_rich = False
        """Rich draws plain paragraphs too (it draws them otherwise than expected)."""
        self.finished = False
        """The text is complete."""

    def append(self, text: str) -> None:
        """Add text at the end (lines are rendered at the next ``lines``)."""
        if text:
            self.source += text
            self._stale = True

    def finish(self) -> None:
        """The text is complete: its last block is final too."""
        self.finished = self._stale = True

    def lines(self, console: Console, options: ConsoleOptions, style: Style) -> list[Strip]:
        """The Markdown as lines of ``options.max_width`` cells, on a base ``style``."""
        width = options.max_width
        if width != self._width or style != self._style:
            self._width, self._style, self._stale = width, style, True
            self._growing, self._plain_styles, self._plain_by_rich = None, None, False
            self._final = self._render(console, options, self.source[: self._final_at])
        if self._stale:
            self._stale = False
            self._update(console, options)
        return [*self._final, *self._between(self._last), *self._last]

    def _between(self, lines: list[Strip]) -> list[Strip]:
        """The empty line Rich puts between the final blocks and ``lines`` (which begin
        with it already when their first block is a list or a quote: Rich's way)."""
        if self._final and lines and self._blank_after_final and lines[0].cell_length:
            return [Strip.blank(0)]
        return []

    def _render(self, console: Console, options: ConsoleOptions, text: str) -> list[Strip]:
        tokens = markdown_parser().parse(text)
        self._blank_after_final = bool(tokens) and tokens[_blocks(tokens)[-1]].type != "hr"
        return render_tokens(console, options, tokens, self._style)

    def _update(self, console: Console, options: ConsoleOptions) -> None:
        growing = self._growing
        text = _extended(growing, self.source) if growing and not self.finished else None
        if text is None:
            tail = self.source[self._final_at :]
            tokens = markdown_parser().parse(tail)
            starts = _blocks(tokens)
            if self.finished and starts:
                starts.append(len(tokens))  # every block is final
            if len(starts) > 1:
                # The blocks before the last one are final: a later block has begun.
                last = starts[-1]
                final = render_tokens(console, options, tokens[:last], self._style)
                self._final.extend(self._between(final))
                self._final.extend(final)
                self._blank_after_final = tokens[starts[-2]].type != "hr"
                self._final_at += (
                    _offset_of_line(tail, tokens[last].map) if last < len(tokens) else len(tail)
                )
                tokens = tokens[last:]
                growing = None  # that was another block
            text = _plain_paragraph(tokens) if not self.finished else None
            if text is None or growing is None or not text.startswith(growing.text):
                self._last = render_tokens(console, options, tokens, self._style, plain_code=True)
                self._growing = (
                    _Growing.after(
                        text,
                        _Growing(text, 0, 0),
                        wrapped_lines(text, self._width),
                        self._last,
                        len(self.source),
                    )
                    if text is not None
                    else None
                )
                return
        assert growing is not None
        # A paragraph of plain text grows at its end: its lines before the last that
        # begins with a word (Rich wraps greedily) stay as they are.
        tail = text[growing.start :]
        wrapped = wrapped_lines(tail, self._width)
        lines = self._plain_lines(console, options, tail, wrapped)
        self._last = [*self._last[: growing.lines_before], *lines]
        self._growing = _Growing.after(text, growing, wrapped, lines, len(self.source))

    def _plain_lines(
        self, console: Console, options: ConsoleOptions, text: str, lines: list[Wrapped]
    ) -> list[Strip]:
        """Lines of a paragraph of plain ``text``, as Rich draws them: Rich's own steps
        for its lines, in the segments and styles Rich gives them (asked once per width
        and style: one segment a line when the words have no style of their own)."""
        if self._plain_styles is None and not self._plain_by_rich:
            sample = _paragraph_lines(console, options.update_width(2), "x", self._style)
            segments = list(sample[0]) if len(sample) == 1 else []
            if [segment.text for segment in segments] in (["x", " "], ["x "]):
                self._plain_styles = (segments[0].style, segments[-1].style, len(segments) == 1)
            self._plain_by_rich = self._plain_styles is None
        if (
            self._plain_styles is None
            or not lines
            or "\t" in text
            or not all(shown for _, shown, _ in lines)
        ):
            # Tabs, and lines without words (Rich styles those otherwise): Rich draws.
            return _paragraph_lines(console, options, text, self._style)
        words, spaces, joined = self._plain_styles
        width = self._width
        if joined:
            return [
                Strip([Segment(shown + " " * (width - cells), words)], width)
                for _, shown, cells in lines
            ]
        return [
            Strip(
                [Segment(shown, words)]
                + [Segment(" " * (width - cells), spaces)] * (cells < width),
                width,
            )
            for _, shown, cells in lines
        ]


@dataclass(frozen=True, slots=True)
class _Growing:
    """The last block, a paragraph of plain text, as last drawn."""

    text: str
    """Its text as Rich shows it."""
    start: int
    """Where in ``text`` the last of its lines that begins with a word begins: those
    before it do not change as the paragraph grows."""
    lines_before: int
    """How many lines come before that one."""
    source_end: int = 0
    """The length of the Markdown source it was drawn from."""

    @classmethod
    def after(
        cls,
        text: str,
        before: _Growing,
        wrapped: list[Wrapped],
        drawn: list[Strip],
        source_end: int,
    ) -> _Growing | None:
        """The paragraph ``text`` (of a source ``source_end`` long) drawn from
        ``before.start`` into the lines ``drawn``, which Rich wraps as ``wrapped``; None
        if those are not the same lines (then it is drawn whole next time)."""
        tail = text[before.start :]
        starts = [start for start, _, _ in wrapped]
        if len(starts) != len(drawn):
            return None
        n = max(n for n, at in enumerate(starts) if at == 0 or tail[at - 1].isspace())
        return cls(text, before.start + starts[n], before.lines_before + n, source_end)


_PLAIN_PUNCTUATION = frozenset(" .,:!?'\"/%$@#=+-")
"""Characters that, added within a line of a paragraph, start no Markdown (CommonMark
without typographer or linkify, as ``markdown_parser``): with letters and digits, the
paragraph stays one of plain text."""
_BLOCK_STARTS = frozenset("#>-+*=_`~|:<[0123456789")
"""First characters of a line that may begin a block (a heading, quote, list, fence,
table row, HTML, setext underline, link definition) once more is written after them."""


def _extended(growing: _Growing, source: str) -> str | None:
    """The text of the paragraph ``growing`` once ``source`` grew by plain words within
    its last line, as markdown-it would parse it; None when what was added could be
    Markdown (then the source is parsed again)."""
    added = source[growing.source_end :]
    if not added or not all(c.isalnum() or c in _PLAIN_PUNCTUATION for c in added):
        return None
    line_start = source.rfind("\n", 0, growing.source_end) + 1
    line = source[line_start:].strip(" \t")
    before = source[line_start : growing.source_end].strip(" \t")
    last_break = growing.text.rfind("\n") + 1
    # The line had words already, drawn as written (no escape or entity), begins no
    # block and ends in no space markdown-it would strip.
    if not before or growing.text[last_break:] != before or "\\" in line or "&" in line:
        return None
    if line[0] in _BLOCK_STARTS or line[0].isspace() or line[-1].isspace():
        return None
    return growing.text[:last_break] + line


def _plain_paragraph(tokens: list[Token]) -> str | None:
    """The text of ``tokens`` if they are one paragraph of plain text (no emphasis, code,
    links or HTML), as Rich's Markdown shows it; None otherwise."""
    if len(tokens) != 3 or tokens[0].type != "paragraph_open" or tokens[0].level:
        return None
    parts: list[str] = []
    for child in tokens[1].children or ():
        if child.type == "text":
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append("\n")
        else:
            return None
    return "".join(parts)


def _paragraph_lines(
    console: Console, options: ConsoleOptions, text: str, style: Style | None
) -> list[Strip]:
    """Lines of a paragraph of plain ``text``, drawn as Rich's Markdown draws one."""
    from rich.text import Text

    paragraph = Text(justify="left")
    paragraph.append(
        text, console.get_style("none") + console.get_style("markdown.paragraph", default="none")
    )
    return [
        Strip(line) for line in console.render_lines(paragraph, options, style=style, pad=False)
    ]


def _offset_of_line(text: str, source_lines: list[int] | None) -> int:
    """Where the line a block begins on (markdown-it counts lines split at "\\n" only)
    begins in ``text``."""
    offset = 0
    for _ in range(source_lines[0] if source_lines else 0):
        offset = text.index("\n", offset) + 1
    return offset


def clicked_code(click: Click) -> str | None:
    """The code of the block whose copy line was clicked (None: not such a line)."""
    code = click.style.meta.get(CODE)
    return code if isinstance(code, str) else None


def open_clicked_link(widget: Widget, click: Click) -> None:
    """Open the link under a click on a reply in the browser, only if it is a web or
    mail address; a click never does anything else."""
    href = click.style.meta.get(HREF, "")
    if not href or not isinstance(href, str):
        return
    click.stop()
    if urlsplit(href).scheme.lower() in LINK_SCHEMES:
        widget.app.open_url(href)
    else:
        widget.notify(
            f"Not opened: {visible(href)} (only http, https and mailto links open).", markup=False
        )
