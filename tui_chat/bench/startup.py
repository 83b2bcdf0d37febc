"""Start-up, measured as a person meets it: the real command in a pseudo-terminal, timed
from launch to the first frame that shows the input, next to a bare Textual app."""

from __future__ import annotations

import fcntl
import os
import select
import statistics
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

from tui_chat.bench.report import Figure, median_figure
from tui_chat.core.paths import UserPaths

READY_MARKER = b"Message (Enter sends"
HELLO_MARKER = b"Hello from Textual"
QUIT = b"\x11"  # Ctrl+Q


def launch(argv: list[str], marker: bytes, env: dict[str, str]) -> tuple[float, float]:
    """Seconds from launch until ``marker`` is on the screen, and the process's resident
    memory (MB) at that moment; the app is then quit with Ctrl+Q."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 32, 110, 0, 0))
    started = time.perf_counter()
    process = subprocess.Popen(
        argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
    )
    os.close(slave)
    seen = b""
    try:
        while marker not in seen:
            if time.perf_counter() - started > 60:
                state = "running" if process.poll() is None else f"exit {process.returncode}"
                raise TimeoutError(
                    f"{' '.join(argv)} did not show its first frame in 60 s ({state}); "
                    f"its last output: {seen[-600:]!r}"
                )
            ready, _, _ = select.select([master], [], [], 1.0)
            if ready:
                # Searched whole, then cut to the part a marker split by reads starts in:
                # a frame often comes in one read longer than any fixed tail.
                seen = seen[-len(marker) :] + os.read(master, 65536)
        elapsed = time.perf_counter() - started
        rss = _rss_mb(process.pid)
        os.write(master, QUIT)
        deadline = time.monotonic() + 15
        while process.poll() is None and time.monotonic() < deadline:
            if select.select([master], [], [], 0.1)[0]:
                try:
                    os.read(master, 65536)
                except OSError:
                    break
        return elapsed, rss
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        os.close(master)


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def startup_figures(launches: int, paths: UserPaths) -> list[Figure]:
    """Figure 5: tui-chat's start-up time, its ratio to a bare Textual app's, and the
    UI process's memory."""
    env = {**os.environ, "TERM": "xterm-256color"}
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    tui_chat = [str(Path(sys.executable).with_name("tui-chat"))]
    hello = [sys.executable, "-m", "tui_chat.bench.hello"]
    ours: list[float] = []
    bare: list[float] = []
    memory: list[float] = []
    for _ in range(launches):
        seconds, rss = launch(tui_chat, READY_MARKER, env)
        ours.append(seconds)
        memory.append(rss)
        bare.append(launch(hello, HELLO_MARKER, env)[0])
    return [
        median_figure("start-up to the input ready", ours, "s", 0.5, note="pseudo-terminal"),
        Figure(
            "start-up, tui-chat / bare Textual app",
            statistics.median(ours) / statistics.median(bare),
            "ratio",
            1.3,
            samples=launches,
            details={"bare_textual_seconds": statistics.median(bare)},
        ),
        median_figure("UI process resident memory", memory, "MB", 100.0),
    ]
