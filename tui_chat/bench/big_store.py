"""The store the long-conversation figures run on, written at the start of the run through
the store's own API: many conversations of fifty messages, one very long conversation, a
short one to compare it with, and one that holds some 3,000 tokens of context.

Messages read like a chat's: a person's of about 30 words, replies of about 150 words
with a list and a code block, built from a fixed vocabulary (searches find them).
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from pathlib import Path

from tui_chat.core.store import Store

SYLLABLES = ("ta", "ko", "mi", "ru", "se", "no", "pa", "li")
WORDS = [
    a + b + c + d
    for a in SYLLABLES
    for b in SYLLABLES
    for c in SYLLABLES
    for d in ("", "n", "s", "r", "l", "m", "k", "t")
]
"""4,096 made-up words, used as words of a language are: the n-th most common n times
less often than the most common (Zipf), so a few are in most messages and most in few."""
random.Random(5).shuffle(WORDS)  # the most common do not all start alike, as in a language
_CUMULATIVE = list(itertools.accumulate(1 / rank for rank in range(1, len(WORDS) + 1)))


def _words(rng: random.Random, k: int) -> list[str]:
    return rng.choices(WORDS, cum_weights=_CUMULATIVE, k=k)


@dataclass(frozen=True, slots=True)
class BigStore:
    """What was written, for the figures to open and search."""

    long_id: int
    """The conversation of ``long_messages`` messages, ``context_start`` 0."""
    long_messages: int
    short_id: int
    """A conversation of 20 messages."""
    resume_id: int
    """A conversation of about ``resume_tokens`` tokens of context."""
    messages: int
    """Messages in the store, all told."""
    queries: tuple[str, ...]
    """Twenty searches: single words, pairs, and the start of a word (as typed)."""


def _person(rng: random.Random, n: int) -> str:
    return f"Question {n}: " + " ".join(_words(rng, 30)) + "?"


def _reply(rng: random.Random, n: int) -> str:
    words = _words(rng, 150)
    return (
        f"Answer {n}. {' '.join(words[:60])}.\n\n"
        f"- {' '.join(words[60:75])}\n- {' '.join(words[75:90])}\n\n"
        f"```\n{' '.join(words[90:100])}\n```\n\n{' '.join(words[100:])}."
    )


def _conversation(store: Store, rng: random.Random, messages: int, replies: bool = True) -> int:
    conversation = store.create_conversation("bench")
    for n in range(messages // 2):
        store.add_message(conversation, "user", _person(rng, n), "complete")
        text = _reply(rng, n) if replies else " ".join(_words(rng, 120)) + "."
        store.add_message(conversation, "assistant", text, "complete")
    return conversation


def build(path: Path, conversations: int, each: int, long_messages: int, resume: int) -> BigStore:
    """Write the store at ``path``: ``conversations`` of ``each`` messages, one of
    ``long_messages``, one of 20, and one of ``resume`` exchanges (about 280 tokens
    each); the long one is the most recent."""
    rng = random.Random(17)
    store = Store.open(path)
    try:
        for _ in range(conversations):
            _conversation(store, rng, each)
        short_id = _conversation(store, rng, 20)
        resume_id = _conversation(store, rng, 2 * resume, replies=False)
        long_id = _conversation(store, rng, long_messages)
    finally:
        store.close()
    # Words as they come in the text: the common ones are searched for most often.
    queries = (
        *_words(rng, 10),
        *(" ".join(_words(rng, 2)) for _ in range(5)),
        *(word[:3] for word in _words(rng, 5)),
    )
    total = conversations * each + long_messages + 20 + 2 * resume
    return BigStore(long_id, long_messages, short_id, resume_id, total, queries)
