"""Benchmark figures: each with its target, its spread, and whether it is met."""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Figure:
    """One measured figure."""

    name: str
    """What was measured."""
    value: float
    """The figure (a median, a ratio of medians, or a percentile)."""
    unit: str
    """``ratio``, ``ms``, ``s``, ``MB`` or ``tok/s``."""
    target: float | None
    """The bound the figure must meet; None for a figure reported for reference."""
    at_most: bool = True
    """True: the figure must be at most ``target``; False: at least."""
    low: float | None = None
    """The smallest sample (for medians)."""
    high: float | None = None
    """The largest sample."""
    samples: int = 0
    """How many samples the figure stands on."""
    note: str = ""
    """How it was measured, in a few words."""
    details: dict[str, float] = field(default_factory=dict)
    """The raw medians behind a ratio."""

    @property
    def met(self) -> bool | None:
        """Whether the target is met (None when there is no target)."""
        if self.target is None:
            return None
        return self.value <= self.target if self.at_most else self.value >= self.target


def median_figure(
    name: str,
    samples: Sequence[float],
    unit: str,
    target: float | None,
    *,
    at_most: bool = True,
    note: str = "",
) -> Figure:
    """A figure that is the median of ``samples``."""
    return Figure(
        name,
        statistics.median(samples),
        unit,
        target,
        at_most,
        min(samples),
        max(samples),
        len(samples),
        note,
    )


def p95_figure(name: str, samples: Sequence[float], target: float, note: str) -> Figure:
    """A figure that is the 95th percentile of ``samples`` (ms), with their median."""
    return Figure(
        f"{name}, p95",
        percentile(samples, 0.95),
        "ms",
        target,
        low=min(samples),
        high=max(samples),
        samples=len(samples),
        note=note,
        details={"p50_ms": percentile(samples, 0.5)},
    )


def percentile(samples: Sequence[float], fraction: float) -> float:
    """The ``fraction`` percentile (nearest rank)."""
    ordered = sorted(samples)
    index = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[index]


def _number(value: float, unit: str) -> str:
    if unit == "ratio":
        return f"{value:.3f}"
    if unit in ("ms", "MB", "tok/s"):
        return f"{value:.1f} {unit}"
    return f"{value:.2f} {unit}"


def table(figures: Sequence[Figure]) -> str:
    """The figures as a Markdown table (it reads well in a terminal too)."""
    rows = [
        "| figure | value | min to max (n) | target | met |",
        "|---|---|---|---|---|",
    ]
    for f in figures:
        spread = (
            f"{_number(f.low, f.unit)} to {_number(f.high, f.unit)} ({f.samples})"
            if f.low is not None and f.high is not None
            else ""
        )
        target = (
            "" if f.target is None else ("≤ " if f.at_most else "≥ ") + _number(f.target, f.unit)
        )
        met = {True: "yes", False: "**no**", None: ""}[f.met]
        rows.append(f"| {f.name} | {_number(f.value, f.unit)} | {spread} | {target} | {met} |")
    return "\n".join(rows)


def write_json(figures: Sequence[Figure], path: Path, context: dict[str, object]) -> None:
    """The figures and how they were measured, as JSON."""
    document = {
        "context": context,
        "figures": [{**asdict(f), "met": f.met} for f in figures],
    }
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
