"""Hands streamed text to a widget in batches, so a fast stream costs few screen updates.

On a small machine the model's threads take every core, and any CPU time the UI uses is
taken from them: an update of the screen costs a few milliseconds. So
the batcher keeps the UI process within a CPU budget while text streams: it measures
the process's CPU time between two writes and waits as long before the next write as
that time would take at the budget's share (never more often than ``FLUSH_SECONDS``,
never less often than ``LONGEST_FLUSH_SECONDS``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol

from tui_chat.core.protocol import STREAM_UPDATE_SECONDS
from tui_chat.core.settings import STREAM_CPU_BUDGET

FLUSH_SECONDS = STREAM_UPDATE_SECONDS
"""Shortest time between two updates of streamed text."""

LONGEST_FLUSH_SECONDS = 1.0
"""Longest time between two updates, whatever the budget says."""

SMOOTHING = 0.3
"""How far each new measure of the CPU time between writes moves the one used."""


class _Cancellable(Protocol):
    def cancel(self) -> None: ...


Later = Callable[[float, Callable[[], None]], _Cancellable]
"""Runs a callback after a delay: the event loop's ``call_later``."""


class TextBatcher:
    """Collects pieces of text and passes them on joined: the first piece at once, the
    ones that follow together when the current interval has passed.

    Writes are plain calls, the delayed ones from the event loop: a Textual timer or
    message per update would cost as much as drawing the text (docs/performance.md).
    """

    def __init__(
        self,
        write: Callable[[str], None],
        interval: float = FLUSH_SECONDS,
        cpu_budget: float | None = STREAM_CPU_BUDGET,
        call_later: Later | None = None,
    ) -> None:
        """
        Args:
            write: Receives the joined text.
            interval: Shortest time between two writes.
            cpu_budget: Share of a core the process may use while writing; None: no limit.
            call_later: Schedules the delayed writes (default: the running event loop).
        """
        self._write = write
        self._shortest = interval
        self._interval = interval
        self._budget = cpu_budget
        self._call_later = call_later
        self._pending: list[str] = []
        self._due: _Cancellable | None = None
        self._last = 0.0
        self._cpu_mark = time.process_time()
        self._cost: float | None = None
        """CPU time between two writes, smoothed."""

    @property
    def interval(self) -> float:
        """The current time between two writes."""
        return self._interval

    def add(self, text: str) -> None:
        """Queue ``text``; writes at once if the last write is long enough ago, else
        when it is."""
        if not text:
            return
        self._pending.append(text)
        if self._due is not None:
            return
        wait = self._last + self._interval - time.monotonic()
        if wait <= 0:
            self.flush()
        else:
            later = self._call_later or asyncio.get_running_loop().call_later
            self._due = later(wait, self.flush)

    def flush(self) -> None:
        """Write whatever is queued now."""
        self._cancel()
        if not self._pending:
            return
        self._adapt()
        text = "".join(self._pending)
        self._pending.clear()
        self._write(text)

    def _adapt(self) -> None:
        """Set the next interval from the CPU time used between writes: long enough that
        the same work again would be ``budget`` of it. The first measure sets it (a reply
        of a few seconds is over before a slow climb would get there); later ones move
        it part of the way, so that one dear update (a layout, a table) does not hold the
        next one back."""
        now, cpu = time.monotonic(), time.process_time()
        if self._budget is not None and self._last:
            used = cpu - self._cpu_mark
            self._cost = (
                used if self._cost is None else self._cost + SMOOTHING * (used - self._cost)
            )
            wanted = self._cost / self._budget if self._budget > 0 else 0.0
            self._interval = min(LONGEST_FLUSH_SECONDS, max(self._shortest, wanted))
        self._last, self._cpu_mark = now, cpu

    def discard(self) -> None:
        """Forget what is queued and cancel the pending write."""
        self._cancel()
        self._pending.clear()

    def _cancel(self) -> None:
        if self._due is not None:
            self._due.cancel()
            self._due = None
