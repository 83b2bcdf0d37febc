"""What every model backend of the worker reports: the local engine and the server one."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from tui_chat.core.protocol import ChatMessage, DoneReason, Generate, ModelLoaded, Prepare, Usage


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

    def prepare(self, command: Prepare) -> None:
        """Make ready for the next reply to a conversation just opened."""
        ...

    def clear(self) -> None:
        """Forget the context."""
        ...

    def close(self) -> None:
        """Free the model."""
        ...
