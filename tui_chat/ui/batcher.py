"""Hands streamed text to a widget in batches, so a fast stream costs few screen updates.

On a small machine the model's threads take every core, and any CPU time the UI uses is
taken from them: a layout and a repaint of the screen cost about ten milliseconds. So
the batcher keeps the UI process within a CPU budget while text streams: it measures
the process's CPU time between two writes and waits as long before the next write as
that time would take at the budget's share (never more often than ``FLUSH_SECONDS``,
never less often than ``LONGEST_FLUSH_SECONDS``).
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable

from textual.timer import Timer
from textual.widget import Widget

FLUSH_SECONDS = 1 / 10
"""Shortest time between two updates of streamed text."""

LONGEST_FLUSH_SECONDS = 1.0
"""Longest time between two updates, whatever the budget says."""

UI_CPU_BUDGET = 0.02
"""Share of one core the UI process may use while text streams (all of its work)."""


class TextBatcher:
    """Collects pieces of text and passes them on joined: the first piece at once, the
    ones that follow together when the current interval has passed."""

    def __init__(
        self,
        widget: Widget,
        write: Callable[[str], Awaitable[None] | None],
        interval: float = FLUSH_SECONDS,
        cpu_budget: float | None = UI_CPU_BUDGET,
    ) -> None:
        """
        Args:
            widget: The widget whose timer schedules the delayed writes.
            write: Receives the joined text (may be a coroutine function).
            interval: Shortest time between two writes.
            cpu_budget: Share of a core the process may use while writing; None: no limit.
        """
        self._widget = widget
        self._write = write
        self._shortest = interval
        # With a budget, start where a small machine ends up anyway: a short reply is
        # over before the interval would have grown.
        self._interval = interval if cpu_budget is None else max(interval, 0.25)
        self._budget = cpu_budget
        self._pending: list[str] = []
        self._timer: Timer | None = None
        self._last = 0.0
        self._cpu_mark = time.process_time()

    @property
    def interval(self) -> float:
        """The current time between two writes."""
        return self._interval

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
        self._adapt()
        text = "".join(self._pending)
        self._pending.clear()
        result = self._write(text)
        if inspect.isawaitable(result):
            await result

    def _adapt(self) -> None:
        """Set the next interval from the CPU time used since the last write: long enough
        that the same work again would be ``budget`` of it (one step, not a slow climb:
        a reply of a few seconds is over before doubling would have got there)."""
        now, cpu = time.monotonic(), time.process_time()
        if self._budget is not None and self._last:
            wanted = (cpu - self._cpu_mark) / self._budget if self._budget > 0 else 0.0
            self._interval = min(LONGEST_FLUSH_SECONDS, max(self._shortest, wanted))
        self._last, self._cpu_mark = now, cpu

    def discard(self) -> None:
        """Forget what is queued and cancel the pending write."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self._pending.clear()
