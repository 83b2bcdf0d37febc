"""The text batcher: the first piece at once, the rest together, within a CPU budget."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tui_chat.ui import batcher as batcher_module
from tui_chat.ui.batcher import FLUSH_SECONDS, LONGEST_FLUSH_SECONDS, TextBatcher


class Later:
    """Stands in for the event loop's ``call_later``: keeps what it is asked to run."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, Callable[[], None]]] = []

    def __call__(self, delay: float, callback: Callable[[], None]) -> Later:
        self.calls.append((delay, callback))
        return self

    def cancel(self) -> None:
        """What the batcher calls when the write came sooner."""


class Clock:
    """Wall and CPU time the test moves by hand."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.wall = 100.0
        self.cpu = 10.0
        monkeypatch.setattr(batcher_module.time, "monotonic", lambda: self.wall)
        monkeypatch.setattr(batcher_module.time, "process_time", lambda: self.cpu)


def test_the_first_piece_is_written_at_once_and_the_next_ones_together(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock(monkeypatch)
    written: list[str] = []
    later = Later()
    batcher = TextBatcher(written.append, cpu_budget=None, call_later=later)
    batcher.add("Hello")
    assert written == ["Hello"]
    clock.wall += 0.01
    batcher.add(",")
    batcher.add(" world")
    assert written == ["Hello"], "later pieces wait for the interval"
    ((delay, callback),) = later.calls
    assert delay == pytest.approx(FLUSH_SECONDS - 0.01)
    callback()
    assert written == ["Hello", ", world"]


@pytest.mark.parametrize(
    ("cpu_used", "interval"),
    [
        (0.001, FLUSH_SECONDS),  # a cheap write: as often as the screen is worth updating
        (0.012, 0.6),  # 12 ms of CPU at a 2% budget: once every 0.6 s
        (0.5, LONGEST_FLUSH_SECONDS),  # never less often than once a second
    ],
)
def test_the_interval_keeps_the_process_within_its_cpu_budget_in_one_step(
    monkeypatch: pytest.MonkeyPatch, cpu_used: float, interval: float
) -> None:
    clock = Clock(monkeypatch)
    batcher = TextBatcher(lambda _text: None, cpu_budget=0.02, call_later=Later())
    batcher.add("a")  # the first write starts the measurement
    clock.wall += 1.0
    clock.cpu += cpu_used  # what the write and everything since cost the process
    batcher.add("b")
    assert batcher.interval == pytest.approx(interval)


def test_one_dear_update_moves_the_interval_part_of_the_way(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A layout or a finished table costs several updates' CPU at once: the next update
    is not held back by all of it (the budget holds on average)."""
    clock = Clock(monkeypatch)
    batcher = TextBatcher(lambda _text: None, cpu_budget=0.05, call_later=Later())
    batcher.add("a")
    for cpu_used in (0.005, 0.005):
        clock.wall += 1.0
        clock.cpu += cpu_used
        batcher.add("b")
    assert batcher.interval == pytest.approx(0.1)  # 5 ms at 5%
    clock.wall += 1.0
    clock.cpu += 0.030  # one update of 30 ms
    batcher.add("c")
    smoothed = 0.005 + batcher_module.SMOOTHING * (0.030 - 0.005)
    assert batcher.interval == pytest.approx(smoothed / 0.05)
    assert batcher.interval < 0.030 / 0.05
