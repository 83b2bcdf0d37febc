"""Entry point of the model worker process.

The worker owns the model for the whole session. Its main thread runs commands one at
a time; a reader thread takes commands off the pipe so that a stop can land while the
main thread is inside native code, and exits the process when the pipe closes (the UI
process is gone, even if it was killed with SIGKILL).

This module imports only the core and the pure-Python ``outbox`` at the top; llama_cpp
is imported after stdout and stderr have been sent to the log file, because llama.cpp
writes to fd 2 from native code and the terminal belongs to the UI.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from tui_chat.core.paths import open_private
from tui_chat.core.protocol import (
    EXIT_SERVER_LOST,
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
    Prepare,
    PromptProgress,
    Response,
    Shutdown,
    Stop,
    TokenCounts,
    WorkerReady,
)
from tui_chat.worker.outbox import Outbox, StopSwitch

if TYPE_CHECKING:
    from tui_chat.worker.results import Backend


LOG_LIMIT_BYTES = 5_000_000


def _redirect_output(log_path: str) -> None:
    """Point fds 1 and 2 (and Python's streams) at the log file, or at nothing when it
    cannot be written (a read-only file system): never at the terminal."""
    try:
        log = open_private(Path(log_path), truncate=_too_big(log_path))
    except OSError:
        log = os.open(os.devnull, os.O_WRONLY)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    sys.stdout = open(1, "w", encoding="utf-8", errors="replace", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", encoding="utf-8", errors="replace", buffering=1, closefd=False)  # noqa: SIM115
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)


def _too_big(path: str) -> bool:
    try:
        return os.path.getsize(path) > LOG_LIMIT_BYTES
    except OSError:
        return False


_FAILURE = re.compile(r"error|failed|only supports|invalid|corrupt", re.IGNORECASE)


def _log_size(log_path: str) -> int:
    try:
        return os.path.getsize(log_path)
    except OSError:
        return 0


def _first_llama_error(log_path: str, since: int) -> str:
    """The first failure llama.cpp logged after offset ``since``, without its prefixes."""
    try:
        with open(log_path, "rb") as log:
            log.seek(since)
            lines = log.read(65_536).decode("utf-8", "replace").splitlines()
    except OSError:
        return ""
    for line in lines:
        if _FAILURE.search(line):
            reason = line.split("error loading model: ", 1)[-1]
            # Drop the C function name llama.cpp puts first ("gguf_init_from_reader: ...").
            head, sep, rest = reason.partition(": ")
            return rest.strip() if sep and " " not in head else reason.strip()
    return ""


def _read_commands(conn: Connection, inbox: queue.Queue[Command], switch: StopSwitch) -> None:
    """Reader thread: stops act at once, everything else queues for the main thread."""
    while True:
        try:
            command = conn.recv()
        except (EOFError, OSError):
            # The UI process is gone. Nobody will read our output; leave now, whatever
            # the main thread is doing inside native code.
            os._exit(0)
        if isinstance(command, Stop):
            switch.stop(command.request_id)
        else:
            inbox.put(command)


class Worker:
    """Runs commands on the main thread and answers over the pipe."""

    def __init__(self, conn: Connection, log_path: str) -> None:
        self._conn = conn
        self._log_path = log_path
        self._engine: Backend | None = None
        self.switch = StopSwitch()

    def send(self, response: Response) -> None:
        """Send a response; exit quietly if the UI process has gone."""
        try:
            self._conn.send(response)
        except (BrokenPipeError, ConnectionResetError, EOFError):
            os._exit(0)

    def handle(self, command: Command) -> bool:
        """Run one command; False when the worker should exit."""
        try:
            match command:
                case LoadModel():
                    self._load(command)
                case Generate():
                    self._generate(command)
                case CountTokens():
                    self._count(command)
                case Prepare():
                    if self._engine is not None:
                        self._engine.prepare(command)
                case ClearContext():
                    if self._engine is not None:
                        self._engine.clear()
                case Shutdown():
                    return False
                case _:
                    self.send(Error(ErrorKind.PROTOCOL, f"Unknown command: {command!r}"))
        except Exception as e:
            # A bug, or a chat template that fails, ends this request, not the worker.
            traceback.print_exc()
            request_id = getattr(command, "request_id", None)
            kind = ErrorKind.LOAD if isinstance(command, LoadModel) else ErrorKind.GENERATE
            self.send(Error(kind, f"The model worker failed: {e}", request_id))
            if isinstance(command, Generate):
                self.send(Done(command.request_id, DoneReason.ERROR))
        return True

    def _load(self, command: LoadModel) -> None:
        from tui_chat.worker.results import LoadError, ServerUnavailable

        if self._engine is not None:
            self._engine.close()
            self._engine = None
        log_offset = _log_size(self._log_path)
        try:
            engine = _backend(command)(command, lambda f: self.send(LoadProgress(f)))
        except ServerUnavailable as e:
            self._lose_server(str(e))
        except LoadError as e:
            sys.stderr.flush()
            reason = _first_llama_error(self._log_path, log_offset)
            self.send(Error(ErrorKind.LOAD, f"{e}: {reason}." if reason else f"{e}."))
            return
        self._engine = engine
        self.switch.attach(engine.stop_event)
        print(f"tui-chat worker: loaded {engine.describe()}", file=sys.stderr, flush=True)
        self.send(engine.info())

    def _generate(self, command: Generate) -> None:
        from tui_chat.worker.results import RequestError, ServerLost

        rid = command.request_id
        if self._engine is None:
            self.send(Error(ErrorKind.GENERATE, "No model is loaded.", rid))
            self.send(Done(rid, DoneReason.ERROR))
            return
        if not self.switch.begin(rid):
            self.send(Done(rid, DoneReason.STOPPED))
            return
        outbox = Outbox(rid, self.send)
        try:
            result = self._engine.generate(
                command,
                emit=outbox.add,
                on_prompt_progress=lambda done, total: self.send(PromptProgress(rid, done, total)),
                on_trimmed=lambda dropped: self.send(ContextTrimmed(rid, dropped)),
            )
        except ServerLost as e:
            outbox.flush()
            self._lose_server(str(e), rid)
        except RequestError as e:
            self.send(Error(ErrorKind.GENERATE, str(e), rid))
            self.send(Done(rid, DoneReason.ERROR))
            return
        finally:
            outbox.flush()
            self.switch.end()
        self.send(Done(rid, result.reason, result.usage))

    def _lose_server(self, message: str, request_id: int | None = None) -> NoReturn:
        """The server cannot be reached: say why and end, with the status that tells the
        service to start a new worker after a pause, through the crash breaker."""
        self.send(Error(ErrorKind.SERVER, message, request_id))
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(EXIT_SERVER_LOST)

    def _count(self, command: CountTokens) -> None:
        engine = self._engine
        if engine is None:
            self.send(Error(ErrorKind.GENERATE, "No model is loaded.", command.request_id))
            return
        self.send(
            TokenCounts(
                command.request_id,
                tuple(engine.count_text(text) for text in command.texts),
                tuple(len(engine.prompt_tokens(prompt)) for prompt in command.prompts),
            )
        )

    def close(self) -> None:
        """Free the model."""
        if self._engine is not None:
            self._engine.close()
            self._engine = None


def _backend(command: LoadModel) -> Callable[[LoadModel, Callable[[float], None]], Backend]:
    """The local llama.cpp engine, a server's when ``command`` names one, or a script's
    (imported only when chosen: each is slow to import and the others are not needed)."""
    if command.script is not None:
        from tui_chat.worker.scripted import ScriptedEngine

        return ScriptedEngine.load
    if command.server:
        from tui_chat.worker.remote import RemoteEngine

        return RemoteEngine.load
    from tui_chat.worker.engine import Engine

    return Engine.load


def run(conn: Connection, log_path: str) -> None:
    """Process entry point (spawned by the service).

    Args:
        conn: This end of the pipe to the UI process.
        log_path: File that receives everything written to stdout and stderr.
    """
    _redirect_output(log_path)
    # Ctrl+C in the terminal is the UI's business; the UI shuts the worker down.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    worker = Worker(conn, log_path)
    worker.send(WorkerReady())
    inbox: queue.Queue[Command] = queue.Queue()
    threading.Thread(
        target=_read_commands, args=(conn, inbox, worker.switch), name="commands", daemon=True
    ).start()
    while worker.handle(inbox.get()):
        pass
    worker.close()
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter teardown: the reader thread is blocked in recv() and native
    # destructors have already run in close().
    os._exit(0)
