"""Which messages the model gets: the search from the newest end gives what leaving out
the oldest one at a time gave, at a cost that follows the window, not the history."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

import pytest

from tui_chat.core.protocol import ChatMessage, Generate, Sampling
from tui_chat.worker.fitting import fit_messages
from tui_chat.worker.results import RequestError

Measure = Callable[[Sequence[ChatMessage]], int]


def one_at_a_time(request: Generate, n_ctx: int, measure: Measure) -> tuple[list[ChatMessage], int]:
    """The rule as it was before the search (kept here as the reference): measure the
    whole prompt again after each exchange left out."""
    room = min(request.max_tokens, n_ctx // 4)
    messages = list(request.messages)
    size = measure(messages)
    if size + room <= n_ctx:
        return messages, 0
    target = n_ctx - room - n_ctx // 4
    first = min(request.keep, len(messages) - 1)
    dropped = 0
    while size > target and len(messages) - first > 1:
        del messages[first]
        dropped += 1
        while len(messages) - first > 1 and messages[first].role != "user":
            del messages[first]
            dropped += 1
        size = measure(messages)
    if size + room > n_ctx:
        raise RequestError(f"too long: {size}")
    return messages, dropped


def template_measure(messages: Sequence[ChatMessage]) -> int:
    """A chat template's prompt: a header per message, its words, and the reply's start."""
    return 3 + sum(4 + len(m.content.split()) for m in messages)


def random_conversation(rng: random.Random, length: int, system: bool) -> list[ChatMessage]:
    messages = [ChatMessage("system", "Be brief. " * rng.randint(1, 20))] if system else []
    for n in range(length):
        # Mostly turns about, sometimes two of a kind in a row (a failed reply left out).
        role = (
            ("user", "assistant")[n % 2]
            if rng.random() < 0.85
            else rng.choice(["user", "assistant"])
        )
        messages.append(ChatMessage(role, "word " * rng.choice([1, 3, 10, 40, 200])))
    return messages


@pytest.mark.parametrize("seed", range(300))
def test_the_search_keeps_the_messages_the_one_at_a_time_rule_kept(seed: int) -> None:
    rng = random.Random(seed)
    system = rng.random() < 0.5
    messages = random_conversation(rng, rng.choice([1, 2, 5, 20, 100, 400]), system)
    request = Generate(1, tuple(messages), rng.choice([16, 64, 256, 2048]), Sampling(),
                       keep=int(system))  # fmt: skip
    n_ctx = rng.choice([64, 256, 1024, 4096])
    try:
        expected: tuple[list[ChatMessage], int] | str = one_at_a_time(
            request, n_ctx, template_measure
        )
    except RequestError as e:
        expected = str(e).split(": ")[1]
    measured: list[list[ChatMessage]] = []

    def measure(kept: Sequence[ChatMessage]) -> int:
        measured.append(list(kept))
        return template_measure(kept)

    if isinstance(expected, str):
        with pytest.raises(RequestError, match=f"it takes {expected} tokens"):
            fit_messages(request, n_ctx, measure)
        return
    got = fit_messages(request, n_ctx, measure)
    assert got == expected
    assert measured[-1] == got[0], "the last prompt measured is the one kept"


def test_a_long_history_costs_what_the_window_costs() -> None:
    """10,000 messages, a context of 4,096: only the newest few hundred are ever
    rendered, and each a handful of times."""
    rng = random.Random(7)
    messages = random_conversation(rng, 10_000, system=True)
    request = Generate(1, tuple(messages), 512, Sampling(), keep=1)
    rendered: list[int] = []

    def measure(kept: Sequence[ChatMessage]) -> int:
        rendered.append(len(kept))
        return template_measure(kept)

    kept, dropped = fit_messages(request, 4096, measure)
    assert kept == [messages[0], *messages[1 + dropped :]]
    assert kept[1].role == "user"
    assert template_measure(kept) <= 4096 - 512 - 1024
    assert template_measure([messages[0], *messages[dropped:]]) > 4096 - 512 - 1024
    window = len(kept)
    assert max(rendered) <= 4 * window, "never the whole history"
    assert sum(rendered) <= 40 * window


def test_a_conversation_that_fits_is_measured_once() -> None:
    rng = random.Random(3)
    messages = random_conversation(rng, 20, system=True)
    calls: list[int] = []

    def measure(kept: Sequence[ChatMessage]) -> int:
        calls.append(len(kept))
        return template_measure(kept)

    request = Generate(1, tuple(messages), 64, Sampling(), keep=1)
    assert fit_messages(request, 1 << 20, measure) == (messages, 0)
    assert calls == [len(messages)]


def test_a_reply_that_goes_on_keeps_the_message_it_answers() -> None:
    """The newest message is the reply to go on with: however long the history, the
    person's message before it stays with it."""
    messages = [ChatMessage(("user", "assistant")[n % 2], "word " * 100) for n in range(20)] + [
        ChatMessage("user", "Go on."),
        ChatMessage("assistant", "word " * 300),
    ]
    request = Generate(1, tuple(messages), 64, Sampling(), continues=True)
    kept, dropped = fit_messages(request, 600, template_measure)
    assert [m.content for m in kept] == ["Go on.", "word " * 300]
    assert dropped == 20
