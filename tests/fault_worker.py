"""A real worker that can be made to exit by itself, from inside native code.

``run`` is the real worker's entry point with one change: SIGUSR1 is wired straight to
libc's ``_exit`` (a C signal handler, not a Python one), so the worker process ends with
status 10 at whatever it is doing, even deep inside llama.cpp, as a worker that calls
``exit()`` on its own would. The tests send the signal at each phase of the worker's work.
"""

from __future__ import annotations

import ctypes
import signal
from multiprocessing.connection import Connection

from tui_chat.worker import main as worker_main

EXIT_SIGNAL = signal.SIGUSR1
EXIT_STATUS = int(EXIT_SIGNAL)  # _exit gets the signal number as its argument


def run(conn: Connection, log_path: str) -> None:
    """The real worker, but SIGUSR1 makes it exit by itself with status ``EXIT_STATUS``."""
    libc = ctypes.CDLL(None)
    libc.signal.argtypes = [ctypes.c_int, ctypes.c_void_p]
    libc.signal.restype = ctypes.c_void_p
    libc.signal(int(EXIT_SIGNAL), ctypes.cast(libc._exit, ctypes.c_void_p))
    worker_main.run(conn, log_path)
