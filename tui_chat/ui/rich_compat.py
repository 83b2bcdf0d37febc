"""Every reach into Rich's private API, in one place.

Rich 15 wraps text with ``rich._wrap.divide_line`` (greedy, a word at a time) and has no
public way to ask where the lines of a wrapped text begin; a paragraph still being
written is drawn again from the start of its last lines only (``markdown_lines``), which
needs those places. A test compares the result with Rich's own wrapping of the whole text.
"""

from __future__ import annotations


def line_starts(text: str, width: int) -> list[int]:
    """Where, in ``text``, each of the lines Rich wraps it into at ``width`` cells begins
    (at each line break, and words longer than a line folded, as Rich's Markdown does)."""
    from rich._wrap import divide_line

    starts: list[int] = []
    offset = 0
    for line in text.split("\n"):
        starts.append(offset)
        starts.extend(offset + at for at in divide_line(line, width, fold=True))
        offset += len(line) + 1
    return starts
