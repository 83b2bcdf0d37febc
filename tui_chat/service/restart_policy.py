"""When a worker that ended by itself is started again: the crash breaker, the pauses
before a server is tried again, and how long a stop may take.

Pure decisions, no process and no clock: ``LlmService`` acts on them.
"""

from __future__ import annotations

from dataclasses import dataclass

from tui_chat.core.breaker import CrashBreaker

STOP_DEADLINE_SECONDS = 2.0
"""A worker that has not confirmed a stop by then is taken as hung: it is ended and a
fresh one started (a crash, for the breaker)."""
SERVER_RETRY_SECONDS = 1.0
"""Pause before the first new attempt after the server could not be reached; it doubles
with each failure in a row (a server that restarts needs a moment; a crash of a local
model is restarted at once)."""
SERVER_RETRY_MAX_SECONDS = 30.0
"""The longest pause between attempts, however high the crash limit is set."""
SERVER_PROBE_SECONDS = 10.0
"""Once the breaker opened for a server, the first quiet check of whether it answers
again (its model list); the pause doubles after each check that finds it down."""
SERVER_PROBE_MAX_SECONDS = 60.0
"""The longest pause between two such checks."""


@dataclass(frozen=True, slots=True)
class Restart:
    """Start a new worker after ``pause`` seconds (0: at once)."""

    pause: float = 0.0


@dataclass(frozen=True, slots=True)
class GiveUp:
    """The breaker is open: no new worker until the person asks (or, for a server, until
    a check after ``probe_after`` seconds finds it answering)."""

    probe_after: float | None = None
    """None for a local model: it does not heal by itself."""


class RestartPolicy:
    """Decides what follows a worker's unasked-for end."""

    def __init__(self, crash_limit: int) -> None:
        self._breaker = CrashBreaker(crash_limit)

    @property
    def crashes(self) -> int:
        """Failures in a row so far."""
        return self._breaker.count

    @property
    def limit(self) -> int:
        """The failure in a row that opens the breaker."""
        return self._breaker.limit

    def after_crash(self, *, server: bool) -> Restart | GiveUp:
        """A worker ended without being asked to (``server``: it could not reach its
        server). A local model is restarted at once; a server is given a pause that
        doubles with each failure in a row."""
        if not self._breaker.record_crash():
            return GiveUp(SERVER_PROBE_SECONDS if server else None)
        if not server:
            return Restart()
        doubling = SERVER_RETRY_SECONDS * 2 ** (self._breaker.count - 1)
        return Restart(min(doubling, SERVER_RETRY_MAX_SECONDS))

    def after_success(self) -> None:
        """A reply ended the way the worker meant it to: earlier failures are forgotten."""
        self._breaker.record_success()

    def reset(self, attempts: int | None = None) -> None:
        """Try again: the breaker opens after ``attempts`` more failures in a row (None:
        after its limit)."""
        self._breaker.reset(attempts)

    @staticmethod
    def next_probe(waited: float) -> float:
        """The pause before the next check of a server that did not answer the last one."""
        return min(waited * 2, SERVER_PROBE_MAX_SECONDS)
