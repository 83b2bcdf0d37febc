"""A real terminal for the tests: a tmux server of their own, one pane running a command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import descendants

TUI_CHAT = Path(sys.executable).with_name("tui-chat")
"""The installed command, as a person runs it."""


class Terminal:
    """A tmux server of our own with one 100x30 pane running a command."""

    def __init__(self, socket: str) -> None:
        self.socket = socket
        self.environment: dict[str, str] = {}

    def tmux(self, *args: str) -> str:
        # The terminal's size is tmux's to say: a COLUMNS or LINES in the environment
        # (some tools export them) would override it for the app inside.
        env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
        return subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=True, env=env
        ).stdout

    def start(self, command: str, env: dict[str, str]) -> None:
        self.environment = env
        env_args = [arg for key, value in env.items() for arg in ("-e", f"{key}={value}")]
        self.tmux("-f", "/dev/null", "new-session", "-d", "-s", "e2e", "-x", "100", "-y", "30",
                  *env_args, f"exec {command}")  # fmt: skip
        self.tmux("set-option", "-t", "e2e", "remain-on-exit", "on")

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "e2e")

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "e2e", *keys)

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-t", "e2e", "-l", text)

    def paste(self, text: str) -> None:
        """A bracketed paste, as a terminal delivers one (any bytes, NUL included)."""
        env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
        subprocess.run(
            ["tmux", "-L", self.socket, "load-buffer", "-b", "e2e", "-"],
            input=text.encode("utf-8", "surrogateescape"),
            check=True,
            env=env,
        )
        self.tmux("paste-buffer", "-p", "-d", "-b", "e2e", "-t", "e2e")

    def pane(self, field: str) -> str:
        return self.tmux("display-message", "-p", "-t", "e2e", f"#{{{field}}}").strip()

    def exit_status(self, timeout: float = 10) -> str:
        """``status N`` or ``signal N`` once the program in the pane has ended. tmux marks
        a pane dead when its terminal closes, and knows the status only once it has
        reaped the process, a moment later."""
        started = time.monotonic()
        nudged = started
        pid = int(self.pane("pane_pid"))
        while time.monotonic() < started + timeout:
            if self.pane("pane_dead") == "1":
                status, killed = self.pane("pane_dead_status"), self.pane("pane_dead_signal")
                if status or killed:
                    return f"status {status}" if status else f"signal {killed}"
            # Seen about once in twenty runs: the program had exited (a zombie) and nothing
            # else held the terminal, but tmux had not reaped it for 10 s, as if it had
            # missed the SIGCHLD. Another SIGCHLD makes it look again (it only waits).
            if time.monotonic() - nudged > 2 and _state(pid) == "Z":
                os.kill(int(self.tmux("display-message", "-p", "#{pid}").strip()), signal.SIGCHLD)
                nudged = time.monotonic()
            time.sleep(0.05)
        raise AssertionError(f"tui-chat did not quit:\n{self.screen()}\n{self.hang_report()}")

    def hang_report(self) -> str:
        """What the program in the pane and its children are doing: their states and
        kernel wait channels, and tui-chat's Python stacks (SIGUSR2 dumps them to its log)."""
        pid = int(self.pane("pane_pid"))
        lines = []
        # A pane is dead once its terminal closes: list whoever still holds it open too
        # (an orphan is no longer a descendant).
        for p in sorted({pid, *descendants(pid), *holding(self.pane("pane_tty"))}):
            try:
                stat = Path(f"/proc/{p}/stat").read_text()
                wchan = Path(f"/proc/{p}/wchan").read_text()
                cmdline = Path(f"/proc/{p}/cmdline").read_text().replace("\0", " ")
            except OSError:
                continue
            lines.append(f"{p} {stat[stat.rindex(')') + 2]} {wchan} {cmdline[:120]}")
        home = self.environment.get("TUI_CHAT_HOME")
        if home and os.path.exists(f"/proc/{pid}"):
            os.kill(pid, signal.SIGUSR2)
            time.sleep(0.5)
            log = Path(home, "logs", "tui-chat.log")
            if log.exists():
                lines.append(log.read_text()[-6000:])
        return "\n".join(lines)

    def wait_for(self, predicate: Callable[[str], bool], what: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if predicate(screen):
                return screen
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {what}; the screen shows:\n{screen}")
            time.sleep(0.05)


def _state(pid: int) -> str:
    """A process's state letter (Z: exited, not yet reaped), or "" once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat[stat.rindex(")") + 2]


def holding(tty: str) -> set[int]:
    """Processes with ``tty`` as their standard input, output or error."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            for fd in ("0", "1", "2"):
                try:
                    if os.readlink(entry / "fd" / fd) == tty:
                        found.add(int(entry.name))
                except OSError:
                    continue
    return found


def status_line(screen: str) -> str:
    """The line above the footer: model, state, context used."""
    return next((r for r in reversed(screen.splitlines()) if "context " in r), "")
