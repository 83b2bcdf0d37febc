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

READY_MARKER = b"essage (Enter sends"
"""The input's placeholder, from its second letter: the cursor is drawn over the first."""
HELLO_MARKER = b"Hello from Textual"
QUIT = b"\x11"  # Ctrl+Q


def launch(
    argv: list[str], marker: bytes, env: dict[str, str], *, also: bytes = b"", settle: bool = False
) -> tuple[float, float, float]:
    """Seconds from launch until ``marker`` (and ``also``, if given) are on the screen, and
    the process's resident memory (MB) and CPU time (s) then, or, with ``settle``, once
    it has gone idle; the app is then quit with Ctrl+Q."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 32, 110, 0, 0))
    started = time.perf_counter()
    process = subprocess.Popen(
        argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
    )
    os.close(slave)
    wanted = [m for m in (marker, also) if m]
    seen = b""
    found: set[bytes] = set()
    try:
        while len(found) < len(wanted):
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
                longest = max(len(m) for m in wanted)
                seen = seen[-longest:] + os.read(master, 65536)
                found |= {m for m in wanted if m in seen}
        elapsed = time.perf_counter() - started
        if settle:
            _drain_until_idle(master, process.pid)
        rss, cpu = _rss_mb(process.pid), _cpu_seconds(process.pid)
        os.write(master, QUIT)
        deadline = time.monotonic() + 15
        while process.poll() is None and time.monotonic() < deadline:
            if select.select([master], [], [], 0.1)[0]:
                try:
                    os.read(master, 65536)
                except OSError:
                    break
        return elapsed, rss, cpu
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        os.close(master)


def _drain_until_idle(master: int, pid: int, quiet: float = 0.5, most: float = 20.0) -> None:
    """Read the screen until the process has used no CPU for ``quiet`` seconds."""
    deadline = time.monotonic() + most
    last, since = _cpu_seconds(pid), time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - since < quiet:
        if select.select([master], [], [], 0.05)[0]:
            os.read(master, 65536)
        now = _cpu_seconds(pid)
        if now > last + 0.005:
            last, since = now, time.monotonic()


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
        seconds, rss, _cpu = launch(tui_chat, READY_MARKER, env)
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
