"""Every reach into Rich's private API, in one place.

Rich 15 wraps text with ``rich._wrap.divide_line`` (greedy, a word at a time) and has no
public way to ask where the lines of a wrapped text begin; a paragraph still being
written is drawn again from the start of its last lines only (``markdown_lines``), which
needs those places, and its lines are made from Rich's steps without a ``Text`` for each.
Tests compare the results with Rich's own wrapping and drawing of the whole text.
"""

from __future__ import annotations

import itertools
import re

_TRAILING_SPACE = re.compile(r"\s+$")
"""What ``Text.rstrip_end`` takes off a line too long for its width (Rich's own)."""


Wrapped = tuple[int, str, int]
"""A line of wrapped text: where it begins in the text, what it shows, its cells."""


def wrapped_lines(text: str, width: int) -> list[Wrapped]:
    """The lines ``Text(text, justify="left").wrap`` makes at ``width`` cells (a text
    without tabs), each as where it begins in ``text``, what it shows before it is padded
    to ``width``, and how many cells that takes: Rich's steps for each line (divide,
    ``rstrip_end``, ``truncate``), without building a ``Text`` for each."""
    from rich._wrap import divide_line
    from rich.cells import cell_len, set_cell_size

    lines: list[Wrapped] = []
    offset = 0
    for line in text.split("\n"):
        cuts = [0, *divide_line(line, width, fold=True), len(line)]
        for start, end in itertools.pairwise(cuts):
            shown = line[start:end]
            if len(shown) > width and (space := _TRAILING_SPACE.search(shown)):
                shown = shown[: len(shown) - min(len(space.group()), len(shown) - width)]
            cells = cell_len(shown)
            if cells > width:
                shown, cells = set_cell_size(shown, width), width
            lines.append((offset + start, shown, cells))
        offset += len(line) + 1
    return lines
