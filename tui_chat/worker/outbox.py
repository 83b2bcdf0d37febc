"""How the worker's main loop talks to the rest while a reply runs: tokens gathered into
few messages on the way out, and stop commands routed to the generation they name.

Pure Python over the protocol: no llama_cpp, so the worker's entry point can import it
before the model library is loaded.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from tui_chat.core.protocol import STREAM_UPDATE_SECONDS, Response, Token

TOKEN_BATCH_SECONDS = STREAM_UPDATE_SECONDS
"""Longest a generated token waits in the worker before it is sent to the UI: as often
as the screen shows new text, since each message costs the UI some of the CPU the model
needs."""


class Outbox:
    """Gathers a reply's tokens into few messages: the first at once (the time to the
    first token counts), then at most one every ``TOKEN_BATCH_SECONDS``."""

    def __init__(self, request_id: int, send: Callable[[Response], None]) -> None:
        self._request_id = request_id
        self._send = send
        self._parts: list[str] = []
        self._last = 0.0

    def add(self, text: str) -> None:
        """Take one piece of the reply; send what has gathered if it has waited enough."""
        self._parts.append(text)
        now = time.perf_counter()
        if now - self._last >= TOKEN_BATCH_SECONDS:
            self.flush(now)

    def flush(self, now: float | None = None) -> None:
        """Send whatever has gathered (at the end of a reply, or when it is due)."""
        if self._parts:
            self._send(Token(self._request_id, "".join(self._parts), len(self._parts)))
            self._parts.clear()
            self._last = time.perf_counter() if now is None else now


class StopSwitch:
    """Routes stop commands to the generation they name, from the reader thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current: int | None = None
        self._early: set[int] = set()
        self._event: threading.Event | None = None

    def attach(self, event: threading.Event) -> None:
        """Use ``event`` as the switch that the engine watches."""
        self._event = event

    def begin(self, request_id: int) -> bool:
        """Mark ``request_id`` as running; False if it was stopped before it started."""
        with self._lock:
            assert self._event is not None
            self._event.clear()
            stopped_early = request_id in self._early
            self._early = {r for r in self._early if r > request_id}
            if stopped_early:
                return False
            self._current = request_id
            return True

    def end(self) -> None:
        """No generation is running any more."""
        with self._lock:
            self._current = None
            if self._event is not None:
                self._event.clear()

    def stop(self, request_id: int) -> None:
        """Stop ``request_id`` now if it runs, or as soon as it would start."""
        with self._lock:
            if request_id == self._current and self._event is not None:
                self._event.set()
            else:
                self._early.add(request_id)
