"""End to end: the installed ``tui-chat`` in a real terminal (tmux), driven by keys."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import pid_gone
from tui_chat.ui.chat_view import SAVE_EVERY_SECONDS

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

TUI_CHAT = Path(sys.executable).with_name("tui-chat")


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


_SERVERS = itertools.count()


@pytest.fixture
def terminal() -> Iterator[Terminal]:
    # A tmux server per test: one that misbehaves cannot take the next test with it.
    term = Terminal(f"tui-chat-test-{os.getpid()}-{next(_SERVERS)}")
    yield term
    subprocess.run(["tmux", "-L", term.socket, "kill-server"], capture_output=True)


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


def descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def status_line(screen: str) -> str:
    """The line above the footer: model, state, context used."""
    return next((r for r in reversed(screen.splitlines()) if "context " in r), "")


def test_chat_in_a_real_terminal_then_quit_leaves_no_process(
    terminal: Terminal, home: Path
) -> None:
    assert TUI_CHAT.exists(), f"{TUI_CHAT} is not installed (make test installs it)"
    terminal.start(
        f"{TUI_CHAT} --temperature 0 --max-tokens 400",
        {"TUI_CHAT_HOME": str(home), "TERM": "xterm-256color"},
    )
    terminal.wait_for(lambda s: " ready" in s, "the model to load")
    app_pid = int(terminal.pane("pane_pid"))
    processes = descendants(app_pid)
    assert processes, "no worker process under the app"

    # Type a question the way a person does, then Enter.
    terminal.type("What is the capital of France?")
    terminal.keys("Enter")
    screen = terminal.wait_for(lambda s: "tok/s" in s, "the reply to finish")
    assert "What is the capital of France?" in screen
    assert "Paris" in screen.split("What is the capital of France?", 1)[1]

    # A bracketed paste keeps its lines; Enter sends all of them.
    terminal.paste("Line one of the paste\nLine two of the paste")
    screen = terminal.wait_for(lambda s: "Line two of the paste" in s, "the paste")
    before = status_line(screen)
    terminal.keys("Enter")
    # Done when the status says ready again with a new context size.
    terminal.wait_for(
        lambda s: " ready" in status_line(s) and status_line(s) != before,
        "the second reply to finish",
    )
    screen = terminal.screen()
    assert "Line one of the paste" in screen
    assert "Line two of the paste" in screen

    # Esc stops a long reply: it is marked stopped and nothing more is added.
    terminal.keys("C-l")
    terminal.wait_for(lambda s: "Paris" not in s, "the chat to clear")
    terminal.type("Write a long story about a dragon who learns to sail.")
    terminal.keys("Enter")
    terminal.wait_for(lambda s: "generating" in s, "generation")
    terminal.keys("Escape")
    stopped = terminal.wait_for(lambda s: "[stopped]" in s and "· stopped ·" in s, "the stop")
    time.sleep(0.5)  # a moment in which a late token would show

    def log_area(screen: str) -> list[str]:
        # The left half of the log: notifications come and go on the right.
        rows = screen.splitlines()
        return [row[:50] for row in rows[: rows.index(next(r for r in rows if "╭" in r))]]

    assert log_area(terminal.screen()) == log_area(stopped)

    terminal.keys("C-q")
    assert terminal.exit_status() == "status 0"
    deadline = time.monotonic() + 5
    while not all(pid_gone(p) for p in processes) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(pid_gone(p) for p in processes), "a process outlived tui-chat"
    assert "Traceback" not in terminal.screen()
    assert "llama" not in terminal.screen(), "llama.cpp wrote to the terminal"


def test_translate_a_bracketed_paste_in_a_real_terminal(terminal: Terminal, home: Path) -> None:
    terminal.start(f"{TUI_CHAT}", {"TUI_CHAT_HOME": str(home), "TERM": "xterm-256color"})
    terminal.wait_for(lambda s: " ready" in s, "the model to load")
    processes = descendants(int(terminal.pane("pane_pid")))
    terminal.keys("C-t")
    terminal.wait_for(lambda s: "Auto-detect" in s, "the Translate view")
    terminal.paste("The first line of the pasted text.\nThe second line of it.")
    screen = terminal.wait_for(lambda s: "The second line of it." in s, "the paste")
    source_rows = [row for row in screen.splitlines() if "line of" in row]
    assert any("The first line" in row for row in source_rows)
    # Back from the source pane to the "other language" field, and the language typed
    # straight after it in one burst: every letter lands in the field.
    terminal.keys("BTab", "French")
    terminal.wait_for(lambda s: "French" in s, "the language")
    terminal.keys("C-g")
    screen = terminal.wait_for(lambda s: "Done (1 chunk)" in s, "the translation", timeout=60)
    width = len(max(screen.splitlines(), key=len))
    right = "\n".join(row[width // 2 :] for row in screen.splitlines()[5:-4])
    assert "The translation appears here." not in right
    assert any(ch.isalpha() for ch in right), f"nothing in the output pane:\n{screen}"
    terminal.keys("C-q")
    assert terminal.exit_status() == "status 0"
    deadline = time.monotonic() + 5
    while not all(pid_gone(p) for p in processes) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(pid_gone(p) for p in processes), "a process outlived tui-chat"


def reply_words(screen: str) -> list[str]:
    """The words of the reply on screen: after the sent message, above the input box."""
    log = screen.rsplit("╭", 1)[0]  # above the input box (which may hold the message)
    sent = "learns to sail."
    return log.split(sent, 1)[1].split() if sent in log else []


def test_kill_9_mid_reply_then_continue_shows_the_message_and_the_partial_reply(
    terminal: Terminal, home: Path
) -> None:
    env = {"TUI_CHAT_HOME": str(home), "TERM": "xterm-256color"}
    terminal.start(f"{TUI_CHAT} --temperature 0 --max-tokens 2000", env)
    terminal.wait_for(lambda s: " ready" in s, "the model to load")
    app_pid = int(terminal.pane("pane_pid"))
    workers = descendants(app_pid)
    terminal.type("Write a long story about a dragon who learns to sail.")
    terminal.keys("Enter")
    # Words on screen, then longer than the save interval: those words must be saved.
    # (Waiting on the screen, not the clock: a loaded machine may still be reading the
    # prompt after 1.5 s; seen in CI, 5 words.)
    terminal.wait_for(lambda s: len(reply_words(s)) >= 10, "ten words of the reply")
    time.sleep(SAVE_EVERY_SECONDS + 0.5)
    os.kill(app_pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while not all(pid_gone(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert all(pid_gone(p) for p in workers), "the worker outlived the killed app"

    exported = subprocess.run(
        [str(TUI_CHAT), "export", "1", "--format", "json"],
        capture_output=True, text=True, env={**os.environ, **env}, check=True,
    )  # fmt: skip
    messages = json.loads(exported.stdout)["messages"]
    assert messages[0]["text"] == "Write a long story about a dragon who learns to sail."
    assert messages[1]["status"] == "interrupted"
    partial = messages[1]["text"]
    assert len(partial.split()) >= 10, "words shown for longer than the save interval lost"

    terminal.tmux("kill-server")
    terminal.start(f"{TUI_CHAT} --continue", env)
    screen = terminal.wait_for(lambda s: "[interrupted" in s, "the reopened conversation")
    assert "Write a long story about a dragon" in screen
    last_words = " ".join(partial.split()[-3:])
    assert last_words in " ".join(screen.split()), "the partial reply is not on screen"
