"""What tui-chat writes is its owner's only, and it listens to nobody."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import SIZE, child_processes, loaded, reply_finished
from tui_chat.commands.common import prepare_user_files
from tui_chat.core import config
from tui_chat.core.paths import UserPaths
from tui_chat.core.settings import Settings, settings_from
from tui_chat.ui.app import ChatApp

pytestmark = pytest.mark.model  # what the real worker, llama.cpp and all, does

MakeApp = Callable[..., ChatApp]


def socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def network_socket_inodes() -> set[str]:
    """Inodes of every IPv4/IPv6 TCP and UDP socket on the machine."""
    found = set()
    for table in ("tcp", "tcp6", "udp", "udp6"):
        path = Path("/proc/net") / table
        if path.exists():
            for row in path.read_text().splitlines()[1:]:
                found.add(row.split()[9])
    return found


async def test_files_are_private_and_nothing_uses_the_network(
    make_app: MakeApp, model_settings: Settings, paths: UserPaths, home: Path
) -> None:
    app = make_app(model_settings)
    # A log left readable by an older version is made private; the UI's own log is
    # opened as the command line does it.
    paths.logs.mkdir(parents=True, exist_ok=True)
    (paths.logs / "tui-chat.log").write_text("an older log\n")
    (paths.logs / "tui-chat.log").chmod(0o644)
    paths.logs.chmod(0o755)
    assert prepare_user_files()[1] == ""
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        app.main.chat.input.load_text("Say hello.")
        await pilot.press("enter")
        await reply_finished(app)
        config.save(config.config_path(paths.config), {"temperature": 0.5})
        # The UI process and the model worker: no TCP or UDP socket at all (they talk
        # over a pipe), so nothing listens on a port and nothing is sent anywhere.
        pids = [os.getpid(), *(pid for pid, _, _ in child_processes())]
        ours = set().union(*(socket_inodes(pid) for pid in pids))
        assert not ours & network_socket_inodes()
    app.store.close_now()
    created = [p for p in home.rglob("*")]
    assert paths.store in created
    assert paths.worker_log in created
    assert config.config_path(paths.config) in created
    for path in created:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert not mode & 0o077, f"{path} is open to others: {oct(mode)}"


async def test_the_model_path_and_the_settings_are_data_never_run(
    make_app: MakeApp, paths: UserPaths, model_path: Path, tmp_path: Path
) -> None:
    # Were anything run, a file of this name would appear where the processes run.
    name = f"tui-chat-ran-{os.getpid()}"
    command = f"touch {name}"
    # A model path full of shell and template syntax, pointing at the real model.
    odd = tmp_path / f"$({command}); `{command}`; {{{{7*7}}}}.gguf"
    odd.symlink_to(model_path)
    # A settings file whose values look like code: they stay text.
    values = {
        "system_prompt": f"__import__('os').system('{command}') {{{{ 7*7 }}}} $({command})",
        "translation_prompt": "Translate {text} into {target}. $(" + command + ")",
        "max_tokens": 32,  # however much the model has to say
    }
    config_file = config.config_path(paths.config)
    config.save(config_file, values)
    loaded_values = config.load(config_file)
    assert loaded_values["system_prompt"] == values["system_prompt"]
    app = make_app(settings_from(odd, loaded_values))
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        assert app.service.model is not None
        app.main.chat.input.load_text("Say hello.")
        await pilot.press("enter")
        await reply_finished(app)
    app.store.close_now()
    for folder in (Path.cwd(), tmp_path, paths.logs):
        assert not (folder / name).exists(), "something in the path or the settings was run"
