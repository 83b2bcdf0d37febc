"""The service that owns the model worker: what the UI and the commands talk to.

A thin facade with the service's state machine (loading, ready, generating, broken,
load failed, closed). The rooms it stands on: ``supervisor`` (the worker process's life,
with ``worker_process``, ``restart_policy`` and ``server_probe``) and ``requests`` (the
replies, their listeners, stopping, the counts awaited).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from tui_chat.core.protocol import (
    ChatMessage,
    ClearContext,
    Command,
    CountTokens,
    Done,
    DoneReason,
    Error,
    ErrorKind,
    Generate,
    LoadProgress,
    ModelLoaded,
    Prepare,
    Response,
    Sampling,
    Stop,
    TokenCounts,
    WorkerReady,
)
from tui_chat.core.settings import Settings
from tui_chat.service.events import ServerBack, ServiceEvent, ServiceState, StateChanged
from tui_chat.service.requests import (
    Listener,
    RequestFailedError,
    Requests,
    ServiceUnavailableError,
)
from tui_chat.service.supervisor import Lost, Supervisor

__all__ = ["LlmService", "RequestFailedError", "ServiceUnavailableError"]

_STOPPED_STATES = (ServiceState.BROKEN, ServiceState.LOAD_FAILED, ServiceState.CLOSED)


class LlmService:
    """Owns the worker's life; the UI talks only to this object."""

    def __init__(
        self, settings: Settings, log_path: Path, sink: Callable[[ServiceEvent], None]
    ) -> None:
        """
        Args:
            settings: Model, context, threads, sampling and crash limit.
            log_path: Where the worker writes stdout and stderr.
            sink: Called on the event loop with every event that belongs to no request
                (and with a request's events when it was asked without a listener).
        """
        self.settings = settings
        self._sink = sink
        self._requests = Requests()
        self._supervisor = Supervisor(
            log_path,
            settings.crash_limit,
            self._handle,
            self._lost,
            lambda: self._set_state(ServiceState.LOADING),
            lambda: self._emit(ServerBack(self.settings.server)),
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._state = ServiceState.LOADING
        self._state_waiters: list[asyncio.Future[None]] = []
        self._model: ModelLoaded | None = None
        self.start_seconds: list[float] = []
        """For each worker started: seconds from its spawn to its model loaded."""

    @property
    def state(self) -> ServiceState:
        """Where the worker is in its life."""
        return self._state

    @property
    def model(self) -> ModelLoaded | None:
        """The loaded model, once the worker has reported it."""
        return self._model

    @property
    def worker_pid(self) -> int | None:
        """The worker's process id, while one runs."""
        worker = self._supervisor.worker
        return worker.pid if worker else None

    @property
    def crashes(self) -> int:
        """Consecutive crashes so far."""
        return self._supervisor.policy.crashes

    @property
    def workers_started(self) -> int:
        """Worker processes started so far."""
        return self._supervisor.workers_started

    @property
    def busy(self) -> bool:
        """True while a reply is being generated or waits to be."""
        return self._requests.busy

    @property
    def accepts_requests(self) -> bool:
        """True unless the breaker is open, the load failed, or the service is closed; a
        server that could not be reached takes requests: each is a new attempt."""
        return bool(self._supervisor.server_down) or self._state not in _STOPPED_STATES

    @property
    def started(self) -> bool:
        """True once ``start`` was called."""
        return self._loop is not None

    # Commands -------------------------------------------------------------------------

    def start(self) -> None:
        """Spawn the worker and have it load the model. Call on the running event loop."""
        self._loop = asyncio.get_running_loop()
        self._supervisor.start(self.settings.load_command())

    def generate(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int | None = None,
        sampling: Sampling | None = None,
        keep: int = 0,
        listener: Listener | None = None,
        continues: bool = False,
    ) -> int:
        """Ask for a reply to ``messages``; returns the request id. While the model
        loads, the request waits. ``listener`` (else the sink) hears its tokens,
        progress, error and, always last, its ``Done``. With ``continues``, the last
        message is a reply the model goes on writing.

        Raises:
            ServiceUnavailableError: The breaker is open, the load failed, or closed.
        """
        if not self.accepts_requests:
            raise self._unavailable()
        if self._state is ServiceState.BROKEN:  # the server's: this request tries it again
            self._supervisor.try_again(attempts=1)
        request = Generate(
            self._requests.new_id(),
            tuple(messages),
            max_tokens or self.settings.max_tokens,
            sampling or self.settings.sampling,
            keep,
            continues,
        )
        self._requests.add(request, listener or self._sink)
        self._dispatch()
        return request.request_id

    def stop(self) -> bool:
        """Stop the reply in progress and drop waiting ones; True if there was any.
        Tokens that arrive after this call are not passed on."""
        dropped = self._requests.stop_waiting()
        active = self._requests.stop_active()
        if active is not None and self._supervisor.worker is not None:
            self._supervisor.send(Stop(active.request_id))
            self._supervisor.watch_stop(lambda: self._requests.active is active)
        return dropped or active is not None

    async def count_tokens(
        self, texts: Sequence[str] = (), prompts: Sequence[Sequence[ChatMessage]] = ()
    ) -> TokenCounts:
        """Count tokens with the model's own tokenizer, in one round trip to the worker.

        Raises:
            ServiceUnavailableError: No worker can answer (breaker open, load failed,
                closed), or it crashed before answering.
            RequestFailedError: The worker could not count (no model loaded).
        """
        if self._supervisor.worker is None:
            await self.wait_ready()  # a new worker starts after a pause
        if self._state in _STOPPED_STATES or self._loop is None:
            raise self._unavailable()
        request_id, answer = self._requests.await_count(self._loop)
        self._send(CountTokens(request_id, tuple(texts), tuple(tuple(p) for p in prompts)))
        try:
            return await answer
        finally:
            self._requests.forget_count(request_id)

    async def wait_ready(self) -> ModelLoaded:
        """Wait until a model is loaded.

        Raises:
            ServiceUnavailableError: The load failed, the breaker opened, or closed.
        """
        while self._model is None:
            if self._state in _STOPPED_STATES or self._loop is None:
                raise self._unavailable()
            changed = self._loop.create_future()
            self._state_waiters.append(changed)
            await changed
        return self._model

    def prepare(self, messages: Sequence[ChatMessage], keep: int = 0) -> None:
        """A conversation was opened: the model may make ready for its next reply
        (restore its state kept on disk)."""
        self._send(Prepare(tuple(messages), self.settings.max_tokens, keep))

    def clear_context(self) -> None:
        """Stop any reply and make the model forget the conversation."""
        self.stop()
        self._send(ClearContext())

    def retry(self) -> None:
        """Close the breaker and start a fresh worker (after it opened, or a load error)."""
        if self._state in (ServiceState.BROKEN, ServiceState.LOAD_FAILED):
            self._supervisor.try_again()

    async def reload(self, settings: Settings) -> None:
        """Use ``settings`` from now on with a fresh worker: another model file, context
        size or thread count. A reply in progress ends stopped, with what it has so far;
        requests that wait are answered by the new model. Not a crash."""
        if self._supervisor.closing or self._loop is None:
            return
        self.settings = settings
        active = self._requests.stop_active()  # it ends stopped; those waiting go to the new one
        self._lose_worker("the model is being changed")
        await self._supervisor.replace(self.settings.load_command(), active and active.request_id)

    async def close(self) -> None:
        """Shut the worker down: ask, wait, then kill. Never leaves a process behind."""
        await self._supervisor.close(self._active_id())
        self._closed()

    def close_now(self) -> None:
        """Blocking variant of ``close`` for paths that have no event loop any more."""
        self._supervisor.close_now(self._active_id())
        self._closed()

    # The worker's life ------------------------------------------------------------------

    def _active_id(self) -> int | None:
        return self._requests.active.request_id if self._requests.active else None

    def _lose_worker(self, why: str) -> None:
        """No model answers now: the reply in progress is interrupted, counts fail."""
        self._model = None
        self._requests.interrupt(estimated=bool(self.settings.server))
        self._requests.fail_counts(ServiceUnavailableError(why))

    def _lost(self, lost: Lost) -> None:
        """The worker ended by itself; the supervisor starts another unless it gave up."""
        self._lose_worker(lost.why)
        self._emit(lost.crash)
        if lost.crash.restarting:
            return
        if lost.server_gone:  # requests that waited fail with why
            self._requests.fail_waiting(DoneReason.ERROR, self._supervisor.server_down)
        else:
            self._requests.fail_waiting(DoneReason.INTERRUPTED)
        self._set_state(ServiceState.BROKEN)

    def _closed(self) -> None:
        self._requests.fail_counts(ServiceUnavailableError("tui-chat is shutting down"))
        self._set_state(ServiceState.CLOSED)

    # Responses ------------------------------------------------------------------------

    def _handle(self, response: Response) -> None:
        requests = self._requests
        if requests.route(response):
            return
        match response:
            case Done(reason=reason):
                if not requests.finish(response):
                    return  # of a reply that already ended (the worker was replaced)
                if reason is not DoneReason.ERROR:
                    self._supervisor.policy.after_success()
                self._set_state(ServiceState.READY)
                self._dispatch()
            case ModelLoaded():
                self.start_seconds.append(time.perf_counter() - self._supervisor.spawned_at)
                self._model = response
                self._emit(response)
                self._set_state(ServiceState.READY)
                self._dispatch()
            case Error(kind=ErrorKind.SERVER, request_id=rid):
                # The worker ends next: the message says why, in the crash notice.
                if self._supervisor.worker is not None:
                    self._supervisor.worker.server_error = response.message
                if rid is not None:
                    requests.deliver(rid, response)
            case Error(kind=ErrorKind.LOAD):
                self._load_failed(response)
            case LoadProgress() | Error():
                self._emit(response)
            case WorkerReady():
                refused = self._supervisor.handshake(response)
                if refused is not None:
                    self._load_failed(refused)

    def _load_failed(self, error: Error) -> None:
        self._emit(error)
        self._requests.fail_waiting(DoneReason.ERROR)
        self._requests.fail_counts(ServiceUnavailableError(error.message))
        self._set_state(ServiceState.LOAD_FAILED)

    def _dispatch(self) -> None:
        """Send the next waiting request if the model is ready and idle."""
        if self._state is not ServiceState.READY:
            return
        request = self._requests.start_next()
        if request is not None:
            self._send(request)
            self._set_state(ServiceState.GENERATING)

    def _send(self, command: Command) -> None:
        self._supervisor.send(command)

    def _set_state(self, state: ServiceState) -> None:
        if state is not self._state:
            self._state = state
            waiters, self._state_waiters = self._state_waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)
            self._emit(StateChanged(state))

    def _emit(self, event: ServiceEvent) -> None:
        self._sink(event)

    def _unavailable(self) -> ServiceUnavailableError:
        """Why no request can be taken now, for a person."""
        match self._state:
            case ServiceState.BROKEN if self._supervisor.server_down:
                down = self._supervisor.server_down.rstrip(".")
                why = f"the server could not be reached ({down})"
            case ServiceState.BROKEN:
                why = f"the model worker was stopped after {self.crashes} failures in a row"
            case ServiceState.LOAD_FAILED:
                why = "the model could not be loaded"
            case ServiceState.CLOSED:
                why = "the model worker was shut down"
            case _:
                why = f"the model worker is {self._state.value}"
        return ServiceUnavailableError(why)
