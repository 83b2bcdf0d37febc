"""Shared fixtures: isolated user files, the scripted model and the real one, the app, and
leak checks. Helpers that tests call are in ``tests/helpers.py``."""

from __future__ import annotations

import contextlib
import itertools
import os
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import child_processes
from tests.tiers import pytest_collection_modifyitems, pytest_runtest_setup
from tests.tmux import Terminal
from tui_chat.core.models import BUNDLED_INSTALL, bundled_model_path
from tui_chat.core.paths import HOME_ENV, UserPaths, user_paths
from tui_chat.core.protocol import Sampling
from tui_chat.core.script import Script
from tui_chat.core.settings import Settings
from tui_chat.service.events import ServiceEvent
from tui_chat.service.llm_service import LlmService
from tui_chat.ui.app import ChatApp

GREEDY = Sampling(temperature=0.0, repeat_penalty=1.1)

# The tiers' hooks live in tests/tiers.py, where a test can run them on a suite of its own.
__all__ = ["pytest_collection_modifyitems", "pytest_runtest_setup"]
pytest_plugins = ["pytester"]


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
def settings(tmp_path: Path) -> Settings:
    """A scripted model (``Script()`` says "Hello!"): tests give it the script they need."""
    return Settings(
        model=tmp_path / "scripted.gguf", n_ctx=4096, max_tokens=64, seed=1, script=Script()
    )


@pytest.fixture
def model_settings(model_path: Path) -> Settings:
    """The real bundled model, greedy with a fixed seed."""
    return Settings(model=model_path, n_ctx=4096, max_tokens=64, sampling=GREEDY, seed=1)


@pytest.fixture
def make_app(settings: Settings, paths: UserPaths) -> Iterator[Callable[..., ChatApp]]:
    """Makes the app: ``make_app(**changes)`` on the scripted settings with ``changes``
    (``script=…``, ``max_tokens=…``), or ``make_app(other_settings, **changes)``; user
    files in ``paths`` (the test's own unless given). Each app's worker and store are
    closed afterwards, whether or not it ran."""
    made: list[ChatApp] = []

    def make(
        base: Settings | None = None,
        /,
        *,
        open_conversation: int | None = None,
        paths: UserPaths = paths,
        log_problem: str = "",
        **changes: Any,
    ) -> ChatApp:
        with contextlib.suppress(OSError):  # a test may give a folder nobody can write
            paths.logs.mkdir(parents=True, exist_ok=True)
        app = ChatApp(
            replace(base or settings, **changes),
            paths,
            open_conversation=open_conversation,
            log_problem=log_problem,
        )
        made.append(app)
        return app

    yield make
    for app in made:
        app.service.close_now()
        app.store.close_now()


@pytest.fixture
async def start_service(
    settings: Settings, paths: UserPaths
) -> AsyncIterator[Callable[..., LlmService]]:
    """Starts the service, worker process and all: ``start_service(sink, **changes)`` on
    the scripted settings with ``changes``, or on ``base=other_settings``; ``sink`` hears
    its events. Each is closed afterwards."""
    started: list[LlmService] = []

    def start(
        sink: Callable[[ServiceEvent], None] = lambda _event: None,
        /,
        *,
        base: Settings | None = None,
        **changes: Any,
    ) -> LlmService:
        service = LlmService(replace(base or settings, **changes), paths.worker_log, sink)
        service.start()
        started.append(service)
        return service

    yield start
    for service in started:
        await service.close()


@pytest.fixture(autouse=True)
def no_process_left_behind() -> Iterator[None]:
    """Fail any test that leaves a child process (or an unreaped zombie) behind."""
    yield
    deadline = time.monotonic() + 3.0
    while child_processes() and time.monotonic() < deadline:
        time.sleep(0.05)
    leftovers = child_processes()
    assert not leftovers, f"processes left behind: {leftovers}"


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path]:
    """An empty folder on a read-only file system (a tmpfs mounted read-only: as root,
    chmod would not stop a write); skipped where this machine cannot mount one."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a read-only file system here: {mounted.stderr.strip()}")
    yield folder
    subprocess.run(["umount", str(folder)], check=True)


_TMUX_SERVERS = itertools.count()


@pytest.fixture
def terminal() -> Iterator[Terminal]:
    """A real terminal: a tmux server of this test's own (one that misbehaves cannot take
    the next test with it)."""
    term = Terminal(f"tui-chat-test-{os.getpid()}-{next(_TMUX_SERVERS)}")
    yield term
    subprocess.run(["tmux", "-L", term.socket, "kill-server"], capture_output=True)
