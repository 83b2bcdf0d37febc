"""The chat log: the person's messages, the model's streamed replies, and notices."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.geometry import Size
from textual.widget import Widget
from textual.widgets import Static

from tui_chat.core.protocol import DoneReason
from tui_chat.core.visible import visible
from tui_chat.ui.batcher import UI_CPU_BUDGET, TextBatcher
from tui_chat.ui.literal import literal

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.rules_core import StateCore
    from textual.widgets import Markdown
    from textual.widgets.markdown import MarkdownBlock, MarkdownStream

# The Markdown widget and its parser are imported when the first reply needs them:
# together they add ~30 ms to start-up, before the screen can show anything.


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


LONG_MESSAGE_CHARS = 20_000
"""A message longer than this is shown shortened in the log (it is sent whole)."""
SHOWN_OF_LONG_MESSAGE = 2_000

LINK_SCHEMES = frozenset({"http", "https", "mailto"})
"""Links in replies that a click opens (in the browser); others are only shown."""

REPLY_ENDINGS: dict[DoneReason, str] = {
    DoneReason.STOPPED: "stopped",
    DoneReason.LENGTH: "cut off: token limit reached",
    DoneReason.INTERRUPTED: "interrupted: the model worker crashed",
    DoneReason.ERROR: "failed",
}


class _SizedOnce:
    """For widgets that cannot scroll: a new virtual size asks for no second layout.

    Textual lays a widget out, then sets its virtual size, which by default asks for
    another layout of the whole screen: two layouts and two repaints for every message
    sent and every streamed Markdown update, taken from the model's CPU. Only a widget
    that can scroll (overflow auto or scroll) needs that layout, for its scrollbars.
    """

    def _size_updated(
        self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True
    ) -> bool:
        styles = self.styles  # type: ignore[attr-defined]
        scrolls = {styles.overflow_x, styles.overflow_y} & {"auto", "scroll"}
        return super()._size_updated(  # type: ignore[misc]
            size, virtual_size, container_size, layout=layout and bool(scrolls)
        )


@functools.cache
def _sized_once(block: type[MarkdownBlock]) -> type[MarkdownBlock]:
    # The same class name: Textual's CSS type selectors match on it.
    return type(block.__name__, (_SizedOnce, block), {})


@functools.cache
def chat_markdown_class() -> type[Markdown]:
    """Textual's Markdown widget, whose blocks cost one layout per update, not two, and
    which says when a streamed fragment has been appended."""
    from textual.await_complete import AwaitComplete
    from textual.widgets import Markdown

    class ChatMarkdown(_SizedOnce, Markdown):
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


def _shown_message(text: str) -> Text:
    if len(text) > LONG_MESSAGE_CHARS:
        # The log lays out what it shows: a megabyte would freeze it for seconds.
        rest = text[SHOWN_OF_LONG_MESSAGE:]
        breaks = rest.count("\n")
        lines = f" on {breaks:,} more {'line' if breaks == 1 else 'lines'}" if breaks else ""
        text = (
            f"{text[:SHOWN_OF_LONG_MESSAGE]}…\n[{len(rest):,} more characters{lines}, not "
            "shown here: the message is kept whole]"
        )
    return literal(text)


class UserMessage(_SizedOnce, Static):
    """What the person sent, shown literally (never parsed as markup)."""

    def __init__(self, text: str) -> None:
        super().__init__(_shown_message(text), classes="user")

    def set_text(self, text: str) -> None:
        """Show ``text`` instead."""
        self.update(_shown_message(text))


class _Ending(_SizedOnce, Static):
    """How a reply ended (or what the model is doing before it starts)."""


SHOWN_BLOCKS = 16
"""Markdown blocks (paragraphs, lists, tables, code) of one reply that are laid out at
most; earlier ones are folded away (``display: none``) until the person scrolls up to
them or clicks the line that says so. Every shown block is arranged at each update of
the reply: with all of them shown, a replayed 10,000-token reply (~250 blocks, a table
a dozen widgets) offered at 500 tokens a second cost 1.3 ms of UI CPU per token at its
start and 2.0 ms at its end; with 16 shown the cost stops growing at ~1.5 ms."""


class _FoldedBlocks(_SizedOnce, Static):
    """A reply's first line while its earlier blocks are folded away; a click shows them."""

    def on_click(self) -> None:
        reply = self.parent
        if isinstance(reply, Reply) and isinstance(reply.parent, ChatLog):
            reply.parent.show_folded_blocks(reply)


