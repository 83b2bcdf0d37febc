"""tui-chat on a read-only file system, a real one (a tmpfs mounted read-only), and with
TUI_CHAT_HOME pointing at a file: a plain message and a chat kept in memory, never a
traceback."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import SIZE, loaded, put_and_send, reply_finished, translated, wait_until
from tui_chat.commands.common import prepare_user_files
from tui_chat.core.conversation import TurnStatus
from tui_chat.core.paths import HOME_ENV, user_paths
from tui_chat.core.script import Script, says
from tui_chat.ui.app import ChatApp

TUI_CHAT = str(Path(sys.executable).with_name("tui-chat"))


def test_no_log_folder_is_said_not_raised(read_only: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HOME_ENV, str(read_only))
    paths, problem = prepare_user_files()
    assert problem == (
        f"Logs cannot be written to {read_only / 'logs'} (Read-only file system): tui-chat "
        "runs without them."
    )
    assert paths.logs == read_only / "logs"


async def test_the_app_on_a_read_only_home_says_so_and_chats_in_memory(
    read_only: Path, monkeypatch: pytest.MonkeyPatch, make_app: Callable[..., ChatApp]
) -> None:
    """The model worker cannot open its log either: it runs with its output discarded."""
    monkeypatch.setenv(HOME_ENV, str(read_only))
    paths, problem = prepare_user_files()
    app = make_app(paths=paths, log_problem=problem, script=Script(default=says("Hello.")))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(lambda: app.main.banner.message("store"), message="the banner")
        assert app.main.banner.message("logs") == problem
        assert "Read-only file system" in app.main.banner.message("store")
        assert "not being saved" in app.main.banner.message("store")
        await loaded(app)
        await put_and_send(app, pilot, "Hi.")
        turn = await reply_finished(app)
        assert (turn.status, turn.text) == (TurnStatus.COMPLETE, "Hello.")
    assert not any(read_only.iterdir())


@pytest.mark.parametrize(
    "command", [[], ["--list"], ["translate", "--to", "French"], ["export", "1"]]
)
def test_tui_chat_home_that_is_a_file_is_named(tmp_path: Path, command: list[str]) -> None:
    home = tmp_path / "home-file"
    home.write_text("not a folder")
    result = subprocess.run(
        [TUI_CHAT, *command],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", HOME_ENV: str(home)},
        input="Hello.",
        timeout=30,
    )
    assert result.returncode == 2
    assert f"{HOME_ENV}={home} is a file, not a folder: point it at a folder." in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.model
def test_translate_on_a_read_only_home_translates_and_says_so(read_only: Path) -> None:
    result = subprocess.run(
        [TUI_CHAT, "translate", "--to", "French"],
        input="Good morning.",
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", HOME_ENV: str(read_only)},
        timeout=120,
    )
    translated(result)
    assert result.stdout.strip()
    assert "Logs cannot be written to" in result.stderr
    assert "Traceback" not in result.stderr
    assert user_paths({HOME_ENV: str(read_only)}).logs == read_only / "logs"
