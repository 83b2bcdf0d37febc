"""What every model backend of the worker reports: the local engine and the server one."""

from __future__ import annotations

from dataclasses import dataclass

from tui_chat.core.protocol import DoneReason, Usage


class LoadError(Exception):
    """The model could not be loaded (or the server could not be reached)."""


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
