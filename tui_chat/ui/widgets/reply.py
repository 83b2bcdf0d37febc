"""A reply of the model: streamed Markdown, folded when long, and a line that says how it
ended."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Static

from tui_chat.core.protocol import DoneReason
from tui_chat.core.visible import visible
from tui_chat.ui.batcher import UI_CPU_BUDGET, TextBatcher
from tui_chat.ui.literal import literal
from tui_chat.ui.textual_compat import SizedOnce
from tui_chat.ui.widgets.chat_markdown import chat_markdown_class, chat_markdown_parser

if TYPE_CHECKING:
    from textual.widgets import Markdown
    from textual.widgets.markdown import MarkdownStream

LINK_SCHEMES = frozenset({"http", "https", "mailto"})
"""Links in replies that a click opens (in the browser); others are only shown."""

REPLY_ENDINGS: dict[DoneReason, str] = {
    DoneReason.STOPPED: "stopped",
    DoneReason.LENGTH: "cut off: token limit reached",
    DoneReason.INTERRUPTED: "interrupted: the model worker crashed",
    DoneReason.ERROR: "failed",
}


SHOWN_BLOCKS = 16
"""Markdown blocks (paragraphs, lists, tables, code) of one reply that are laid out at
most; earlier ones are folded away (``display: none``) until the person scrolls up to
them or clicks the line that says so. Every shown block is arranged at each update of
the reply, so without a bound a long reply would cost more CPU per token the longer it
grows (docs/performance.md)."""


class _Ending(SizedOnce, Static):
    """How a reply ended (or what the model is doing before it starts)."""


class _FoldedBlocks(SizedOnce, Static):
    """A reply's first line while its earlier blocks are folded away; a click shows them."""

    def on_click(self) -> None:
        reply = self.parent
        if isinstance(reply, Reply):
            reply.post_message(Reply.UnfoldAsked(reply))