class Notice(_SizedOnce, Static):
    """A line from tui-chat itself: a crash, a restart, a cleared chat."""

    def __init__(self, text: str, *, kind: str = "info") -> None:
        super().__init__(literal(text), classes=f"notice {kind}")


class Reply(_SizedOnce, Vertical):
    """One streamed reply of the model.

    Tokens go into a ``MarkdownStream``, which appends to the document without
    re-rendering all of it; one full update when the reply ends makes sure blocks that
    streamed oddly (an unclosed code fence) end up rendered right. A ``TextBatcher``
    gathers tokens so that the stream gets at most ten appends a second.
    """

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
        # a long prompt): drawing it costs ~1 ms while the model reads the prompt.
        self._ending = _Ending(Text(""), classes="ending -waiting")
        self._ending.display = False
        self._stream: MarkdownStream | None = None
        self._batcher = TextBatcher(self, self._write, cpu_budget=cpu_budget)
        self.finished = False
        """True once the reply has ended, however it ended."""
        self.reason: DoneReason | None = None
        """Why it ended, once it has."""

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
        self.reason = reason
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


SHOWN_AT_MOST = 12
"""Messages, replies and notices the log lays out at most; earlier ones are folded away
(``display: none``) until the person scrolls up to them. Textual lays out every shown
widget of the screen at each update, and a reply is a widget per Markdown block: with 30
exchanges on screen each update of a streaming reply cost ~50 ms of CPU instead of ~8,
taken from the model."""

SHOWN_PER_SCROLL = 12
"""Folded messages shown again each time the person scrolls to the top of the log."""


class _Earlier(_SizedOnce, Static):
    """The log's first line while earlier messages are folded away; a click shows them."""

    def on_click(self) -> None:
        if isinstance(self.parent, ChatLog):
            self.parent.show_earlier()


