"""Hands streamed text to a widget in batches, so a fast stream costs few screen updates."""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable

from textual.timer import Timer
from textual.widget import Widget

FLUSH_SECONDS = 1 / 10
"""Shortest time between two updates of streamed text.

Every update costs a parse and a layout of the screen, and on a CPU the UI's time is
taken from the model's threads; ten updates a second still read as a smooth stream."""


class TextBatcher:
    """Collects pieces of text and passes them on joined: the first piece at once, the
    ones that follow within ``interval`` together when it has passed."""

    def __init__(
        self,
        widget: Widget,
        write: Callable[[str], Awaitable[None] | None],
        interval: float = FLUSH_SECONDS,
    ) -> None:
        """
        Args:
            widget: The widget whose timer schedules the delayed writes.
            write: Receives the joined text (may be a coroutine function).
            interval: Shortest time between two writes.
        """
        self._widget = widget
        self._write = write
        self._interval = interval
        self._pending: list[str] = []
        self._timer: Timer | None = None
        self._last = 0.0

    async def add(self, text: str) -> None:
        """Queue ``text``; writes at once if the last write is long enough ago."""
        if not text:
            return
        self._pending.append(text)
        if self._timer is not None:
            return
        wait = self._last + self._interval - time.monotonic()
        if wait <= 0:
            await self.flush()
        else:
            self._timer = self._widget.set_timer(wait, self.flush)

    def add_nowait(self, text: str) -> None:
        """Queue ``text`` from outside a message handler; the write runs on a timer."""
        if not text:
            return
        self._pending.append(text)
        if self._timer is None:
            # Textual's timers divide by their delay: never ask for zero.
            wait = max(0.001, self._last + self._interval - time.monotonic())
            self._timer = self._widget.set_timer(wait, self.flush)

    async def flush(self) -> None:
        """Write whatever is queued now."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if not self._pending:
            return
        self._last = time.monotonic()
        text = "".join(self._pending)
        self._pending.clear()
        result = self._write(text)
        if inspect.isawaitable(result):
            await result

    def discard(self) -> None:
        """Forget what is queued and cancel the pending write."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self._pending.clear()
