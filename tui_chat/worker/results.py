"""What every model backend of the worker reports: the local engine and the server one."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from tui_chat.core.protocol import ChatMessage, DoneReason, Generate, ModelLoaded, Usage


class LoadError(Exception):
    """The model could not be loaded (or the server could not be reached)."""


class ServerUnavailable(LoadError):
    """The server cannot be reached now, or failed to answer (a timeout, a 5xx answer):
    the worker ends, and the service starts a new one after a pause, through the crash
    breaker, as after a crash of a local model."""


class RequestError(Exception):
    """A request cannot be served (for example: the prompt does not fit the context)."""


class ServerLost(RequestError):
    """The connection to the server failed during a request: the worker ends, so that
    the reply is kept as interrupted and the crash breaker counts it, as for a crash of a
    local model (its restart connects again)."""


@dataclass(frozen=True, slots=True)
class GenerationResult:
    """How a generation ended."""

    reason: DoneReason
    usage: Usage


def common_prefix_length(a: Sequence[object], b: Sequence[object]) -> int:
    """Length of the longest common prefix of two token sequences."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


class Backend(Protocol):
    """A loaded model as the worker uses it: the local engine, a server's, or a script."""

    @property
    def stop_event(self) -> threading.Event:
        """Set from any thread to stop the reply in progress."""
        ...

    def info(self) -> ModelLoaded:
        """What the service and the UI need to know about the model."""
        ...

    def describe(self) -> str:
        """The loaded model in a line, for the worker's log (what the UI does not need:
        load time, the context it was trained with, threads, chat template)."""
        ...

    def generate(
        self,
        request: Generate,
        emit: Callable[[str], None],
        on_prompt_progress: Callable[[int, int], None],
        on_trimmed: Callable[[int], None] = ...,
    ) -> GenerationResult:
        """Generate a reply, calling ``emit`` with each piece of text."""
        ...

    def prompt_tokens(self, messages: Sequence[ChatMessage]) -> Sequence[object]:
        """The conversation as the model's prompt, in its tokens."""
        ...

    def count_text(self, text: str) -> int:
        """Tokens in ``text`` on its own."""
        ...

    def clear(self) -> None:
        """Forget the context."""
        ...

    def close(self) -> None:
        """Free the model."""
        ...


def fit_messages(
    request: Generate, n_ctx: int, measure: Callable[[Sequence[ChatMessage]], int]
) -> tuple[list[ChatMessage], int]:
    """The messages of ``request`` that fit the context with room for the reply, and how
    many of the oldest were left out; ``measure`` gives a prompt's size in tokens (it is
    called last with the messages returned).

    The first ``request.keep`` messages (the system prompt) and the newest message are
    never left out. When some must go, enough go to leave a quarter of the context free
    as well: the next turns then keep the same prompt prefix (and the prefix cache) for a
    while instead of losing one old message, and the cache, every turn.

    Raises:
        RequestError: Even the newest message alone does not fit; with both numbers.
    """
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
        # Begin with a person's message, as chat templates expect.
        while len(messages) - first > 1 and messages[first].role != "user":
            del messages[first]
            dropped += 1
        size = measure(messages)
    if size + room > n_ctx:
        raise RequestError(
            f"This message is too long for the model: with the chat template"
            f"{' and the system prompt' if first else ''} it takes {size} tokens, "
            f"the context holds {n_ctx} and {room} of them are kept for the reply. "
            "Shorten it, or start tui-chat with a larger --ctx."
        )
    return messages, dropped
