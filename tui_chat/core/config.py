"""The settings file: TOML in the user config directory, checked key by key against the
table of settings (``core.options``).

Read with the standard library's ``tomllib``, written with ``tomli-w`` (by the settings
screen) atomically: a temporary file in the same folder, then a rename, so a crash never
leaves half a file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from tui_chat.core.options import OPTIONS, Value
from tui_chat.core.paths import private_dir

__all__ = ["OPTIONS", "ConfigError", "Value", "config_path", "load", "save"]

CONFIG_FILE = "config.toml"


class ConfigError(Exception):
    """The settings file is wrong; the message names the file, the key and the problem."""


def config_path(config_dir: Path) -> Path:
    """Where the settings file is."""
    return config_dir / CONFIG_FILE


def check(values: Mapping[str, object], source: Path) -> dict[str, Value]:
    """Check every key and value.

    Raises:
        ConfigError: For the first key that is unknown, of the wrong type, or out of range.
    """
    checked: dict[str, Value] = {}
    for key, value in values.items():
        option = OPTIONS.get(key)
        if option is None:
            known = ", ".join(OPTIONS)
            raise ConfigError(f"{source}: unknown setting {key!r} (known: {known})")
        if option.numbers_as_text and isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, bool) or not isinstance(value, _accepted(option.kind)):
            raise ConfigError(
                f"{source}: {key}: must be {_type_name(option.kind)}, "
                f"got {_type_name(type(value))} {value!r}"
            )
        value = option.kind(value)
        problem = option.check(value)
        if problem:
            raise ConfigError(f"{source}: {key}: {problem}, got {value!r}")
        checked[key] = value
    return checked


def _accepted(kind: type) -> type | tuple[type, ...]:
    return (int, float) if kind is float else kind


def _type_name(kind: type) -> str:
    return {str: "a string", int: "a whole number", float: "a number"}.get(
        kind, f"a {kind.__name__}"
    )


def load(path: Path) -> dict[str, Value]:
    """The checked settings in ``path``; none when the file does not exist.

    Raises:
        ConfigError: Unreadable, not TOML, or a bad key or value.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot be read: {e}") from None
    import tomllib  # only when there is a file to read: start-up is shorter without it

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    return check(data, path)


def dumps(values: Mapping[str, Value]) -> str:
    """TOML for the settings, keys in the order of ``OPTIONS``, each under what it does."""
    import tomli_w  # only when the file is written (F3)

    lines = ["# tui-chat settings. Command-line options override these.", ""]
    for key, option in OPTIONS.items():
        if key in values:
            lines.append(f"# {option.help}")
            lines.append(tomli_w.dumps({key: values[key]}).rstrip("\n"))
    return "\n".join(lines) + "\n"


def save(path: Path, values: Mapping[str, Value]) -> None:
    """Write the settings atomically: a temporary file beside it, then a rename.

    Raises:
        ConfigError: A value is wrong, or the file cannot be written.
    """
    checked = check(values, path)
    text = dumps(checked)
    try:
        private_dir(path.parent)
        fd, temporary = tempfile.mkstemp(prefix=".config-", suffix=".toml", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as e:
        raise ConfigError(f"{path}: cannot be written: {e.strerror or e}") from None
