"""Textual's Markdown widget and parser as the chat's replies use them.

The widget and its parser are imported when the first reply needs them, not at start-up,
where they would delay the first frame.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING

from tui_chat.ui.textual_compat import SizedOnce

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.rules_core import StateCore
    from textual.widgets import Markdown
    from textual.widgets.markdown import MarkdownBlock


@functools.cache
def chat_markdown_parser() -> MarkdownIt:
    """GitHub-flavoured Markdown in which a single line break stays a line break.

    Models write poems, addresses and lists of lines with single newlines; plain
    Markdown would run them together into one paragraph. One parser serves every
    reply: building one costs more than parsing a streamed fragment.
    """
    from markdown_it import MarkdownIt

    parser = MarkdownIt("gfm-like")

    def keep_line_breaks(state: StateCore) -> None:
        for token in state.tokens:
            for child in token.children or ():
                if child.type == "softbreak":
                    child.type = "hardbreak"

    parser.core.ruler.push("keep_line_breaks", keep_line_breaks)
    return parser


@functools.cache
def _sized_once(block: type[MarkdownBlock]) -> type[MarkdownBlock]:
    # The same class name: Textual's CSS type selectors match on it.
    from textual.widgets.markdown import MarkdownFence

    if issubclass(block, MarkdownFence):
        return type(block.__name__, (SizedOnce, block), {"highlight": _highlight_unguessed})
    return type(block.__name__, (SizedOnce, block), {})


@classmethod  # type: ignore[misc]
def _highlight_unguessed(
    cls: type, code: str, language: str, ansi: bool = False, dark: bool = False
) -> object:
    """A fence's code highlighted in the language it names, plain text when it names
    none. Textual would guess: Pygments tries every lexer it has on the code, tens of
    milliseconds per fence, again at each update of a streaming reply."""
    return super(cls, cls).highlight(code, language or "text", ansi=ansi, dark=dark)  # type: ignore[misc]


@functools.cache
def chat_markdown_class() -> type[Markdown]:
    """Textual's Markdown widget, whose blocks cost one layout per update, not two, and
    which says when a streamed fragment has been appended."""
    from textual.await_complete import AwaitComplete
    from textual.widgets import Markdown

    class ChatMarkdown(SizedOnce, Markdown):
        appended: Callable[[], object] | None = None
        """Called after each appended fragment, with its blocks mounted."""

        def get_block_class(self, block_name: str) -> type[MarkdownBlock]:
            return _sized_once(super().get_block_class(block_name))

        def append(self, markdown: str) -> AwaitComplete:
            appending = super().append(markdown)

            async def then_tell() -> None:
                await appending
                if self.appended is not None:
                    self.appended()

            return AwaitComplete(then_tell())

    return ChatMarkdown
