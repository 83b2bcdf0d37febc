"""How much of a model goes to the GPU: the layers asked for, fewer when they do not fit,
and where the model runs in words.

No llama_cpp here: the engine hands in how to load, so that the fallback is tested
without a GPU.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

Model = TypeVar("Model")

ALL_LAYERS = -1
"""llama.cpp's ``n_gpu_layers`` for every layer."""

_OFFLOADED = re.compile(rb"offloaded (\d+)/(\d+) layers to GPU")


def offloaded_layers(line: bytes) -> tuple[int, int] | None:
    """(layers offloaded, layers in all) from llama.cpp's load log line ("load_tensors:
    offloaded 31/31 layers to GPU"), which only a build that can offload writes."""
    found = _OFFLOADED.search(line)
    return (int(found[1]), int(found[2])) if found else None


@dataclass(frozen=True, slots=True)
class Offload:
    """Where a loaded model runs."""

    layers: int
    """The ``n_gpu_layers`` it was loaded with (``ALL_LAYERS``: all)."""
    fell_back_from: int | None = None
    """The layers asked for, when they did not load and fewer did."""

    def placement(self, reported: tuple[int, int] | None) -> str:
        """In words, from what llama.cpp reported: ``CPU`` or ``GPU 31/31 layers``."""
        if reported is None or reported[0] == 0:
            return "CPU"
        return f"GPU {reported[0]}/{reported[1]} layers"

    def note(self, reported: tuple[int, int] | None) -> str:
        """What to tell the person when the layers asked for did not fit ("" if they did)."""
        if self.fell_back_from is None:
            return ""
        asked = (
            "all layers" if self.fell_back_from == ALL_LAYERS else f"{self.fell_back_from} layers"
        )
        where = (
            f"{reported[0]} of its {reported[1]} layers run there, the rest on the CPU"
            if reported and reported[0]
            else "it runs on the CPU"
        )
        return f"The model did not load with {asked} on the GPU (not enough GPU memory?): {where}."


def fewer_layers(total: int, asked: int) -> list[int]:
    """Layer counts to try, most first, once ``asked`` did not load: halves, then none."""
    start = total if asked == ALL_LAYERS else min(asked, total)
    counts = []
    n = start // 2
    while n > 0:
        counts.append(n)
        n //= 2
    return [*counts, 0]


def load_offloaded(
    load: Callable[[int], Model],
    asked: int,
    layer_count: Callable[[], int],
    failure: type[Exception] | tuple[type[Exception], ...],
) -> tuple[Model, Offload]:
    """The model loaded with ``asked`` GPU layers, or, when that fails, with the most of
    fewer that load (a GPU short of memory), down to none.

    ``load(layers)`` raises ``failure`` when llama.cpp cannot load with that many;
    ``layer_count()`` is the model's repeating layers as its file says (0: not known,
    then the CPU is tried at once). A model that does not load on the CPU either raises
    ``failure`` from here: that is not the GPU's doing.
    """
    try:
        return load(asked), Offload(asked)
    except failure:
        if asked == 0:
            raise
    blocks = layer_count()
    tries = fewer_layers(blocks + 1, asked)[:-1] if blocks else []  # and the output layer
    for layers in tries:
        try:
            return load(layers), Offload(layers, fell_back_from=asked)
        except failure:
            continue
    return load(0), Offload(0, fell_back_from=asked)
