"""The chat log: the person's messages, the model's streamed replies, and notices."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Static

from tui_chat.core.protocol import DoneReason
from tui_chat.ui.batcher import UI_CPU_BUDGET
from tui_chat.ui.literal import literal
from tui_chat.ui.textual_compat import ScrolledOnce, SizedOnce
from tui_chat.ui.widgets.earlier_reply import EarlierReply
from tui_chat.ui.widgets.reply import REPLY_ENDINGS, SHOWN_BLOCKS, Reply

__all__ = ["SHOWN_AT_MOST", "SHOWN_BLOCKS", "SHOWN_PER_SCROLL", "ChatLog", "Notice", "Reply",
           "UserMessage"]  # fmt: skip

LONG_MESSAGE_CHARS = 20_000
"""A message longer than this is shown shortened in the log (it is sent whole)."""
SHOWN_OF_LONG_MESSAGE = 2_000


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


MEMORY_MARKER = "The model no longer remembers the messages above (they no longer fit its context)."


class UserMessage(SizedOnce, Static):
    """What the person sent, shown literally (never parsed as markup)."""

    def __init__(self, text: str) -> None:
        super().__init__(_shown_message(text), classes="user")

    def set_text(self, text: str) -> None:
        """Show ``text`` instead."""
        self.update(_shown_message(text))


class Notice(SizedOnce, Static):
    """A line from tui-chat itself: a crash, a restart, a cleared chat."""

    def __init__(self, text: str, *, kind: str = "info") -> None:
        super().__init__(literal(text), classes=f"notice {kind}")


SHOWN_AT_MOST = 12
"""Messages, replies and notices the log lays out at most; earlier ones are folded away
(``display: none``) until the person scrolls up to them. Textual lays out every shown
widget of the screen at each update, and a reply is a widget per Markdown block: a long
conversation on screen would make each update of a streaming reply several times dearer,
in CPU taken from the model."""

SHOWN_PER_SCROLL = 6
"""Folded messages shown again each time the person scrolls to the top of the log."""

SHOWN_WHILE_READING = 24
"""Entries laid out at most while the person reads back: entries further down are folded
away as pages are shown above (and shown again as the person scrolls back down), so that
a page costs as little at the thousandth message as at the first."""


Earlier = Callable[[int], Awaitable[int]]
"""Builds up to ``n`` entries before the first one in the log (through
``ChatLog.put_earlier``); returns how many are left to build."""


class _Earlier(SizedOnce, Static):
    """The log's first line while earlier messages are folded away; a click shows them."""

    async def on_click(self) -> None:
        if isinstance(self.parent, ChatLog):
            await self.parent.show_earlier()


