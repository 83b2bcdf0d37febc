"""The part of a reply where a reasoning model thinks aloud before it answers (Qwen3,
DeepSeek-R1 distills, Command R7B, Magistral, Seed-OSS, gpt-oss, Granite): told apart from
the answer, so that it is not sent back to the model with every later turn, where it would
fill the context.

Where thinking begins and ends is marked in the text, in one of the ways llama.cpp's chat
parsers know. Some templates open the block in the prompt itself (DeepSeek-R1's ends with
``<think>``): the reply then only closes it. Some wrap the answer too (gpt-oss's final
channel, Granite's ``<response>``): the wrapping is no part of the answer.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

MARKERS = (
    ("<think>", "</think>"),
    ("<|START_THINKING|>", "<|END_THINKING|>"),
    ("[THINK]", "[/THINK]"),
    ("<seed:think>", "</seed:think>"),
    # gpt-oss (OpenAI's harmony format): the analysis channel, up to the final one.
    ("<|channel|>analysis<|message|>", "<|end|><|start|>assistant<|channel|>final<|message|>"),
)
"""(opens, closes) the thinking, as the models write them."""

ANSWER_OPENS = ("<|channel|>final<|message|>",)
"""Written before an answer that had no thinking (gpt-oss when it does not reason)."""

WRAPPERS = (("<response>", "</response>"),)
"""(opens, closes) an answer after thinking (Granite's when asked to think)."""

MARKER_TEXTS = tuple(text for pair in (*MARKERS, *WRAPPERS) for text in pair) + ANSWER_OPENS
"""Every marker's text: the worker turns the control tokens they are written with into
text (llama.cpp leaves control tokens out of a reply's text)."""


@dataclass(frozen=True, slots=True)
class Split:
    """A reply told apart."""

    thinking: str
    """What it thought ("" if it did not)."""
    answer: str
    """What it answered."""
    unfinished: bool = False
    """The thinking has not ended (the reply is still in it, or stopped there)."""


class _Phase(enum.Enum):
    START = enum.auto()
    """Nothing but white space yet: thinking, a marked answer or a plain one may begin."""
    THINKING = enum.auto()
    ANSWER_START = enum.auto()
    """After the thinking: white space is dropped, a wrapper may open."""
    ANSWER = enum.auto()


def split_reply(text: str) -> Split:
    """``text`` as thinking and answer: thinking that opens at the very start (after
    white space) and closes with its marker, or that only closes (opened by the
    template), before anything that could be the answer's own code."""
    splitter = ThinkingFilter()
    thought, answer = splitter.split(text)
    answer += splitter.finish()
    if splitter.thinking:
        return Split(thought.strip(), answer, unfinished=not splitter.answering)
    for opens, closes in MARKERS:
        end = text.find(closes)
        if end > 0 and opens not in text[:end] and "```" not in text[:end]:
            rest = ThinkingFilter(_Phase.ANSWER_START)
            answer = rest.feed(text[end + len(closes) :]) + rest.finish()
            return Split(text[:end].strip(), answer)
    return Split("", answer)


class ThinkingFilter:
    """Tells a streamed reply's thinking from its answer as the pieces come (the screen
    folds the thinking, a translation shows the answer alone, the worker counts the
    thinking's tokens). Thinking that only closes, opened by the template, cannot be told
    from an answer until it closes: it passes as answer."""

    def __init__(self, phase: _Phase = _Phase.START) -> None:
        self._phase = phase
        self._held = ""
        """Text not yet told: a marker may be cut in two, between pieces."""
        self._closes = ""
        """What ends the thinking, while it goes on; then what ends the answer's wrapper."""
        self._thought_first = False

    @property
    def thinking(self) -> bool:
        """The reply began with thinking."""
        return self._thought_first

    @property
    def answering(self) -> bool:
        """What comes now is answer."""
        return self._phase in (_Phase.ANSWER_START, _Phase.ANSWER)

    def split(self, text: str) -> tuple[str, str]:
        """(thinking, answer) in ``text``, as far as can be told yet (a marker cut in two
        is held back until the next piece)."""
        if self._phase is _Phase.ANSWER and not self._closes:
            return "", text  # the common case, a token at a time: nothing to look for
        self._held += text
        thought = ""
        if self._phase is _Phase.START and not self._start():
            return "", ""
        if self._phase is _Phase.THINKING:
            thought = self._until_closed()
            if self._phase is _Phase.THINKING:
                return thought, ""
        if self._phase is _Phase.ANSWER_START and not self._answer_start():
            return thought, ""
        return thought, self._until_closed()

    def feed(self, text: str) -> str:
        """The part of ``text`` that is answer ("" while it may still be thinking)."""
        return self.split(text)[1]

    def finish(self) -> str:
        """What is still held at the reply's end and was answer after all."""
        if self._phase is _Phase.THINKING:
            return ""
        answer = self._held.lstrip() if self._phase is not _Phase.ANSWER else self._held
        self._held, self._phase, self._closes = "", _Phase.ANSWER, ""
        return answer

    def _start(self) -> bool:
        """Tell how the reply begins; False while it cannot be told yet."""
        start = self._held.lstrip()
        if not start:
            return False
        for opens, closes in MARKERS:
            if start.startswith(opens):
                self._held, self._closes = start[len(opens) :], closes
                self._phase, self._thought_first = _Phase.THINKING, True
                return True
        for opens in ANSWER_OPENS:
            if start.startswith(opens):
                self._held, self._phase = start[len(opens) :], _Phase.ANSWER_START
                return True
        if any(opens.startswith(start) for opens in (*(o for o, _ in MARKERS), *ANSWER_OPENS)):
            return False  # the start of a marker, perhaps
        self._phase = _Phase.ANSWER
        return True

    def _answer_start(self) -> bool:
        """Drop the white space and any wrapper before the answer; False while it cannot
        be told yet."""
        start = self._held.lstrip()
        self._held = start
        if not start:
            return False
        for opens, closes in WRAPPERS:
            if start.startswith(opens):
                self._held, self._closes = start[len(opens) :], closes
                break
        else:
            if any(opens.startswith(start) for opens, _ in WRAPPERS):
                return False  # the start of a wrapper, perhaps
        self._phase = _Phase.ANSWER
        return True

    def _until_closed(self) -> str:
        """The held text up to ``_closes`` (all of it when nothing closes, but for what
        may begin the marker); past the marker, the next phase begins."""
        held, closes = self._held, self._closes
        if not closes:
            self._held = ""
            return held
        end = held.find(closes)
        if end < 0:
            keep = _partial(held, closes)
            self._held = held[len(held) - keep :]
            return held[: len(held) - keep]
        rest, self._closes = held[end + len(closes) :], ""
        if self._phase is _Phase.THINKING:
            self._held, self._phase = rest, _Phase.ANSWER_START
            return held[:end]
        self._held = ""
        return held[:end] + rest  # what follows a wrapper is answer still


def opened_by(prompt_end: str) -> str:
    """The marker that opens the thinking at the end of a prompt ("" if none): the
    template began the reply's thinking (DeepSeek-R1's does), so that the reply only
    closes it."""
    end = prompt_end.rstrip()
    return next((opens for opens, _ in MARKERS if end.endswith(opens)), "")


class ThinkingCount:
    """Counts a reply's tokens as they come, and how many of them were thinking: those
    up to the one that closes it, when the reply began with thinking. A reply's length
    limit is for its answer: a reasoning model may think first."""

    def __init__(self, opened: str = "") -> None:
        """``opened``: the marker the prompt ended with (``opened_by``)."""
        self._splitter = ThinkingFilter()
        if opened:
            self._splitter.split(opened)
        self.tokens = 0
        """Tokens of the reply so far."""
        self._before_answer = 0

    def add(self, text: str) -> None:
        """Count the next token, whose text is ``text``."""
        self.tokens += 1
        if not self._splitter.answering:
            self._splitter.split(text)
            self._before_answer = self.tokens

    @property
    def thinking(self) -> int:
        """Tokens of thinking so far."""
        return self._before_answer if self._splitter.thinking else 0

    @property
    def answer(self) -> int:
        """Tokens of answer so far."""
        return self.tokens - self.thinking


def thinking_tokens(pieces: Iterable[str]) -> int:
    """How many of a reply's tokens (their texts, in order) were thinking."""
    count = ThinkingCount()
    for piece in pieces:
        count.add(piece)
    return count.thinking


def _partial(text: str, marker: str) -> int:
    """How long the end of ``text`` that could begin ``marker`` is."""
    for n in range(min(len(marker) - 1, len(text)), 0, -1):
        if marker.startswith(text[-n:]):
            return n
    return 0
