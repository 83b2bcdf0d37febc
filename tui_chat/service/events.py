"""What the service tells its owner: worker responses plus the worker's life events."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tui_chat.core.protocol import (
    ContextTrimmed,
    Done,
    Error,
    LoadProgress,
    ModelLoaded,
    PromptProgress,
    Token,
)


class ServiceState(StrEnum):
    """Where the worker is in its life."""

    LOADING = "loading"
    """A worker is starting and loading the model."""
    READY = "ready"
    """The model is loaded and nothing is being generated."""
    GENERATING = "generating"
    """A reply is being generated."""
    BROKEN = "crashed"
    """The breaker is open: the worker crashed too often in a row; no restart until retry."""
    LOAD_FAILED = "load failed"
    """The model file could not be loaded; restarting would not help."""
    CLOSED = "closed"
    """The service was shut down."""


@dataclass(frozen=True, slots=True)
class StateChanged:
    """The service moved to another state."""

    state: ServiceState
    """The new state."""


@dataclass(frozen=True, slots=True)
class WorkerCrashed:
    """The worker process died without being asked to, or could not reach its server."""

    description: str
    """How it died, for a person ("was killed by SIGKILL"); with a server, the sentence
    saying what went wrong ("Nothing answers at ... (connection refused) ...")."""
    crashes: int
    """Consecutive crashes, this one included."""
    limit: int
    """The crash that reaches this number opens the breaker."""
    restarting: bool
    """True if a new worker is being started; False if the breaker is now open."""
    server: bool = False
    """The worker ended because its server could not be reached."""
    pause_seconds: float = 0.0
    """How long the service waits before it starts the new worker."""

    @property
    def notice(self) -> str:
        """A sentence for the chat log or the banner."""
        if self.server and self.restarting:
            return (
                f"{_sentence(self.description)} Connecting again in {self.pause_seconds:g} s "
                f"(failure {self.crashes} of {self.limit} in a row)."
            )
        if self.server:
            return (
                f"The server could not be reached {_times(self.crashes)} in a row. The last "
                f"time: {_sentence(self.description)} tui-chat checks now and then whether "
                "it answers again; a message you send tries at once."
            )
        if self.restarting:
            return (
                f"The model worker {self.description}. Restarting it and loading the model "
                f"again: crash {self.crashes} of {self.limit} in a row."
            )
        return (
            f"The model worker crashed {self.crashes} times in a row. The last time, it "
            f"{self.description}. Not restarting it."
        )


@dataclass(frozen=True, slots=True)
class ServerBack:
    """The server that could not be reached answers again: a new worker connects."""

    server: str
    """Its address."""

    @property
    def notice(self) -> str:
        """A sentence for the chat log."""
        return f"The server {self.server} answers again: connecting."


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"


def _sentence(text: str) -> str:
    return text if text.endswith((".", "?", "!")) else f"{text}."


ServiceEvent = (
    StateChanged
    | WorkerCrashed
    | ServerBack
    | LoadProgress
    | ModelLoaded
    | PromptProgress
    | ContextTrimmed
    | Token
    | Done
    | Error
)

RequestEvent = Token | PromptProgress | ContextTrimmed | Done | Error
"""Events that belong to one generate request."""