class Reply(SizedOnce, Vertical):
    """One streamed reply of the model.

    Tokens go into a ``MarkdownStream``, which appends to the document without
    re-rendering all of it; one full update when the reply ends makes sure blocks that
    streamed oddly (an unclosed code fence) end up rendered right. A ``TextBatcher``
    gathers tokens so that the stream gets at most ten appends a second.
    """

    @dataclass
    class UnfoldAsked(Message):
        """The person asked to see the reply's folded blocks (its log keeps them in view)."""

        reply: Reply
        """The reply."""

    DEFAULT_CSS = """
    Reply { height: auto; }
    Reply > Markdown { margin: 0; padding: 0 1; }
    Reply > .ending { color: $text-warning; padding: 0 1; }
    Reply > .ending.-waiting { color: $text-muted; }
    Reply > .earlier { color: $text-muted; padding: 0 1; }
    """

    def __init__(self, cpu_budget: float | None = UI_CPU_BUDGET) -> None:
        """
        Args:
            cpu_budget: Share of a core the UI may use while this reply streams (see
                ``TextBatcher``); None updates the screen ten times a second regardless.
        """
        super().__init__(classes="assistant")
        self._markdown: Markdown | None = None
        self._folded_line = _FoldedBlocks("", classes="earlier")
        self._folded_line.display = False
        self._folded = 0
        """Leading blocks folded away."""
        self._folding = True
        """False once the person has unfolded this reply: it stays whole."""
        # Shown only when there is something to say before the first text (loading,
        # a long prompt): drawing it takes CPU from the model reading the prompt.
        self._ending = _Ending(Text(""), classes="ending -waiting")
        self._ending.display = False
        self._stream: MarkdownStream | None = None
        self._batcher = TextBatcher(self, self._write, cpu_budget=cpu_budget)
        self.finished = False
        """True once the reply has ended, however it ended."""
        self.reason: DoneReason | None = None
        """Why it ended, once it is shown whole with its ending."""

    def set_cpu_budget(self, cpu_budget: float | None) -> None:
        """Change the share of a core the UI may use while this reply streams (before
        the first text only)."""
        self._batcher = TextBatcher(self, self._write, cpu_budget=cpu_budget)

    def compose(self) -> ComposeResult:
        # The Markdown widget comes with the first text: mounting it costs a layout, and
        # before the first token the model is still reading the prompt.
        yield self._folded_line
        yield self._ending

    async def _ensure_markdown(self) -> Markdown:
        if self._markdown is None:
            markdown = chat_markdown_class()(parser_factory=chat_markdown_parser, open_links=False)
            markdown.appended = self._fold_blocks  # type: ignore[attr-defined]
            self._markdown = markdown
            await self.mount(markdown, before=self._ending)
        return self._markdown

    def _blocks(self) -> list[Widget]:
        from textual.widgets.markdown import MarkdownBlock

        if self._markdown is None:
            return []
        return [block for block in self._markdown.children if isinstance(block, MarkdownBlock)]

    @property
    def shown_chars(self) -> int:
        """Characters of the reply handed to the screen so far."""
        return len(self._markdown.source) if self._markdown is not None else 0

    @property
    def folded_blocks(self) -> int:
        """How many of the reply's first blocks are folded away."""
        return self._folded

    def _fold_blocks(self) -> None:
        """Fold away the blocks before the last ``SHOWN_BLOCKS``."""
        if not self._folding:
            return
        blocks = self._blocks()
        fold_to = len(blocks) - SHOWN_BLOCKS
        if fold_to <= self._folded:
            return
        for block in blocks[self._folded : fold_to]:
            block.display = False
        self._folded = fold_to
        self._say_folded()

    def show_folded(self) -> Widget | None:
        """Show the folded blocks, and fold no more of this reply; returns the block
        that was first shown before, if any was folded."""
        self._folding = False
        if not self._folded:
            return None
        blocks = self._blocks()
        first_shown = blocks[self._folded] if self._folded < len(blocks) else None
        for block in blocks[: self._folded]:
            block.display = True
        self._folded = 0
        self._say_folded()
        return first_shown

    def _say_folded(self) -> None:
        self._folded_line.display = self._folded > 0
        if self._folded:
            blocks = "block" if self._folded == 1 else "blocks"
            self._folded_line.update(
                f"▲ the first {self._folded:,} {blocks} of this reply are folded away: "
                "click or scroll up to show them"
            )

    def on_markdown_link_clicked(self, event: Markdown.LinkClicked) -> None:
        """A link in a reply opens in the browser only if it is a web or mail address; a
        click never does anything else."""
        event.stop()
        href = event.href
        if urlsplit(href).scheme.lower() in LINK_SCHEMES:
            self.app.open_url(href)
        else:
            self.notify(f"Not opened: {href} (only http, https and mailto links open).")

    def show_progress(self, message: str) -> None:
        """Say what the model is doing before the first token (loading, reading)."""
        if self._stream is None and not self.finished:
            self._ending.update(literal(message))
            self._ending.display = True

    async def append(self, fragment: str) -> None:
        """Add streamed text."""
        if not self.finished:
            await self._batcher.add(fragment)

    async def _write(self, fragment: str) -> None:
        if self.finished:
            return
        if self._stream is None:
            self._ending.display = False
            markdown = await self._ensure_markdown()
            self._stream = markdown.get_stream(markdown)
        await self._stream.write(visible(fragment))

    def _streamed_as_whole(self, text: str) -> bool:
        """True if the streamed blocks are the blocks a parse of the whole text gives:
        same kinds, same source lines, and the same source text."""
        from textual.widgets.markdown import MarkdownBlock

        markdown = self._markdown
        if self._stream is None or markdown is None or markdown.source != text:
            return False
        expected = [
            (token.type, (token.map[0], token.map[1]))
            for token in chat_markdown_parser().parse(text)
            if token.level == 0 and token.nesting >= 0 and token.map is not None
        ]
        streamed = [
            (block.name, block.source_range)
            for block in markdown.children
            if isinstance(block, MarkdownBlock)
        ]
        return streamed == expected

    async def finish(self, text: str, reason: DoneReason, detail: str = "") -> None:
        """End the reply: stop streaming, make sure ``text`` is rendered whole, say how
        it ended."""
        if self.finished:
            return
        if self._stream is not None:
            await self._batcher.flush()  # the last pieces go through the stream too
        self.finished = True
        self._batcher.discard()
        if self._stream is not None and self._markdown is not None:
            await self._stream.stop()
            # stop() can return while a (shielded) append is still running.
            async with self._markdown.lock:
                pass
        if text:
            text = visible(text)
            markdown = await self._ensure_markdown()
            # Streaming re-parses from the last block on each append, which can leave a
            # block stale (a table whose header came before its rule, say). Render the
            # whole reply again only then: for a long reply that costs seconds.
            if not self._streamed_as_whole(text):
                await markdown.update(text)  # new blocks, all shown
                self._folded = 0
                self._fold_blocks()
        ending = REPLY_ENDINGS.get(reason)
        if detail and reason is DoneReason.INTERRUPTED:
            ending = f"interrupted: {detail}"  # what broke, instead of "crashed"
        elif detail:
            ending = f"{ending}: {detail}" if ending else detail
        self._ending.remove_class("-waiting")
        self._ending.display = bool(ending)
        self._ending.update(literal(f"[{ending}]" if ending else ""))
        self.reason = reason
