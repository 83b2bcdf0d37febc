"""Keeps one model worker running: starts it, starts another after a crash as the
restart policy says (at once, after a pause, or once a lost server answers again),
swaps it for a new one, and ends it without leaving a process behind.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tui_chat.core.protocol import (
    EXIT_SERVER_LOST,
    PROTOCOL_VERSION,
    Command,
    Error,
    ErrorKind,
    LoadModel,
    Response,
    WorkerReady,
)
from tui_chat.service import restart_policy
from tui_chat.service.events import WorkerCrashed
from tui_chat.service.restart_policy import GiveUp, RestartPolicy
from tui_chat.service.server_probe import ServerProbe
from tui_chat.service.worker_process import SHUTDOWN_GRACE_SECONDS, WorkerProcess, describe_exit


@dataclass(frozen=True, slots=True)
class Lost:
    """A worker ended without being asked to."""

    crash: WorkerCrashed
    """What to tell a person."""
    why: str
    """The reason in a few words, for what is refused now."""
    server_gone: bool
    """The breaker opened on a server: checks run until it answers again."""


class Supervisor:
    """The current worker and what follows its end."""

    def __init__(
        self,
        log_path: Path,
        crash_limit: int,
        on_response: Callable[[Response], None],
        on_lost: Callable[[Lost], None],
        on_starting: Callable[[], None],
        on_server_back: Callable[[], None],
    ) -> None:
        """
        Args:
            log_path: Where the worker writes its stdout and stderr.
            crash_limit: Failures in a row after which no worker is started by itself.
            on_response: Hears the current worker's responses, in order.
            on_lost: Told when the worker ended by itself, before a new one starts.
            on_starting: Told when a new worker starts, or will after a pause.
            on_server_back: Told when a server given up on answers again (a new worker
                is started next).
        """
        self._log_path = log_path
        self.policy = RestartPolicy(crash_limit)
        self._on_response = on_response
        self._on_lost = on_lost
        self._on_starting = on_starting
        self._on_server_back = on_server_back
        self._loop: asyncio.AbstractEventLoop | None = None
        self._probe: ServerProbe | None = None
        self._load: LoadModel | None = None
        self.worker: WorkerProcess | None = None
        """The worker in use."""
        self._retiring: WorkerProcess | None = None
        """Asked to exit by ``close``, kept until reaped."""
        self._restart: asyncio.TimerHandle | None = None
        self.closing = False
        self.server_down = ""
        """Why the breaker opened for the server ("" when it did not, or a local model)."""
        self.spawned_at = 0.0
        self.workers_started = 0
        """Worker processes started so far."""

    def start(self, load: LoadModel) -> None:
        """Start a worker that loads ``load``. Call on the running event loop."""
        self._loop = asyncio.get_running_loop()
        self._probe = ServerProbe(self._loop, self._server_back)
        self._load = load
        self._spawn()

    def send(self, command: Command) -> None:
        """Send ``command`` to the worker in use, if there is one."""
        if self.worker is not None:
            self.worker.send(command)

    def watch_stop(self, still_running: Callable[[], bool]) -> None:
        """A stop was sent: if ``still_running()`` after the deadline, the worker is stuck
        in native code (or stopped by a signal) and cannot answer, so it is ended; its
        exit is handled as a crash."""
        worker = self.worker
        if worker is None or self._loop is None:
            return

        def overdue() -> None:
            if worker is self.worker and still_running() and not self.closing:
                worker.hung = True
                worker.kill()

        self._loop.call_later(restart_policy.STOP_DEADLINE_SECONDS, overdue)

    def try_again(self, attempts: int | None = None) -> None:
        """A fresh worker; the breaker opens again after ``attempts`` failures in a row
        (None: after its limit)."""
        self.policy.reset(attempts)
        self._forget_server()
        failed = self._detach()  # after a load error the old worker is alive and idle
        if failed is not None:
            failed.kill()
            failed.reap()
        self._spawn()

    def handshake(self, ready: WorkerReady) -> Error | None:
        """Check the worker's first message; a worker of another protocol version is
        ended, and the error says why (None: it is the one this process speaks)."""
        if ready.protocol == PROTOCOL_VERSION:
            return None
        # The code on disk changed under a running tui-chat (an upgrade): this process
        # and the new worker would not understand each other.
        worker = self._detach()
        if worker is not None:
            worker.kill()
            worker.reap()
        return Error(
            ErrorKind.LOAD,
            f"The model worker speaks protocol {ready.protocol} and this tui-chat "
            f"{PROTOCOL_VERSION}: tui-chat was updated while it ran. Quit and start it again.",
        )

    async def replace(self, load: LoadModel, active_request: int | None) -> None:
        """Have the worker leave (its reply stopped first) and start one that loads
        ``load``. Not a crash."""
        self._load = load
        self._forget_server()
        worker = self._detach()
        self._on_starting()  # what is sent meanwhile waits for the new one
        if worker is not None:
            worker.ask_to_exit(active_request)
            await worker.wait_for_exit()
            worker.reap()
        if not self.closing:
            self.policy.reset()
            self._spawn()

    def begin_close(self, active_request: int | None) -> WorkerProcess | None:
        """Ask the worker to exit and stop watching it; returns the worker to wait for."""
        self.closing = True
        self._forget_server()
        worker = self._detach()
        if worker is not None:
            self._retiring = worker
            worker.ask_to_exit(active_request)
        return self._retiring

    def end_close(self, grace: float = 0.0) -> None:
        """Reap the worker asked to exit, after ``grace`` seconds at most."""
        worker, self._retiring = self._retiring, None
        if worker is not None:
            worker.reap(grace)

    async def close(self, active_request: int | None) -> None:
        """Ask, wait, then kill. Never leaves a process behind."""
        worker = self.begin_close(active_request)
        if worker is not None:
            await worker.wait_for_exit()
        self.end_close()

    def close_now(self, active_request: int | None) -> None:
        """Blocking variant of ``close`` for paths that have no event loop any more."""
        self.begin_close(active_request)
        self.end_close(grace=SHUTDOWN_GRACE_SECONDS)

    # -----------------------------------------------------------------------------------

    def _spawn(self) -> None:
        assert self._loop is not None, "start() first"
        assert self._load is not None
        self.spawned_at = time.perf_counter()
        self.workers_started += 1
        self.worker = WorkerProcess(self._loop, self._log_path, self._on_response, self._ended)
        self.worker.send(self._load)
        self._on_starting()

    def _spawn_later(self, seconds: float) -> None:
        assert self._loop is not None
        self._on_starting()  # what is sent meanwhile waits for it
        self._restart = self._loop.call_later(seconds, self._spawn_now)

    def _spawn_now(self) -> None:
        self._restart = None
        if not self.closing and self.worker is None:
            self._spawn()

    def _forget_server(self) -> None:
        """No more waiting on a lost server: no pending restart, no more checks."""
        self.server_down = ""
        if self._probe is not None:
            self._probe.cancel()
        if self._restart is not None:
            self._restart.cancel()
            self._restart = None

    def _detach(self) -> WorkerProcess | None:
        worker, self.worker = self.worker, None
        if worker is not None:
            worker.detach()
        return worker

    def _ended(self, worker: WorkerProcess) -> None:
        """The worker ended without being asked to: a crash, a hang, or a lost server."""
        if worker is not self.worker or self.closing:
            return
        self.worker = None
        worker.reap(grace=1.0)
        server = worker.exitcode == EXIT_SERVER_LOST
        description = (
            f"did not answer Esc within {restart_policy.STOP_DEADLINE_SECONDS:g} s and was ended"
            if worker.hung
            else describe_exit(worker.exitcode)
        )
        decision = self.policy.after_crash(server=server)
        pause = 0.0 if isinstance(decision, GiveUp) else decision.pause
        said = worker.server_error or (f"The model worker {description}" if server else "")
        crash = WorkerCrashed(
            said or description,
            self.policy.crashes,
            self.policy.limit,
            restarting=not isinstance(decision, GiveUp),
            server=server,
            pause_seconds=pause,
        )
        server_gone = isinstance(decision, GiveUp) and decision.probe_after is not None
        if server_gone:
            self.server_down = worker.server_error or description
        self._on_lost(Lost(crash, f"the model worker {description}", server_gone))
        if not isinstance(decision, GiveUp):
            self._spawn_later(pause) if pause else self._spawn()
        elif decision.probe_after is not None and self._probe is not None and self._load:
            # A server comes back by itself: a quiet check finds out when it answers.
            self._probe.watch(self._load.server, self._load.api_key_env, decision.probe_after)

    def _server_back(self) -> None:
        if not self.closing and self.server_down:
            self._on_server_back()
            self.try_again()
