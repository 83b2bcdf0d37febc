"""The requests of one service: the replies waiting and the one in progress, who hears
each, which are being stopped, and the token counts awaited.

The one owner of "stopping": a reply asked to stop hears nothing more but its ``Done``,
and ends stopped whatever ends it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from tui_chat.core.protocol import (
    ContextTrimmed,
    Done,
    DoneReason,
    Error,
    ErrorKind,
    Generate,
    PromptProgress,
    Response,
    Token,
    TokenCounts,
    Usage,
)
from tui_chat.service.events import RequestEvent

Listener = Callable[[RequestEvent], None]
"""Hears the events of one request: its tokens, progress, error, and its end."""


class ServiceUnavailableError(Exception):
    """The service cannot take a request now (breaker open, load failed, or closed)."""


class RequestFailedError(Exception):
    """The worker answered a request with an error."""


_SERVICE_ERRORS = (ErrorKind.LOAD, ErrorKind.SERVER)
"""Errors the service acts on itself, whatever request they name."""


class Requests:
    """Replies in order, one at a time, each with its listener."""

    def __init__(self) -> None:
        self._next_id = 1
        self._pending: deque[Generate] = deque()
        self.active: Generate | None = None
        """The reply the worker is writing."""
        self.active_tokens = 0
        """Tokens of the active reply heard so far."""
        self._stopping: set[int] = set()
        self._listeners: dict[int, Listener] = {}
        self._counts: dict[int, asyncio.Future[TokenCounts]] = {}

    def new_id(self) -> int:
        """A request id not used before."""
        request_id = self._next_id
        self._next_id += 1
        return request_id

    @property
    def busy(self) -> bool:
        """True while a reply is being written or waits to be."""
        return self.active is not None or bool(self._pending)

    def add(self, request: Generate, listener: Listener) -> None:
        """Queue a reply; ``listener`` hears its events."""
        self._listeners[request.request_id] = listener
        self._pending.append(request)

    def start_next(self) -> Generate | None:
        """The next waiting reply, now the active one; None if one is active or none waits."""
        if self.active is not None or not self._pending:
            return None
        self.active = self._pending.popleft()
        self.active_tokens = 0
        return self.active

    def is_live(self, request_id: int) -> bool:
        """True for the active reply, unless it is being stopped."""
        return (
            self.active is not None
            and self.active.request_id == request_id
            and request_id not in self._stopping
        )

    def stopping(self, request_id: int) -> bool:
        """True once a stop was asked for this reply (until its end)."""
        return request_id in self._stopping

    def stop_waiting(self) -> bool:
        """End every waiting reply now, stopped; True if there was any."""
        stopped = bool(self._pending)
        while self._pending:
            request_id = self._pending.popleft().request_id
            self.deliver(request_id, Done(request_id, DoneReason.STOPPED))
        return stopped

    def stop_active(self) -> Generate | None:
        """Mark the active reply as being stopped; returns it if the worker is to be told
        (None if there is none, or it was told already)."""
        active = self.active
        if active is None or active.request_id in self._stopping:
            return None
        self._stopping.add(active.request_id)
        return active

    def finish(self, done: Done) -> bool:
        """The worker ended the active reply; False if ``done`` is for no active reply."""
        if self.active is None or done.request_id != self.active.request_id:
            return False
        self.active = None
        self._stopping.discard(done.request_id)
        self.deliver(done.request_id, done)
        return True

    def interrupt(self, *, estimated: bool) -> None:
        """The worker is gone: the active reply ends interrupted (stopped, if a stop was
        asked), with the tokens heard (``estimated``: a server's pieces)."""
        request = self.active
        if request is None:
            return
        self.active = None
        stopped = request.request_id in self._stopping
        self._stopping.discard(request.request_id)
        reason = DoneReason.STOPPED if stopped else DoneReason.INTERRUPTED
        usage = Usage(completion_tokens=self.active_tokens, estimated=estimated)
        self.deliver(request.request_id, Done(request.request_id, reason, usage))

    def fail_waiting(self, reason: DoneReason, why: str = "") -> None:
        """End every waiting reply with ``reason`` (after an error saying ``why``)."""
        while self._pending:
            request_id = self._pending.popleft().request_id
            if why:
                self.deliver(request_id, Error(ErrorKind.SERVER, why, request_id))
            self.deliver(request_id, Done(request_id, reason))

    def route(self, response: Response) -> bool:
        """Hand a response that belongs to a request to it (what comes for a reply that
        is being stopped is dropped); False for a response that is the service's."""
        match response:
            case Token(request_id=rid, count=count):
                if self.is_live(rid):
                    self.active_tokens += count
                    self.deliver(rid, response)
            case PromptProgress(request_id=rid) | ContextTrimmed(request_id=rid):
                if self.is_live(rid):
                    self.deliver(rid, response)
            case TokenCounts(request_id=rid):
                self.answer_count(rid, response)
            case Error(kind=kind, request_id=int(rid)) if kind not in _SERVICE_ERRORS:
                if self.is_count(rid):
                    self.answer_count(rid, RequestFailedError(response.message))
                else:
                    self.deliver(rid, response)
            case _:
                return False
        return True

    def deliver(self, request_id: int, event: RequestEvent) -> None:
        """Hand ``event`` to its request's listener; after its ``Done``, it hears no more."""
        if isinstance(event, Done):
            listener = self._listeners.pop(request_id, None)
        else:
            listener = self._listeners.get(request_id)
        if listener is not None:
            listener(event)

    # Token counts ---------------------------------------------------------------------

    def await_count(
        self, loop: asyncio.AbstractEventLoop
    ) -> tuple[int, asyncio.Future[TokenCounts]]:
        """A new count request's id and the future its answer settles."""
        request_id = self.new_id()
        answer: asyncio.Future[TokenCounts] = loop.create_future()
        self._counts[request_id] = answer
        return request_id, answer

    def forget_count(self, request_id: int) -> None:
        """The count's answer is no longer awaited."""
        self._counts.pop(request_id, None)

    def is_count(self, request_id: int) -> bool:
        """True if ``request_id`` is a count being awaited."""
        return request_id in self._counts

    def answer_count(self, request_id: int, counts: TokenCounts | Exception) -> None:
        """Settle a count with its answer, or with the error the worker gave."""
        answer = self._counts.get(request_id)
        if answer is None or answer.done():
            return
        if isinstance(counts, Exception):
            answer.set_exception(counts)
        else:
            answer.set_result(counts)

    def fail_counts(self, error: Exception) -> None:
        """No answer will come for the counts awaited: each fails with ``error``."""
        for request_id in list(self._counts):
            self.answer_count(request_id, error)
