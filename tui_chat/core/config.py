"""The settings file: TOML in the user config directory, checked key by key.

Read with the standard library's ``tomllib``; written back (by the settings screen)
atomically: a temporary file in the same folder, then a rename, so a crash never leaves
half a file.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from tui_chat.core.paths import private_dir
from tui_chat.core.translation import TARGET, TEXT

CONFIG_FILE = "config.toml"

Value = str | int | float


class ConfigError(Exception):
    """The settings file is wrong; the message names the file, the key and the problem."""


@dataclass(frozen=True, slots=True)
class Option:
    """One setting the file may hold."""

    kind: type
    """``str``, ``int`` or ``float`` (an integer is accepted for a float)."""
    check: Callable[[Value], str]
    """Returns what is wrong with a value, or "" when it is fine."""
    help: str
    """What the setting does, for the settings screen and the README."""


def _at_least(low: float) -> Callable[[Value], str]:
    return lambda v: "" if v >= low else f"must be at least {low}"  # type: ignore[operator]


def _between(low: float, high: float, *, open_low: bool = False) -> Callable[[Value], str]:
    def check(v: Value) -> str:
        assert isinstance(v, int | float)
        ok = (low < v if open_low else low <= v) and v <= high and math.isfinite(v)
        bracket = "(" if open_low else "["
        return "" if ok else f"must be in {bracket}{low}, {high}]"

    return check


def _anything(_v: Value) -> str:
    return ""


def _not_blank(v: Value) -> str:
    return "" if str(v).strip() else "must not be empty"


def _server(v: Value) -> str:
    text = str(v).strip()
    if not text:
        return ""  # the local model
    # Imported only when a server is set: ~2.5 ms of start-up for everybody else.
    from tui_chat.core.openai_api import address_problem

    return address_problem(text)


def _env_name(v: Value) -> str:
    text = str(v)
    if text and text.replace("_", "a").isalnum() and not text[0].isdigit():
        return ""
    return "must be an environment variable's name, e.g. OPENAI_API_KEY"


def _template(v: Value) -> str:
    missing = [p for p in (TARGET, TEXT) if p not in str(v)]
    return f"must contain {' and '.join(missing)}" if missing else ""


OPTIONS: dict[str, Option] = {
    "model": Option(str, _not_blank, "GGUF model file"),
    "ctx": Option(int, _at_least(0), "context size in tokens; 0 uses the model's own"),
    "threads": Option(int, _at_least(1), "CPU threads for the model"),
    "system_prompt": Option(str, _anything, "instructions sent before every conversation"),
    "temperature": Option(float, _between(0.0, 2.0), "sampling temperature; 0 is greedy"),
    "top_p": Option(float, _between(0.0, 1.0, open_low=True), "nucleus sampling threshold"),
    "max_tokens": Option(int, _at_least(1), "most tokens in one reply"),
    "crash_limit": Option(int, _at_least(1), "crashes in a row before restarts stop"),
    "translation_language": Option(str, _not_blank, "language the Translate view starts with"),
    "translation_chunk_tokens": Option(
        int, _at_least(16), "most tokens of text translated at once (default: 300)"
    ),
    "server": Option(str, _server, "OpenAI-compatible server to use instead of a local model"),
    "server_model": Option(str, _anything, "the server's model; empty: the first it lists"),
    "api_key_env": Option(str, _env_name, "environment variable that holds the server's key"),
    "translation_prompt": Option(
        str, _template, "translation instruction with {target}, {text} (and {source})"
    ),
}


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
    import tomllib  # only when there is a file to read: ~12 ms of start-up otherwise

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    return check(data, path)


def dumps(values: Mapping[str, Value]) -> str:
    """TOML for flat settings, keys in the order of ``OPTIONS``."""
    lines = ["# tui-chat settings. Command-line options override these.", ""]
    for key in OPTIONS:
        if key in values:
            lines.append(f"# {OPTIONS[key].help}")
            lines.append(f"{key} = {_toml_value(values[key])}")
    return "\n".join(lines) + "\n"


def _toml_value(value: Value) -> str:
    if isinstance(value, str):
        escaped = []
        for ch in value:
            if ch in '"\\':
                escaped.append("\\" + ch)
            elif ch == "\n":
                escaped.append("\\n")
            elif ch == "\t":
                escaped.append("\\t")
            elif ord(ch) < 0x20 or ord(ch) == 0x7F:
                escaped.append(f"\\u{ord(ch):04x}")
            else:
                escaped.append(ch)
        return '"' + "".join(escaped) + '"'
    return repr(value)


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
