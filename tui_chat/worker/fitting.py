"""Which messages of a conversation the model gets: the newest that fit its context.

Every backend measures a prompt by rendering it with the chat template and counting its
tokens, which costs as much as the prompt is long. A conversation longer than the context
is searched from its newest end, so the cost follows the window the model gets, not the
whole history (thousands of messages, after the context was made smaller).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from tui_chat.core.protocol import ChatMessage, Generate
from tui_chat.worker.results import RequestError

MEASURED_WHOLE_CHARS_PER_TOKEN = 8
"""A conversation of at most this many characters per token of context is measured whole
first, in one render (most are, and most fit)."""


def fit_messages(
    request: Generate, n_ctx: int, measure: Callable[[Sequence[ChatMessage]], int]
) -> tuple[list[ChatMessage], int]:
    """The messages of ``request`` that fit the context with room for the reply, and how
    many of the oldest were left out; ``measure`` gives a prompt's size in tokens (it is
    called last with the messages returned).

    The first ``request.keep`` messages (the system prompt) and the newest message (with
    a reply that goes on, the message it answers too) are never left out. When some must
    go, enough go to leave a quarter of the context free as well: the next turns then
    keep the same prompt prefix (and the prefix cache) for a while instead of losing one
    old message, and the cache, every turn. Messages go from the oldest, and the prompt
    begins with a person's message, as chat templates expect.

    Raises:
        RequestError: Even the newest message alone does not fit; with both numbers.
    """
    messages = list(request.messages)
    room = min(request.max_tokens, n_ctx // 4)
    fits_whole = n_ctx - room
    target = n_ctx - room - n_ctx // 4
    first = min(request.keep, len(messages) - 1)
    # A reply that goes on keeps the message it answers with it.
    newest = 2 if request.continues and len(messages) - first >= 2 else 1
    cuts = _cuts(messages, first, newest)
    window = _Windows(messages, first, cuts, measure)
    last = len(cuts) - 1
    if (
        sum(len(m.content) for m in messages) <= MEASURED_WHOLE_CHARS_PER_TOKEN * n_ctx
        and window.size(0) <= fits_whole
    ):
        return window.messages(0)
    # The smallest k >= 1 whose window fits the target (windows shrink as k grows):
    # gallop from the newest end to a window too big, then halve the gap.
    fits, too_big, step = last + 1, 0, 1
    while fits > 1:
        k = max(1, fits - step)
        if window.size(k) > target:
            too_big = k
            break
        fits, step = k, step * 2
    while fits - too_big > 1:
        k = (fits + too_big) // 2
        if window.size(k) <= target:
            fits = k
        else:
            too_big = k
    chosen = min(fits, last)
    # The whole conversation may fit after all (between the target and the whole room):
    # known once a bigger window was measured too big for it.
    if chosen > 0 and window.may_fit_whole(fits_whole):
        return window.messages(0)
    size = window.size(chosen)
    if size + room > n_ctx:
        raise RequestError(
            f"This message is too long for the model: with the chat template"
            f"{' and the system prompt' if first else ''} it takes {size} tokens, "
            f"the context holds {n_ctx} and {room} of them are kept for the reply. "
            "Shorten it, or start tui-chat with a larger --ctx."
        )
    return window.messages(chosen)


def _cuts(messages: Sequence[ChatMessage], first: int, newest: int = 1) -> list[int]:
    """Where the kept messages may begin, newest window last (the ``newest`` messages
    alone): each drops the oldest message left, and those up to the next person's."""
    cuts = [first]
    at, n = first, len(messages)
    while n - at > newest:
        at += 1
        while n - at > newest and messages[at].role != "user":
            at += 1
        cuts.append(at)
    return cuts


class _Windows:
    """The prompts with the messages from ``cuts[k]`` on, measured once each."""

    def __init__(
        self,
        messages: list[ChatMessage],
        first: int,
        cuts: list[int],
        measure: Callable[[Sequence[ChatMessage]], int],
    ) -> None:
        self._messages, self._first, self._cuts, self._measure = messages, first, cuts, measure
        self._sizes: dict[int, int] = {}
        self._last_measured = -1

    def _window(self, k: int) -> list[ChatMessage]:
        return self._messages[: self._first] + self._messages[self._cuts[k] :]

    def size(self, k: int) -> int:
        if k not in self._sizes:
            self._sizes[k] = self._measure(self._window(k))
            self._last_measured = k
        return self._sizes[k]

    def may_fit_whole(self, limit: int) -> bool:
        """Whether the whole conversation fits ``limit``: no if a window already does
        not, else measured, galloping from the largest window measured (so that a long
        history is measured only as far as needed to know)."""
        if any(size > limit for size in self._sizes.values()):
            return False
        k, step = min(self._sizes, default=len(self._cuts) - 1), 1
        while k > 0:
            k = max(0, k - step)
            if self.size(k) > limit:
                return False
            step *= 2
        return True

    def messages(self, k: int) -> tuple[list[ChatMessage], int]:
        """The messages of window ``k`` and how many were left out, measured last."""
        if self._last_measured != k:
            self._measure(self._window(k))
        return self._window(k), self._cuts[k] - self._first
