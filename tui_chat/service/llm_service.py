"""The service that owns the model worker process.

It spawns the worker, sends it commands, turns its responses into events for its
owner (the Textual app posts them as messages; the command line prints them), watches
for the worker's death and restarts it through the crash breaker. It runs on an asyncio
event loop: the pipe and the process sentinel are watched with ``loop.add_reader``, so a
response or a death is seen within a fraction of a millisecond and nothing polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tui_chat.core.breaker import CrashBreaker
from tui_chat.core.protocol import (
    EXIT_SERVER_LOST,
    ChatMessage,
    ClearContext,
    Command,
    ContextTrimmed,
    CountTokens,
    Done,
    DoneReason,
    Error,
    ErrorKind,
    Generate,
    LoadModel,
    LoadProgress,
    ModelLoaded,
    PromptProgress,
    Response,
    Sampling,
    Shutdown,
    Stop,
    Token,
    TokenCounts,
    Usage,
    WorkerReady,
)
from tui_chat.core.settings import Settings
from tui_chat.service.events import (
    RequestEvent,
    ServerBack,
    ServiceEvent,
    ServiceState,
    StateChanged,
    WorkerCrashed,
)

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

READ_BATCH = 1024
"""Most worker messages handled per wake-up of the event loop."""

STOP_DEADLINE_SECONDS = 2.0
"""A worker that has not confirmed a stop by then is taken as hung: it is ended and a
fresh one started (a crash, for the breaker)."""
SHUTDOWN_GRACE_SECONDS = 2.0
"""How long a worker may take to exit after the shutdown command before it is killed."""
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


class ServiceUnavailableError(Exception):
    """The service cannot take a request now (breaker open, load failed, or closed)."""


class RequestFailedError(Exception):
    """The worker answered a request with an error."""


def describe_exit(exitcode: int | None) -> str:
    """Say how a process ended, for a person."""
    if exitcode is None:
        return "disappeared"
    if exitcode == EXIT_SERVER_LOST:
        return "lost its connection to the server"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        if name == "SIGSEGV":
            return "crashed with a segmentation fault (SIGSEGV)"
        if name == "SIGKILL":
            return "was killed by SIGKILL (out of memory, or killed by hand)"
        return f"was killed by {name}"
    return f"exited by itself with status {exitcode}"


class _Worker:
    """One worker process and its pipe."""

    def __init__(self, process: BaseProcess, conn: Connection) -> None:
        self.process = process
        self.conn = conn
        self.pid: int | None = process.pid
        self.hung = False
        """Ended by the service because it did not answer a stop."""
        self.server_error = ""
        """Why it could not reach its server, when it said so before ending."""


class LlmService:
    """Owns the worker's life; the UI talks only to this object."""

    def __init__(
        self,
        settings: Settings,
        log_path: Path,
        sink: Callable[[ServiceEvent], None],
    ) -> None:
        """
        Args:
            settings: Model, context, threads, sampling and crash limit.
            log_path: Where the worker writes stdout and stderr.
            sink: Called on the event loop with every event, in order.
        """
        self.settings = settings
        self._log_path = log_path
        self._sink = sink
        self._breaker = CrashBreaker(settings.crash_limit)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._worker: _Worker | None = None
        self._state = ServiceState.LOADING
        self._model: ModelLoaded | None = None
        self._next_id = 1
        self._pending: deque[Generate] = deque()
        self._active: Generate | None = None
        self._active_tokens = 0
        self._stopping: set[int] = set()
        self._closing = False
        self._spawned_at = 0.0
        self.start_seconds: list[float] = []
        """For each worker started: seconds from its spawn to its model loaded."""
        self._listeners: dict[int, Callable[[RequestEvent], None]] = {}
        self._counts: dict[int, asyncio.Future[TokenCounts]] = {}
        self._state_waiters: list[asyncio.Future[None]] = []
        self._retiring: _Worker | None = None
        self._restart: asyncio.TimerHandle | None = None
        """A new worker to be started after a pause (the server could not be reached)."""
        self._server_down = ""
        """Why the breaker opened for the server ("" when it did not, or a local model)."""
        self._probe: asyncio.TimerHandle | None = None
        """The next quiet check of whether the server answers again."""
        self._probes = 0
        """Counts the times the server was given up on: a check's answer that comes for
        an earlier time is not heard."""
        self.workers_started = 0
        """Worker processes started so far."""

    # Properties -----------------------------------------------------------------------

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
        return self._worker.pid if self._worker else None

    @property
    def crashes(self) -> int:
        """Consecutive crashes so far."""
        return self._breaker.count

    @property
    def busy(self) -> bool:
        """True while a reply is being generated or waits to be."""
        return self._active is not None or bool(self._pending)

    @property
    def _stopped(self) -> bool:
        """No worker runs and none will start by itself."""
        return self._state in (ServiceState.BROKEN, ServiceState.LOAD_FAILED, ServiceState.CLOSED)

    @property
    def accepts_requests(self) -> bool:
        """True unless the breaker is open, the load failed, or the service is closed; a
        server that could not be reached takes requests: each is a new attempt."""
        if self._state is ServiceState.BROKEN and self._server_down:
            return True
        return not self._stopped

    # Commands -------------------------------------------------------------------------

    def start(self) -> None:
        """Spawn the worker and have it load the model. Call on the running event loop."""
        self._loop = asyncio.get_running_loop()
        self._spawn()

    def generate(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int | None = None,
        sampling: Sampling | None = None,
        keep: int = 0,
        listener: Callable[[RequestEvent], None] | None = None,
    ) -> int:
        """Ask for a reply to ``messages``; returns the request id.

        While the model loads, the request waits and is sent when the model is ready.
        The request's tokens, progress, error and done go to ``listener`` when one is
        given, else to the sink like every other event.

        Raises:
            ServiceUnavailableError: The breaker is open, the load failed, or closed.
        """
        if not self.accepts_requests:
            raise self._unavailable()
        if self._state is ServiceState.BROKEN:  # the server's: this request tries it again
            self._try_again(attempts=1)
        request = Generate(
            request_id=self._next_id,
            messages=tuple(messages),
            max_tokens=max_tokens or self.settings.max_tokens,
            sampling=sampling or self.settings.sampling,
            keep=keep,
        )
        self._next_id += 1
        if listener is not None:
            self._listeners[request.request_id] = listener
        self._pending.append(request)
        self._dispatch()
        return request.request_id

    def stop(self) -> bool:
        """Stop the reply in progress and drop waiting ones; True if there was any.

        Tokens that arrive after this call are not passed on.
        """
        stopped = False
        while self._pending:
            request = self._pending.popleft()
            self._emit_for(request.request_id, Done(request.request_id, DoneReason.STOPPED))
            stopped = True
        if self._active is not None and self._active.request_id not in self._stopping:
            self._stopping.add(self._active.request_id)
            self._send(Stop(self._active.request_id))
            if self._loop is not None and self._worker is not None:
                self._loop.call_later(
                    STOP_DEADLINE_SECONDS, self._stop_overdue, self._worker, self._active
                )
            stopped = True
        return stopped

    def _unavailable(self) -> ServiceUnavailableError:
        """Why no request can be taken now, for a person."""
        match self._state:
            case ServiceState.BROKEN if self._server_down:
                return ServiceUnavailableError(
                    f"the server could not be reached ({self._server_down.rstrip('.')})"
                )
            case ServiceState.BROKEN:
                return ServiceUnavailableError(
                    f"the model worker was stopped after {self._breaker.count} failures in a row"
                )
            case ServiceState.LOAD_FAILED:
                return ServiceUnavailableError("the model could not be loaded")
            case ServiceState.CLOSED:
                return ServiceUnavailableError("the model worker was shut down")
            case _:
                return ServiceUnavailableError(f"the model worker is {self._state.value}")

    def _stop_overdue(self, worker: _Worker, request: Generate) -> None:
        """A stop was not confirmed in time: a worker stuck in native code (or stopped by
        a signal) cannot answer, so it is ended; the exit is handled as a crash."""
        if worker is not self._worker or self._active is not request or self._closing:
            return  # it answered, crashed meanwhile, or the service is closing
        worker.hung = True
        with contextlib.suppress(OSError):
            worker.process.kill()

    async def count_tokens(
        self, texts: Sequence[str] = (), prompts: Sequence[Sequence[ChatMessage]] = ()
    ) -> TokenCounts:
        """Count tokens with the model's own tokenizer, in one round trip to the worker.

        Raises:
            ServiceUnavailableError: No worker can answer (breaker open, load failed,
                closed), or it crashed before answering.
            RequestFailedError: The worker could not count (no model loaded).
        """
        if self._worker is None:
            await self.wait_ready()  # a new worker starts after a pause
        if self._stopped or self._loop is None:
            raise self._unavailable()
        request_id = self._next_id
        self._next_id += 1
        answer: asyncio.Future[TokenCounts] = self._loop.create_future()
        self._counts[request_id] = answer
        self._send(CountTokens(request_id, tuple(texts), tuple(tuple(p) for p in prompts)))
        try:
            return await answer
        finally:
            self._counts.pop(request_id, None)

    async def wait_ready(self) -> ModelLoaded:
        """Wait until a model is loaded.

        Raises:
            ServiceUnavailableError: The load failed, the breaker opened, or closed.
        """
        while self._model is None:
            if self._stopped or self._loop is None:
                raise self._unavailable()
            changed = self._loop.create_future()
            self._state_waiters.append(changed)
            await changed
        return self._model

    def clear_context(self) -> None:
        """Stop any reply and make the model forget the conversation."""
        self.stop()
        if self._worker is not None:
            self._send(ClearContext())

    def retry(self) -> None:
        """Close the breaker and start a fresh worker (after it opened, or a load error)."""
        if self._state in (ServiceState.BROKEN, ServiceState.LOAD_FAILED):
            self._try_again()

    def _try_again(self, attempts: int | None = None) -> None:
        """A fresh worker; the breaker opens again after ``attempts`` failures in a row
        (None: after its limit)."""
        self._breaker.reset(attempts)
        self._server_down = ""
        self._cancel_probe()
        self._cancel_restart()
        failed = self._detach()  # after a load error the old worker is alive and idle
        if failed is not None:
            with contextlib.suppress(OSError, ValueError):
                failed.conn.send(Shutdown())
            _reap(failed)
        self._spawn()

    async def reload(self, settings: Settings) -> None:
        """Use ``settings`` from now on with a fresh worker: another model file, context
        size or thread count. A reply in progress ends stopped, with what it has so far;
        requests that wait are answered by the new model. Not a crash."""
        if self._closing or self._loop is None:
            return
        self.settings = settings
        self._cancel_restart()
        self._cancel_probe()
        self._server_down = ""
        active = self._active
        worker = self._detach()
        if active is not None:
            self._stopping.add(active.request_id)
        self._interrupt_active()
        self._fail_counts(ServiceUnavailableError("the model is being changed"))
        self._model = None
        self._set_state(ServiceState.LOADING)  # what is sent meanwhile waits for the new one
        if worker is not None:
            with contextlib.suppress(OSError, ValueError):
                if active is not None:  # it leaves its token loop, then reads Shutdown
                    worker.conn.send(Stop(active.request_id))
                worker.conn.send(Shutdown())
            await self._wait_for_exit(worker, SHUTDOWN_GRACE_SECONDS)
            _reap(worker)
        if self._closing:
            return
        self._breaker.reset()
        self._spawn()

    async def close(self) -> None:
        """Shut the worker down: ask, wait, then kill. Never leaves a process behind."""
        worker = self._begin_shutdown()
        if worker is not None:
            await self._wait_for_exit(worker, SHUTDOWN_GRACE_SECONDS)
            self._end_shutdown(worker)

    def close_now(self) -> None:
        """Blocking variant of ``close`` for paths that have no event loop any more."""
        worker = self._begin_shutdown()
        if worker is not None:
            worker.process.join(SHUTDOWN_GRACE_SECONDS)
            self._end_shutdown(worker)

    def _begin_shutdown(self) -> _Worker | None:
        """Stop watching the worker and ask it to exit; the worker still to be reaped."""
        self._closing = True
        self._cancel_restart()
        self._cancel_probe()
        active = self._active
        worker = self._detach()
        if worker is not None:
            # Kept until reaped, so that a close interrupted half-way can be finished.
            self._retiring = worker
            with contextlib.suppress(OSError, ValueError):
                if active is not None:  # it leaves its token loop, then reads Shutdown
                    worker.conn.send(Stop(active.request_id))
                worker.conn.send(Shutdown())
        elif self._retiring is None:
            self._set_state(ServiceState.CLOSED)
        return self._retiring

    def _end_shutdown(self, worker: _Worker) -> None:
        self._fail_counts(ServiceUnavailableError("tui-chat is shutting down"))
        if self._retiring is worker:
            self._retiring = None
            _reap(worker)
        self._set_state(ServiceState.CLOSED)

    # Worker life ----------------------------------------------------------------------

    def _spawn(self) -> None:
        assert self._loop is not None, "start() first"
        # Imported when the first worker starts, after the first frame is on screen.
        import multiprocessing

        from tui_chat.worker import main as worker_main

        context = multiprocessing.get_context("spawn")
        parent_conn, child_conn = context.Pipe(duplex=True)
        process = context.Process(
            target=worker_main.run,
            args=(child_conn, str(self._log_path)),
            name="tui-chat-worker",
            daemon=True,
        )
        self._spawned_at = time.perf_counter()
        self.workers_started += 1
        with _real_stderr():
            process.start()
        # Only the child may hold its end: when the child dies, our reads hit EOF.
        child_conn.close()
        worker = _Worker(process, parent_conn)
        self._worker = worker
        self._model = None
        self._loop.add_reader(parent_conn.fileno(), self._on_readable, worker)
        self._loop.add_reader(process.sentinel, self._on_exit, worker)
        s = self.settings
        self._send(
            LoadModel(
                str(s.model),
                s.n_ctx,
                s.n_threads,
                s.seed,
                server=s.server,
                server_model=s.server_model,
                api_key_env=s.api_key_env if s.server else "",
                script=s.script,
            )
        )
        self._set_state(ServiceState.LOADING)

    def _spawn_later(self, seconds: float) -> None:
        assert self._loop is not None
        self._cancel_restart()
        self._set_state(ServiceState.LOADING)  # what is sent meanwhile waits for it
        self._restart = self._loop.call_later(seconds, self._spawn_now)

    def _spawn_now(self) -> None:
        self._restart = None
        if not self._closing and self._worker is None:
            self._spawn()

    def _cancel_restart(self) -> None:
        if self._restart is not None:
            self._restart.cancel()
            self._restart = None

    def _detach(self) -> _Worker | None:
        """Stop watching the current worker and forget it."""
        worker = self._worker
        self._worker = None
        if worker is not None and self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(worker.conn.fileno())
            self._loop.remove_reader(worker.process.sentinel)
        return worker

    async def _wait_for_exit(self, worker: _Worker, timeout: float) -> None:
        assert self._loop is not None
        if not worker.process.is_alive():
            return
        exited = self._loop.create_future()
        self._loop.add_reader(
            worker.process.sentinel, lambda: exited.done() or exited.set_result(None)
        )
        try:
            await asyncio.wait_for(exited, timeout)
        except TimeoutError:
            pass
        finally:
            self._loop.remove_reader(worker.process.sentinel)

    def _on_readable(self, worker: _Worker) -> None:
        """The pipe has data (or hit EOF): handle the messages waiting.

        When the UI falls behind, tokens queue up in the pipe: consecutive ones of the
        same request are merged into one event, so a backlog costs one message to the UI
        instead of hundreds. At most ``READ_BATCH`` messages are read per call, so that
        the UI gets its turn even when the worker sends without pause.
        """
        run: list[Token] = []  # consecutive tokens of one request, not yet handled
        try:
            for _ in range(READ_BATCH):
                if worker is not self._worker or not worker.conn.poll():
                    break
                response = worker.conn.recv()
                if isinstance(response, Token) and (
                    not run or run[0].request_id == response.request_id
                ):
                    run.append(response)
                    continue
                self._handle_run(run)
                if isinstance(response, Token):
                    run.append(response)
                else:
                    self._handle(response)
        except (EOFError, OSError):
            self._handle_run(run)
            self._on_exit(worker)
            return
        self._handle_run(run)

    def _handle_run(self, run: list[Token]) -> None:
        """Handle consecutive tokens of one request as one, and empty ``run``."""
        if len(run) == 1:
            self._handle(run[0])
        elif run:
            text = "".join(t.text for t in run)
            self._handle(Token(run[0].request_id, text, sum(t.count for t in run)))
        run.clear()

    def _on_exit(self, worker: _Worker) -> None:
        """The worker's pipe closed or its process ended."""
        if worker is not self._worker or self._closing:
            return
        # Whatever it sent before dying still counts (the last tokens of a reply).
        with contextlib.suppress(EOFError, OSError):
            while worker.conn.poll():
                self._handle(worker.conn.recv())
        self._detach()
        worker.process.join(1.0)
        server = worker.process.exitcode == EXIT_SERVER_LOST
        description = (
            f"did not answer Esc within {STOP_DEADLINE_SECONDS:g} s and was ended"
            if worker.hung
            else describe_exit(worker.process.exitcode)
        )
        _reap(worker)
        self._model = None
        self._interrupt_active()
        self._fail_counts(ServiceUnavailableError(f"the model worker {description}"))
        restarting = self._breaker.record_crash()
        count = self._breaker.count
        pause = (
            min(SERVER_RETRY_SECONDS * 2 ** (count - 1), SERVER_RETRY_MAX_SECONDS)
            if server and restarting
            else 0.0
        )
        self._emit(
            WorkerCrashed(
                worker.server_error
                or (f"The model worker {description}" if server else description),
                count,
                self._breaker.limit,
                restarting,
                server=server,
                pause_seconds=pause,
            )
        )
        if restarting and pause:
            self._spawn_later(pause)
        elif restarting:
            self._spawn()
        elif server:
            # A server comes back by itself: requests that waited fail with why, and a
            # quiet check finds out when it answers again.
            self._server_down = worker.server_error or description
            self._probes += 1
            self._fail_pending(DoneReason.ERROR, self._server_down)
            self._set_state(ServiceState.BROKEN)
            self._probe_later(SERVER_PROBE_SECONDS)
        else:
            self._fail_pending(DoneReason.INTERRUPTED)
            self._set_state(ServiceState.BROKEN)

    def _interrupt_active(self) -> None:
        if self._active is None:
            return
        request = self._active
        self._active = None
        # A reply the person had already stopped ends as stopped, crash or not.
        stopped = request.request_id in self._stopping
        self._stopping.discard(request.request_id)
        self._emit_for(
            request.request_id,
            Done(
                request.request_id,
                DoneReason.STOPPED if stopped else DoneReason.INTERRUPTED,
                # Counted here, from the pieces received: a server's are estimates.
                Usage(completion_tokens=self._active_tokens, estimated=bool(self.settings.server)),
            ),
        )

    def _fail_pending(self, reason: DoneReason, why: str = "") -> None:
        while self._pending:
            request_id = self._pending.popleft().request_id
            if why:
                self._emit_for(request_id, Error(ErrorKind.SERVER, why, request_id))
            self._emit_for(request_id, Done(request_id, reason))

    # The server's return ------------------------------------------------------------

    def _probe_later(self, seconds: float) -> None:
        assert self._loop is not None
        self._cancel_probe()
        self._probe = self._loop.call_later(seconds, self._start_probe, seconds)

    def _cancel_probe(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
            self._probe = None

    def _start_probe(self, waited: float) -> None:
        """Ask the server for its models on a thread of its own (a daemon: a check that
        waits on the network never holds up quitting)."""
        self._probe = None
        loop, settings, probes = self._loop, self.settings, self._probes
        assert loop is not None

        def check() -> None:
            answers = _server_answers(settings.server, settings.api_key_env)
            with contextlib.suppress(RuntimeError):  # the loop is closed: tui-chat ended
                loop.call_soon_threadsafe(self._probed, probes, answers, waited)

        threading.Thread(target=check, name="server check", daemon=True).start()

    def _probed(self, probes: int, answers: bool, waited: float) -> None:
        if self._closing or not self._server_down or probes != self._probes:
            return  # tried again, reloaded or closed meanwhile
        if answers:
            self._emit(ServerBack(self.settings.server))
            self._try_again()
        else:
            self._probe_later(min(waited * 2, SERVER_PROBE_MAX_SECONDS))

    def _fail_counts(self, error: Exception) -> None:
        for answer in self._counts.values():
            if not answer.done():
                answer.set_exception(error)

    # Responses ------------------------------------------------------------------------

    def _handle(self, response: Response) -> None:
        match response:
            case Token(request_id=rid, count=count):
                if self._is_live(rid):
                    self._active_tokens += count
                    self._emit_for(rid, response)
            case PromptProgress(request_id=rid) | ContextTrimmed(request_id=rid):
                if self._is_live(rid):
                    self._emit_for(rid, response)
            case TokenCounts(request_id=rid):
                answer = self._counts.get(rid)
                if answer is not None and not answer.done():
                    answer.set_result(response)
            case Done(request_id=rid, reason=reason):
                if self._active is None or rid != self._active.request_id:
                    return
                self._active = None
                self._stopping.discard(rid)
                if reason is not DoneReason.ERROR:
                    self._breaker.record_success()
                self._emit_for(rid, response)
                self._set_state(ServiceState.READY)
                self._dispatch()
            case ModelLoaded():
                self.start_seconds.append(time.perf_counter() - self._spawned_at)
                self._model = response
                self._emit(response)
                self._set_state(ServiceState.READY)
                self._dispatch()
            case Error(kind=ErrorKind.SERVER, request_id=rid):
                # The worker ends next: the message says why, in the crash notice.
                if self._worker is not None:
                    self._worker.server_error = response.message
                if rid is not None:
                    self._emit_for(rid, response)
            case Error(kind=ErrorKind.LOAD):
                self._emit(response)
                self._fail_pending(DoneReason.ERROR)
                self._fail_counts(ServiceUnavailableError(response.message))
                self._set_state(ServiceState.LOAD_FAILED)
            case Error(request_id=int(rid)) if rid in self._counts:
                answer = self._counts[rid]
                if not answer.done():
                    answer.set_exception(RequestFailedError(response.message))
            case Error(request_id=int(rid)):
                self._emit_for(rid, response)
            case LoadProgress() | Error():
                self._emit(response)
            case WorkerReady(pid=pid):
                if self._worker is not None:
                    self._worker.pid = pid

    def _is_live(self, request_id: int) -> bool:
        """True for the active request, unless a stop for it was asked for."""
        return (
            self._active is not None
            and self._active.request_id == request_id
            and request_id not in self._stopping
        )

    def _dispatch(self) -> None:
        """Send the next waiting request if the model is ready and idle."""
        if self._active is not None or not self._pending or self._state is not ServiceState.READY:
            return
        self._active = self._pending.popleft()
        self._active_tokens = 0
        self._send(self._active)
        self._set_state(ServiceState.GENERATING)

    def _send(self, command: Command) -> None:
        if self._worker is None:
            return
        # If the worker is dying, its sentinel will tell us and the crash path runs.
        with contextlib.suppress(OSError):
            self._worker.conn.send(command)

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

    def _emit_for(self, request_id: int, event: RequestEvent) -> None:
        """Deliver an event of one request to its listener, or to the sink."""
        listener = self._listeners.get(request_id)
        if isinstance(event, Done):
            self._listeners.pop(request_id, None)
        if listener is not None:
            listener(event)
        else:
            self._emit(event)


@contextlib.contextmanager
def _real_stderr() -> Iterator[None]:
    """Put the real ``sys.stderr`` back for the length of a process start.

    multiprocessing passes ``sys.stderr.fileno()`` to its resource-tracker process, and
    while a Textual app runs, ``sys.stderr`` is a capture object whose fileno() is -1.
    """
    saved = sys.stderr
    if sys.__stderr__ is not None:
        sys.stderr = sys.__stderr__
    try:
        yield
    finally:
        sys.stderr = saved


def _server_answers(server: str, api_key_env: str) -> bool:
    """True if the server lists its models (run on a thread: it waits on the network)."""
    import os

    from tui_chat.core.openai_api import client, list_models

    try:
        with client(server, os.environ.get(api_key_env, "")) as http:
            list_models(http, server)
    except Exception:  # ServerError, or what httpx refuses (a key it cannot send): not back
        return False
    return True


def _reap(worker: _Worker) -> None:
    """Make sure the process is gone and its resources are released."""
    process = worker.process
    if process.is_alive():
        process.terminate()
        process.join(1.0)
    if process.is_alive():
        process.kill()
        process.join()
    with contextlib.suppress(OSError):
        worker.conn.close()
    with contextlib.suppress(ValueError):
        process.close()
