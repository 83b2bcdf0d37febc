"""Splitting a long text into chunks that each fit the model's context.

Chunks end at paragraph boundaries where they can, else at line and sentence
boundaries, and only as a last resort at spaces: never inside a word, a URL or a fenced
code block. Joined, the chunks give back the text exactly. Token counts come from the
model's own tokenizer through ``count``, a function the caller provides.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Counter = Callable[[Sequence[str]], Sequence[int]]
"""Token counts of several texts, in order, by the model's tokenizer."""

MAX_VERIFY_ROUNDS = 8

_FENCE = re.compile(r"[ \t]{0,3}(`{3,}|~{3,})")
# Sentence ends: Latin punctuation (and closing quotes or brackets) before white space,
# or the CJK full stop, exclamation and question marks (and closing brackets).
_SENTENCE_END = re.compile(
    "[.!?\u2026]+[\"'\u201d\u2019\u00bb)\\]]*\\s+"
    "|[\u3002\uff01\uff1f]+[\u300d\u300f\u201d\u2019\uff09]*\\s*"
)
_WORD = re.compile(r"\S+\s*")


@dataclass(frozen=True, slots=True)
class Chunk:
    """One piece of the text: what to translate and the white space around it."""

    lead: str
    """White space before the body, passed through as it is."""
    body: str
    """The text to translate (no white space at either end)."""
    trail: str
    """White space after the body, passed through as it is."""
    verbatim: bool = False
    """Passed through untranslated: only white space, or one unbreakable piece (a code
    block or a word) too long for the context."""
    tokens: int = 0
    """Tokens in the body, by the model's tokenizer."""

    @property
    def source(self) -> str:
        """The exact slice of the text this chunk covers."""
        return self.lead + self.body + self.trail

    @classmethod
    def of(cls, source: str, verbatim: bool = False, tokens: int = 0) -> Chunk:
        """The chunk covering ``source``, its white space split off."""
        body = source.strip()
        if not body:
            return cls(source, "", "", verbatim=True)
        start = source.index(body)
        return cls(source[:start], body, source[start + len(body) :], verbatim, tokens)


@dataclass(frozen=True, slots=True)
class _Unit:
    text: str
    paragraph: int
    unbreakable: bool


def split_paragraphs(text: str) -> list[tuple[str, bool]]:
    """Paragraphs with the blank lines after them, and whether each is a code block.

    A fenced code block (``` or ~~~) is one paragraph, blank lines and all; an
    unclosed fence runs to the end of the text.
    """
    paragraphs: list[tuple[str, bool]] = []
    current: list[str] = []
    is_code = False
    fence = ""  # the open fence while inside a code block
    ended = False  # the current paragraph is over: blank lines or a closing fence seen
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if fence:
            current.append(line)
            if len(stripped) >= len(fence) and set(stripped) == {fence[0]}:
                fence, ended = "", True
            continue
        if not stripped:
            current.append(line)
            ended = True
            continue
        opening = _FENCE.match(line)
        if current and (ended or opening or is_code):
            paragraphs.append(("".join(current), is_code))
            current = []
        ended = False
        is_code = bool(opening)
        fence = opening.group(1) if opening else ""
        current.append(line)
    if current:
        paragraphs.append(("".join(current), is_code))
    return paragraphs


def _cut(text: str, pattern: re.Pattern[str]) -> list[str]:
    """Split after every match of ``pattern``; the pieces join back into ``text``."""
    pieces: list[str] = []
    start = 0
    for match in pattern.finditer(text):
        if match.end() > start and match.end() < len(text):
            pieces.append(text[start : match.end()])
            start = match.end()
    pieces.append(text[start:])
    return [p for p in pieces if p]


def _sentences(paragraph: str) -> list[str]:
    """Lines, then sentences within lines: the finest boundaries worth keeping."""
    return [s for line in paragraph.splitlines(keepends=True) for s in _cut(line, _SENTENCE_END)]


def _words(text: str) -> list[str]:
    """Split at white space only, so never inside a word or a URL."""
    return _cut(text, _WORD)


def plan_chunks(text: str, budget: int, count: Counter) -> list[Chunk]:
    """Split ``text`` into chunks of at most ``budget`` tokens each.

    Args:
        text: The whole text.
        budget: Most tokens in a chunk's body.
        count: Token counts by the model's tokenizer (one call per round of counting).

    Returns:
        The chunks, in order; their ``source`` strings join into ``text`` exactly.
    """
    if budget < 1:
        raise ValueError("the token budget must be at least 1")
    if not text:
        return []
    units = [
        _Unit(piece, index, code)
        for index, (paragraph, code) in enumerate(split_paragraphs(text))
        for piece in ([paragraph] if code else _sentences(paragraph))
    ]
    sizes = list(count([u.text for u in units]))
    units, sizes = _break_long_sentences(units, sizes, budget, count)
    groups = _pack(units, sizes, budget)
    return _verify([("".join(u.text for u in g), g) for g in groups], budget, count)


def _break_long_sentences(
    units: list[_Unit], sizes: list[int], budget: int, count: Counter
) -> tuple[list[_Unit], list[int]]:
    """Split sentences longer than the budget at spaces (never inside a word)."""
    if all(size <= budget or unit.unbreakable for unit, size in zip(units, sizes, strict=True)):
        return units, sizes
    words: list[_Unit] = []
    for unit, size in zip(units, sizes, strict=True):
        if size <= budget or unit.unbreakable:
            words.append(unit)
        else:
            words += [_Unit(w, unit.paragraph, False) for w in _words(unit.text)]
    return words, list(count([u.text for u in words]))


def _pack(units: list[_Unit], sizes: list[int], budget: int) -> list[list[_Unit]]:
    """Fill chunks in order. A paragraph that does not fit in what is left of a chunk
    starts the next one, so chunks end at paragraph boundaries where they can."""
    paragraph_size: dict[int, int] = {}
    for unit, size in zip(units, sizes, strict=True):
        paragraph_size[unit.paragraph] = paragraph_size.get(unit.paragraph, 0) + size
    groups: list[list[_Unit]] = []
    current: list[_Unit] = []
    used = 0
    for unit, size in zip(units, sizes, strict=True):
        starts_paragraph = not current or current[-1].paragraph != unit.paragraph
        too_full = used + (paragraph_size[unit.paragraph] if starts_paragraph else size) > budget
        if current and too_full:
            groups.append(current)
            current, used = [], 0
        current.append(unit)
        used += size
    if current:
        groups.append(current)
    return groups


def _verify(pieces: list[tuple[str, list[_Unit]]], budget: int, count: Counter) -> list[Chunk]:
    """Count every chunk exactly; halve the few that a sum of parts underestimated."""
    for _ in range(MAX_VERIFY_ROUNDS):
        sizes = count([Chunk.of(text).body for text, _ in pieces])
        fixed: list[tuple[str, list[_Unit]]] = []
        changed = False
        for (text, group), size in zip(pieces, sizes, strict=True):
            if size <= budget or len(group) < 2:
                fixed.append((text, group))
                continue
            changed = True
            half = len(group) // 2
            for part in (group[:half], group[half:]):
                fixed.append(("".join(u.text for u in part), part))
        pieces = fixed
        if not changed:
            break
    else:
        sizes = count([Chunk.of(text).body for text, _ in pieces])
    return [
        Chunk.of(text, verbatim=size > budget, tokens=size)
        for (text, _), size in zip(pieces, sizes, strict=True)
    ]
