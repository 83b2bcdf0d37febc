"""How the chat log folds entries away and brings them back: the oldest beyond what a
streaming reply may cost, the earliest not yet built (built page by page as the person
scrolls up), and, while the person reads far back, those further down."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Static

from tui_chat.ui.textual_compat import ScrolledOnce, SizedOnce

SHOWN_AT_MOST = 12
"""Messages, replies and notices the log lays out at most; earlier ones are folded away
(``display: none``) until the person scrolls up to them. Textual lays out every shown
widget of the screen at each layout: a long conversation on screen would make each new
line of a streaming reply dearer, in CPU taken from the model."""

SHOWN_PER_SCROLL = 6
"""Folded messages shown again each time the person scrolls to the top of the log."""

SHOWN_WHILE_READING = 24
"""Entries laid out at most while the person reads back: entries further down are folded
away as pages are shown above (and shown again as the person scrolls back down), so that
a page costs as little at the thousandth message as at the first."""


Earlier = Callable[[int], Awaitable[int]]
"""Builds up to ``n`` entries before the first one in the log (through
``ChatLog.put_earlier``); returns how many are left to build."""


class EarlierLine(SizedOnce, Static):
    """The log's first line while earlier messages are folded away; a click shows them."""

    async def on_click(self) -> None:
        if isinstance(self.parent, FoldingLog):
            await self.parent.show_earlier()


class FoldingLog(ScrolledOnce, VerticalScroll):
    """A scrolling log of entries, some folded away (``display: none``) or not yet built.

    Only the last ``SHOWN_AT_MOST`` entries are laid out; scrolling to the top shows
    earlier ones, ``SHOWN_PER_SCROLL`` at a time. Entries nobody has scrolled to yet are
    not built at all: ``set_earlier`` says how many there are and who builds them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._unbuilt = 0
        self._earlier: Earlier | None = None
        self._building = False

    @property
    def entries(self) -> list[Widget]:
        """The entries, oldest first, folded ones included."""
        return [w for w in self.children if not isinstance(w, EarlierLine)]

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
        earlier = self.query_one(EarlierLine)
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
        were never built), keeping the one that was first in view at the top."""
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
            return
        self._fold_below()
        self._say_folded()
        if first_shown is not None:
            self._keep_at_top(first_shown)

    def _keep_at_top(self, widget: Widget) -> None:
        self.call_after_refresh(lambda: self.scroll_to_widget(widget, top=True, animate=False))
