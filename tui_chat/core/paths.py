"""Where tui-chat keeps its files.

Every user file lives under a platformdirs directory. When ``TUI_CHAT_HOME`` is set,
all of them live under that one folder instead, so tests never touch a real user's files.
Nothing is created at import time; callers create what they write.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "tui-chat"
HOME_ENV = "TUI_CHAT_HOME"


@dataclass(frozen=True, slots=True)
class UserPaths:
    """The directories tui-chat may write to."""

    data: Path
    """Conversations and other data that must survive."""
    config: Path
    """The settings file."""
    logs: Path
    """Log files: the UI's and the worker's (llama.cpp's own output lands there)."""
    cache: Path
    """What can be made again, kept to save time: the model's memory of conversations."""

    @property
    def store(self) -> Path:
        """The conversation store (SQLite)."""
        return self.data / "conversations.db"

    @property
    def resume_cache(self) -> Path:
        """The model's saved states, by model and conversation (see ``worker.kv_cache``)."""
        return self.cache / "resume"

    @property
    def worker_log(self) -> Path:
        """The file that receives the worker process's stdout and stderr."""
        return self.logs / "worker.log"

    @property
    def app_log(self) -> Path:
        """The UI process's log file."""
        return self.logs / "tui-chat.log"


def user_paths(environ: os._Environ[str] | dict[str, str] | None = None) -> UserPaths:
    """Return the user directories, honouring ``TUI_CHAT_HOME``.

    Args:
        environ: The environment to read; ``os.environ`` when omitted.
    """
    env = os.environ if environ is None else environ
    home = env.get(HOME_ENV)
    if home:
        root = Path(home).expanduser()
        return UserPaths(
            data=root / "data", config=root / "config", logs=root / "logs", cache=root / "cache"
        )
    dirs = platformdirs.PlatformDirs(APP_NAME, appauthor=False)
    return UserPaths(
        data=Path(dirs.user_data_dir),
        config=Path(dirs.user_config_dir),
        logs=Path(dirs.user_log_dir),
        cache=Path(dirs.user_cache_dir),
    )


def private_dir(path: Path) -> Path:
    """Create ``path`` (and its parents) if missing; ``path`` itself is made readable by
    its owner only: conversations, settings and logs are nobody else's business."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)
    return path


def open_private(path: Path, *, truncate: bool = False) -> int:
    """Open ``path`` for appending (or from empty), creating it readable and writable by
    its owner only; an existing file is made so too. Returns the file descriptor."""
    private_dir(path.parent)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if truncate else os.O_APPEND)
    fd = os.open(path, flags, 0o600)
    os.fchmod(fd, 0o600)
    return fd