class ChatLog(VerticalScroll):
    """The scrolling conversation; stays pinned to the bottom while replies stream.

    Only the last ``SHOWN_AT_MOST`` entries are laid out; scrolling to the top shows
    earlier ones, ``SHOWN_PER_SCROLL`` at a time.

    The widgets for the next message and its reply wait at the end of the log, mounted
    but hidden, from the time the model is idle: sending then only shows them. Mounting
    them (compose, styles, mount events) costs ~7 ms of CPU, which in the moment after
    Enter would be taken from the model reading the prompt."""

    def _size_updated(
        self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True
    ) -> bool:
        # A new virtual size would ask for a second layout of the screen, after the one
        # that just arranged the log (and, anchored, scrolled it to the end): a second
        # full repaint of the log, ~10 ms of CPU at each message sent once the log
        # fills the screen, while the model reads the prompt. The scrollbar does not
        # need it: its thumb is updated here, and showing or hiding it asks for its own
        # layout.
        return super()._size_updated(size, virtual_size, container_size, layout=False)

    def compose(self) -> ComposeResult:
        yield _Earlier("", classes="notice earlier")

    def on_mount(self) -> None:
        self.query_one(_Earlier).display = False
        self._spare: tuple[UserMessage, Reply] | None = None
        """Hidden widgets for the next exchange (used once both are mounted)."""
        self.anchor()
        # Not in the first frames: start-up is measured to the input being drawn.
        self.set_timer(0.5, self.prepare)

    @property
    def entries(self) -> list[Widget]:
        """Messages, replies and notices, oldest first, folded ones included."""
        spare = self._spare or ()
        return [w for w in self.children if not isinstance(w, _Earlier) and w not in spare]

    def fold(self, room: int = 0) -> None:
        """Fold away the oldest shown entries beyond ``SHOWN_AT_MOST`` (less ``room`` for
        entries about to be added). Synchronous: it lands in the same layout as a mount
        that follows it."""
        shown = [w for w in self.entries if w.display]
        for widget in shown[: max(0, len(shown) + room - SHOWN_AT_MOST)]:
            widget.display = False
        self._say_folded()

    def _say_folded(self) -> None:
        folded = sum(1 for w in self.entries if not w.display)
        earlier = self.query_one(_Earlier)
        earlier.display = folded > 0
        if folded:
            entries = "entry" if folded == 1 else "entries"
            earlier.update(f"▲ {folded} earlier {entries}: scroll up to show them")

    # Scrolled up to the top by the person (wheel or keys): show earlier entries. Not on
    # scroll_y itself: folding shortens the log, which moves it without anyone scrolling.
    def on_mouse_scroll_up(self) -> None:
        self.call_after_refresh(self._show_earlier_at_top)

    def action_scroll_up(self) -> None:
        super().action_scroll_up()
        self.call_after_refresh(self._show_earlier_at_top)

    def action_page_up(self) -> None:
        super().action_page_up()
        self.call_after_refresh(self._show_earlier_at_top)

    def action_scroll_home(self) -> None:
        super().action_scroll_home()
        self.call_after_refresh(self._show_earlier_at_top)

    def _show_earlier_at_top(self) -> None:
        if min(self.scroll_y, self.scroll_target_y) <= 0:  # there, or on its way (animated)
            self.show_earlier()

    def show_earlier(self) -> None:
        """Show up to ``SHOWN_PER_SCROLL`` more folded entries, keeping the one that was
        first in view at the top; with none left, the folded blocks of the first long
        reply."""
        entries = self.entries
        folded = [w for w in entries if not w.display]
        first_shown = next((w for w in entries if w.display), None)
        if not folded:
            long_replies = [w for w in entries if isinstance(w, Reply) and w.folded_blocks]
            if long_replies:
                self.show_folded_blocks(long_replies[0])
            return
        for widget in folded[-SHOWN_PER_SCROLL:]:
            widget.display = True
        self._say_folded()
        if first_shown is not None:
            self._keep_at_top(first_shown)

    def show_folded_blocks(self, reply: Reply) -> None:
        """Show a long reply's folded blocks, keeping the one that was first in view at
        the top."""
        first_shown = reply.show_folded()
        if first_shown is not None:
            self._keep_at_top(first_shown)

    def _keep_at_top(self, widget: Widget) -> None:
        self.call_after_refresh(lambda: self.scroll_to_widget(widget, top=True, animate=False))

    async def _append(self, *widgets: Widget) -> None:
        """Mount ``widgets`` at the end of the log, before the spare exchange."""
        before = self._spare[0] if self._spare and self._spare[0].parent is self else None
        await self.mount_all(widgets, before=before)

    async def add_user(self, text: str) -> UserMessage:
        """Show a message the person sent."""
        widget = UserMessage(text)
        self.fold(room=1)
        await self._append(widget)
        return widget

    async def add_reply(self, cpu_budget: float | None = UI_CPU_BUDGET) -> Reply:
        """Start a reply that tokens will stream into."""
        widget = Reply(cpu_budget)
        self.fold(room=1)
        await self._append(widget)
        self.anchor()
        return widget

    def prepare(self) -> None:
        """Mount hidden widgets for the next exchange, if there are none (call it when
        the model is idle: the mount costs CPU the model would otherwise have)."""
        if self._spare is None and self.is_attached:
            message, reply = UserMessage(""), Reply()
            message.display = reply.display = False
            self._spare = message, reply
            self.call_after_refresh(self._mount_spare, message, reply)

    async def _mount_spare(self, message: UserMessage, reply: Reply) -> None:
        if self._spare == (message, reply) and self.is_attached:
            await self.mount_all([message, reply])

    def new_exchange(
        self, text: str, cpu_budget: float | None = UI_CPU_BUDGET
    ) -> tuple[UserMessage, Reply]:
        """The widgets for a message the person sent and the reply to it: the spare ones
        if they are mounted, else new ones."""
        if self._spare is None or not all(w.is_mounted for w in self._spare):
            return UserMessage(text), Reply(cpu_budget)
        message, reply = self._spare
        message.set_text(text)
        reply.set_cpu_budget(cpu_budget)
        return message, reply

    async def show_exchange(self, message: UserMessage, reply: Reply) -> None:
        """Put a message and its reply on screen, in one layout and one paint (an
        anchored log follows by itself; re-anchoring when it already is costs another
        full paint of the log while the model reads the prompt)."""
        scrolled_up = self.scroll_y < self.max_scroll_y
        self.fold(room=2)
        if self._spare == (message, reply):
            self._spare = None
            message.display = reply.display = True
        else:
            await self._append(message, reply)
        if scrolled_up:
            self.anchor()  # the person had scrolled up: sending brings them back down

    async def add_notice(self, text: str, *, kind: str = "info") -> Notice:
        """Show a notice from tui-chat."""
        widget = Notice(text, kind=kind)
        self.fold(room=1)
        await self._append(widget)
        return widget

    async def clear(self) -> None:
        """Remove everything (the spare exchange stays)."""
        await self.remove_children(self.entries)
        self._say_folded()