class ChatLog(ScrolledOnce, VerticalScroll):
    """The scrolling conversation; stays pinned to the bottom while replies stream.

    Only the last ``SHOWN_AT_MOST`` entries are laid out; scrolling to the top shows
    earlier ones, ``SHOWN_PER_SCROLL`` at a time. Entries nobody has scrolled to yet are
    not built at all: ``set_earlier`` says how many there are and who builds them.

    The widgets for the next message and its reply wait at the end of the log, mounted
    but hidden, from the time the model is idle: sending then only shows them. Mounting
    them (compose, styles, mount events) in the moment after Enter would take CPU from
    the model reading the prompt."""

    def compose(self) -> ComposeResult:
        yield _Earlier("", classes="notice earlier")

    def on_mount(self) -> None:
        self.query_one(_Earlier).display = False
        self._spare: tuple[UserMessage, Reply] | None = None
        """Hidden widgets for the next exchange (used once both are mounted)."""
        self._unbuilt = 0
        self._earlier: Earlier | None = None
        self._building = False
        self._marker: Notice | None = None
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
        entries about to be added), and show the last ones if the person had scrolled
        back to where they are folded. Synchronous: it lands in the same layout as a
        mount that follows it."""
        if self._later():
            for widget in self.entries:
                widget.display = True
        shown = [w for w in self.entries if w.display]
        for widget in shown[: max(0, len(shown) + room - SHOWN_AT_MOST)]:
            widget.display = False
        self._say_folded()

    def set_earlier(self, count: int, earlier: Earlier | None) -> None:
        """``count`` entries come before the first one in the log and are not built yet;
        ``earlier`` builds them when the person scrolls up to them."""
        self._unbuilt, self._earlier = count, earlier
        self._say_folded()

    def _later(self) -> list[Widget]:
        """Entries folded away below the shown ones (the person reads further up)."""
        entries = self.entries
        last = max((i for i, w in enumerate(entries) if w.display), default=len(entries))
        return entries[last + 1 :]

    def _fold_below(self) -> None:
        shown = [w for w in self.entries if w.display]
        for widget in shown[SHOWN_WHILE_READING:]:
            widget.display = False

    async def show_later(self) -> None:
        """Show up to ``SHOWN_PER_SCROLL`` entries folded below the shown ones, folding
        as many away at the top, the entry first in view staying there."""
        later = self._later()
        if not later:
            return
        shown = [w for w in self.entries if w.display]
        in_view = next((w for w in shown if w.virtual_region.bottom > self.scroll_y), None)
        for widget in later[:SHOWN_PER_SCROLL]:
            widget.display = True
        for widget in shown[: max(0, len(shown) + SHOWN_PER_SCROLL - SHOWN_WHILE_READING)]:
            if widget is not in_view:
                widget.display = False
        self._say_folded()
        if in_view is not None:
            self._keep_at_top(in_view)

    def on_mouse_scroll_down(self) -> None:
        self.call_after_refresh(self._show_later_at_bottom)

    def action_scroll_down(self) -> None:
        super().action_scroll_down()
        self.call_after_refresh(self._show_later_at_bottom)

    def action_page_down(self) -> None:
        super().action_page_down()
        self.call_after_refresh(self._show_later_at_bottom)

    def action_scroll_end(self) -> None:
        if self._later():
            self.fold()
        super().action_scroll_end()

    async def _show_later_at_bottom(self) -> None:
        if max(self.scroll_y, self.scroll_target_y) >= self.max_scroll_y:
            await self.show_later()

    def _say_folded(self) -> None:
        entries = self.entries
        first = next((i for i, w in enumerate(entries) if w.display), len(entries))
        folded = first + self._unbuilt
        earlier = self.query_one(_Earlier)
        earlier.display = folded > 0
        if folded:
            entries = "entry" if folded == 1 else "entries"
            earlier.update(f"▲ {folded} earlier {entries}: scroll up to show them")

    # Scrolled up to the top by the person (wheel or keys): show earlier entries. Not on
    # scroll_y itself: folding shortens the log, which moves it without anyone scrolling.
    def on_mouse_scroll_up(self) -> None:
        self.call_after_refresh(self._show_earlier_at_top)

    async def fill(self) -> None:
        """Build earlier entries while the log is shorter than the screen (an entry
        taller or shorter than it looked before it was laid out)."""
        if self.max_scroll_y == 0 and self._unbuilt and self.is_attached:
            await self.show_earlier()

    def action_scroll_up(self) -> None:
        super().action_scroll_up()
        self.call_after_refresh(self._show_earlier_at_top)

    def action_page_up(self) -> None:
        super().action_page_up()
        self.call_after_refresh(self._show_earlier_at_top)

    def action_scroll_home(self) -> None:
        super().action_scroll_home()
        self.call_after_refresh(self._show_earlier_at_top)

    async def _show_earlier_at_top(self) -> None:
        if min(self.scroll_y, self.scroll_target_y) <= 0:  # there, or on its way (animated)
            await self.show_earlier()

    async def show_earlier(self) -> None:
        """Show up to ``SHOWN_PER_SCROLL`` more folded entries (building them if they
        were never built), keeping the one that was first in view at the top; with none
        left, the folded blocks of the first long reply."""
        if self._building:
            return  # a page is on its way: the next scroll asks for the next one
        entries = self.entries
        first = next((i for i, w in enumerate(entries) if w.display), len(entries))
        folded, first_shown = entries[:first], entries[first] if first < len(entries) else None
        if folded:
            for widget in folded[-SHOWN_PER_SCROLL:]:
                widget.display = True
        elif self._unbuilt and self._earlier is not None:
            self._building = True
            try:
                self._unbuilt = await self._earlier(SHOWN_PER_SCROLL)
            finally:
                self._building = False
        else:
            long_replies = [w for w in entries if isinstance(w, Reply) and w.folded_blocks]
            if long_replies:
                self.show_folded_blocks(long_replies[0])
            return
        self._fold_below()
        self._say_folded()
        if first_shown is not None:
            self._keep_at_top(first_shown)

    async def put_earlier(self, entries: list[tuple[str, str, DoneReason]]) -> list[Widget]:
        """Build entries that come before the first one in the log: (role, text, how a
        reply ended), oldest first; returns their widgets in the same order."""
        widgets: list[Widget] = [
            UserMessage(text)
            if role == "user"
            else EarlierReply(text, REPLY_ENDINGS.get(reason, ""))
            for role, text, reason in entries
        ]
        await self.mount_all(widgets, after=self.query_one(_Earlier))
        return widgets

    def on_reply_unfold_asked(self, message: Reply.UnfoldAsked) -> None:
        self.show_folded_blocks(message.reply)

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

    async def mark_memory_start(self, first: Widget | None) -> None:
        """Put the memory marker before ``first`` (None: nowhere), the oldest message
        the model still gets."""
        # The marker is kept, not queried: a query walks every entry, thousands of them
        # in a long conversation read back.
        old, self._marker = self._marker, None
        if old is not None and old.parent is self:
            if first is not None and self._index_before(old, first):
                self._marker, old.display = old, first.display  # already in place
                return
            await old.remove()
        if first is not None:
            marker = Notice(MEMORY_MARKER, kind="memory-marker")
            marker.display = first.display  # folded away with the message it stands before
            await self.mount(marker, before=first)
            self._marker = marker

    def _index_before(self, marker: Widget, first: Widget) -> bool:
        """True if ``marker`` stands right before ``first``."""
        children = self.children
        index = children.index(first)
        return index > 0 and children[index - 1] is marker

    async def add_notice(self, text: str, *, kind: str = "info") -> Notice:
        """Show a notice from tui-chat."""
        widget = Notice(text, kind=kind)
        self.fold(room=1)
        await self._append(widget)
        return widget

    async def clear(self) -> None:
        """Remove everything (the spare exchange stays)."""
        self._unbuilt, self._earlier = 0, None
        await self.remove_children(self.entries)
        self._say_folded()
