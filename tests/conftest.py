"""Shared fixtures: isolated user files, the real bundled model, and leak checks."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from textual.app import App
from textual.widget import Widget

from tui_chat.core.models import BUNDLED_INSTALL, bundled_model_path
from tui_chat.core.paths import HOME_ENV, UserPaths, user_paths
from tui_chat.core.protocol import Sampling
from tui_chat.core.settings import Settings

GREEDY = Sampling(temperature=0.0, repeat_penalty=1.1)


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own TUI_CHAT_HOME: no test touches a real user's files."""
    root = tmp_path / "home"
    monkeypatch.setenv(HOME_ENV, str(root))
    monkeypatch.delenv("TUI_CHAT_MODEL", raising=False)
    return root


@pytest.fixture
def paths(home: Path) -> UserPaths:
    """The user directories under the test's TUI_CHAT_HOME."""
    p = user_paths()
    p.logs.mkdir(parents=True, exist_ok=True)
    return p


@pytest.fixture(scope="session")
def model_path() -> Path:
    """The real bundled model; the suite fails loudly without it."""
    path = bundled_model_path()
    if path is None:
        pytest.fail(f"The bundled model is not installed: {BUNDLED_INSTALL} (make test does it)")
    return path


@pytest.fixture
def settings(model_path: Path) -> Settings:
    """Greedy decoding with a fixed seed, so replies are the same every run."""
    return Settings(model=model_path, n_ctx=4096, max_tokens=64, sampling=GREEDY, seed=1)


def child_processes() -> list[tuple[int, str, str]]:
    """Live (or unreaped) children of this process: pid, state, command line.

    multiprocessing's resource tracker is left out: it is shared for the session and
    exits by itself when this process ends.
    """
    me = os.getpid()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: fields follow the last ')'.
        fields = stat[stat.rindex(")") + 2 :].split()
        state, ppid = fields[0], int(fields[1])
        if ppid == me and "resource_tracker" not in cmdline:
            found.append((int(entry.name), state, cmdline))
    return found


@pytest.fixture(autouse=True)
def no_process_left_behind() -> Iterator[None]:
    """Fail any test that leaves a child process (or an unreaped zombie) behind."""
    yield
    deadline = time.monotonic() + 3.0
    while child_processes() and time.monotonic() < deadline:
        time.sleep(0.05)
    leftovers = child_processes()
    assert not leftovers, f"processes left behind: {leftovers}"


async def wait_until(
    predicate: Callable[[], object], timeout: float = 30.0, message: str = ""
) -> None:
    """Wait for a condition on the event loop, failing after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {message or predicate}")
        await asyncio.sleep(0.005)


def pid_gone(pid: int) -> bool:
    """True when ``pid`` has exited (a zombie counts as exited)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2] == "Z"


W = TypeVar("W", bound=Widget)


def in_log(app: App[object], kind: type[W]) -> list[W]:
    """The log's messages, replies or notices of ``kind``, oldest first: not the hidden
    widgets that wait at its end for the next message."""
    from tui_chat.ui.app import ChatApp

    assert isinstance(app, ChatApp)
    return [w for w in app.main.chat.chat_log.entries if isinstance(w, kind)]
