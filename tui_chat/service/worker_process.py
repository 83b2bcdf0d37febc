"""One model worker process: its start, its pipe, its end.

The pipe and the process sentinel are watched with ``loop.add_reader``, so a response or
a death is seen within a fraction of a millisecond and nothing polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from tui_chat.core.protocol import EXIT_SERVER_LOST, Command, Response, Shutdown, Stop
from tui_chat.service.frames import FrameReader

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_SECONDS = 2.0
"""How long a worker may take to exit after the shutdown command before it is killed."""


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


class WorkerProcess:
    """A spawned worker, watched on the event loop until ``detach``."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        log_path: Path,
        on_response: Callable[[Response], None],
        on_exit: Callable[[WorkerProcess], None],
    ) -> None:
        """Start the process.

        Args:
            loop: The running event loop, which watches the pipe and the process.
            log_path: Where the worker writes its stdout and stderr.
            on_response: Hears each response, in order.
            on_exit: Called once the pipe closed or the process ended (not after
                ``detach``); what the worker sent before has been heard.
        """
        # Imported when the first worker starts, after the first frame is on screen.
        import multiprocessing

        from tui_chat.worker import main as worker_main

        self._loop = loop
        self._on_response = on_response
        self._on_exit = on_exit
        context = multiprocessing.get_context("spawn")
        self.conn: Connection
        self.conn, child_conn = context.Pipe(duplex=True)
        self.process: BaseProcess = context.Process(
            target=worker_main.run,
            args=(child_conn, str(log_path)),
            name="tui-chat-worker",
            daemon=True,
        )
        with _real_stderr():
            self.process.start()
        # Only the child may hold its end: when the child dies, our reads hit EOF.
        child_conn.close()
        self.pid: int | None = self.process.pid
        self.exitcode: int | None = None
        """How it ended, once reaped."""
        self.hung = False
        """Ended by the service because it did not answer a stop."""
        self.server_error = ""
        """Why it could not reach its server, when it said so before ending."""
        self._watched = True
        self._frames = FrameReader(self.conn.fileno())
        loop.add_reader(self.conn.fileno(), self._on_readable)
        loop.add_reader(self.process.sentinel, self._ended)

    def send(self, command: Command) -> None:
        """Send ``command``; a worker that is dying is left to its sentinel to report."""
        with contextlib.suppress(OSError, ValueError):
            self.conn.send(command)

    def ask_to_exit(self, active_request: int | None) -> None:
        """Ask the worker to exit: a reply in progress is stopped first, so that the
        worker leaves its token loop and reads the shutdown at once."""
        if active_request is not None:
            self.send(Stop(active_request))
        self.send(Shutdown())

    def detach(self) -> None:
        """Stop watching the process: nothing more is heard from it."""
        if self._watched and not self._loop.is_closed():
            self._loop.remove_reader(self.conn.fileno())
            self._loop.remove_reader(self.process.sentinel)
        self._watched = False

    def kill(self) -> None:
        """End it now (it did not answer a stop in time)."""
        with contextlib.suppress(OSError, ValueError):
            self.process.kill()

    async def wait_for_exit(self, timeout: float = SHUTDOWN_GRACE_SECONDS) -> None:
        """Wait up to ``timeout`` seconds for the process to end by itself."""
        if not self.process.is_alive():
            return
        exited = self._loop.create_future()
        self._loop.add_reader(
            self.process.sentinel, lambda: exited.done() or exited.set_result(None)
        )
        try:
            await asyncio.wait_for(exited, timeout)
        except TimeoutError:
            pass
        finally:
            self._loop.remove_reader(self.process.sentinel)

    def reap(self, grace: float = 0.0) -> None:
        """Make sure the process is gone and its resources are released: it may take
        ``grace`` seconds to end by itself (its pipe closes a moment before the kernel
        has its exit status), then it is terminated, then killed."""
        process = self.process
        process.join(grace)
        if process.is_alive():
            process.terminate()
            process.join(1.0)
        if process.is_alive():
            process.kill()
            process.join()
        self.exitcode = process.exitcode
        with contextlib.suppress(OSError):
            self.conn.close()
        with contextlib.suppress(ValueError):
            process.close()

    def _on_readable(self) -> None:
        """The pipe has data (or hit EOF): hand on the responses it completes."""
        try:
            self._frames.fill()
        except (EOFError, OSError):
            self._ended()
            return
        self._deliver()

    def _deliver(self) -> None:
        """Hand on each whole response read. One that fails (a listener's error, a response
        that cannot be unpickled) goes to the event loop's error handler and does not hold
        back those after it, as a message left in the pipe would not."""
        try:
            self._hand_on()
        finally:
            if self._watched and self._frames.complete():
                self._loop.call_soon(self._deliver)

    def _hand_on(self) -> None:
        for response in self._frames.messages():
            if not self._watched:
                return
            self._on_response(response)

    def _ended(self) -> None:
        if not self._watched:
            return
        # Whatever it sent before dying still counts (the last tokens of a reply).
        with contextlib.suppress(OSError):
            self._frames.fill_all()
        while self._watched and self._frames.complete():
            try:
                self._hand_on()
            except Exception:  # the worker is gone: its end is reported whatever its last words
                log.exception("a response of the ended worker could not be handled")
        if self._watched:
            self.detach()
            self._on_exit(self)


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
