"""The part of a reply where a reasoning model thinks aloud before it answers (Qwen3,
DeepSeek-R1 distills, Command R7B, Magistral, Seed-OSS): told apart from the answer, so that
it is not sent back to the model with every later turn, where it would fill the context.

Where thinking begins and ends is marked in the text, in one of the ways llama.cpp's chat
parsers know. Some templates open the block in the prompt itself (DeepSeek-R1's ends with
``<think>``): the reply then only closes it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

MARKERS = (
    ("<think>", "</think>"),
    ("<|START_THINKING|>", "<|END_THINKING|>"),
    ("[THINK]", "[/THINK]"),
    ("<seed:think>", "</seed:think>"),
)
"""(opens, closes) the thinking, as the models write them."""


@dataclass(frozen=True, slots=True)
class Split:
    """A reply told apart."""

    thinking: str
    """What it thought ("" if it did not)."""
    answer: str
    """What it answered."""
    unfinished: bool = False
    """The thinking has not ended (the reply is still in it, or stopped there)."""


def split_reply(text: str) -> Split:
    """``text`` as thinking and answer: thinking that opens at the very start (after
    white space) and closes with its marker, or that only closes (opened by the
    template), before anything that could be the answer's own code."""
    start = text.lstrip()
    for opens, closes in MARKERS:
        if start.startswith(opens):
            inner = start[len(opens) :]
            end = inner.find(closes)
            if end < 0:
                return Split(inner.strip(), "", unfinished=True)
            return Split(inner[:end].strip(), inner[end + len(closes) :].lstrip())
    for opens, closes in MARKERS:
        end = text.find(closes)
        if end > 0 and opens not in text[:end] and "```" not in text[:end]:
            return Split(text[:end].strip(), text[end + len(closes) :].lstrip())
    return Split("", text)


class ThinkingFilter:
    """Tells a streamed reply's thinking from its answer as the pieces come (the screen
    folds the thinking, a translation shows the answer alone, the worker counts the
    thinking's tokens). Thinking that only closes, opened by the template, cannot be told
    from an answer until it closes: it passes as answer."""

    def __init__(self) -> None:
        self._held = ""
        self._closes: str | None = None
        """The closing marker, once thinking has begun."""
        self._answering = False
        self._after_thinking = False
        """The answer has not begun yet after the thinking (its white space is dropped)."""

    @property
    def thinking(self) -> bool:
        """The reply began with thinking."""
        return self._closes is not None

    @property
    def answering(self) -> bool:
        """What comes now is answer."""
        return self._answering

    def split(self, text: str) -> tuple[str, str]:
        """(thinking, answer) in ``text``, as far as can be told yet (a marker cut in two
        is held back until the next piece)."""
        if self._answering:
            if self._after_thinking:
                text = text.lstrip()
                self._after_thinking = not text
            return "", text
        self._held += text
        if self._closes is None:
            start = self._held.lstrip()
            if not start:
                return "", ""
            for opens, closes in MARKERS:
                if start.startswith(opens):
                    self._closes, self._held = closes, start[len(opens) :]
                    break
            else:
                if any(opens.startswith(start) for opens, _ in MARKERS):
                    return "", ""  # the start of a marker, perhaps
                answer, self._held, self._answering = self._held, "", True
                return "", answer
        end = self._held.find(self._closes)
        if end < 0:
            keep = _partial(self._held, self._closes)
            thought = self._held[: len(self._held) - keep]
            self._held = self._held[len(self._held) - keep :]
            return thought, ""
        thought, answer = self._held[:end], self._held[end + len(self._closes) :].lstrip()
        self._held, self._answering, self._after_thinking = "", True, not answer
        return thought, answer

    def feed(self, text: str) -> str:
        """The part of ``text`` that is answer ("" while it may still be thinking)."""
        return self.split(text)[1]

    def finish(self) -> str:
        """What is still held at the reply's end and was answer after all."""
        if self._closes is None and not self._answering:
            answer, self._held, self._answering = self._held, "", True
            return answer
        return ""


def thinking_tokens(pieces: Iterable[str]) -> int:
    """How many of a reply's tokens (their texts, in order) were thinking: those up to
    the one that closes it, when the reply began with thinking (0 otherwise)."""
    splitter, count = ThinkingFilter(), 0
    for piece in pieces:
        if splitter.answering:
            break
        splitter.split(piece)
        count += 1
    return count if splitter.thinking else 0


def _partial(text: str, marker: str) -> int:
    """How long the end of ``text`` that could begin ``marker`` is."""
    for n in range(min(len(marker) - 1, len(text)), 0, -1):
        if marker.startswith(text[-n:]):
            return n
    return 0
