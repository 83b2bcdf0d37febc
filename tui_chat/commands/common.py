"""What the commands share: exit codes, the setting options, the settings file and the
user files."""

from __future__ import annotations

import argparse
import faulthandler
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from tui_chat.core import config
from tui_chat.core.models import ModelFileError, ModelNotFoundError, check_model_file, resolve_model
from tui_chat.core.options import OPTIONS, parse
from tui_chat.core.paths import HOME_ENV, UserPaths, open_private, user_paths
from tui_chat.core.settings import Settings, settings_from

EXIT_OK = 0
EXIT_FAILED = 1
"""The work failed: the model, the store, a server."""
EXIT_USAGE = 2
"""The command line, the settings file or the input is wrong (as argparse exits)."""
EXIT_INTERRUPTED = 130
"""Stopped with Ctrl+C (128 + SIGINT, as shells report it)."""


def whole_number(text: str) -> int:
    """An option's value as a whole number, or a usage error that says so in words
    (argparse would name the function that converts it)."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None


def _setting_type(key: str) -> Callable[[str], object]:
    def convert(text: str) -> object:
        try:
            return parse(key, text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    return convert


def add_setting_options(parser: argparse.ArgumentParser, keys: Iterable[str]) -> None:
    """An option for each setting of ``keys``, checked as the settings file checks it.

    Each stores under the setting's key and defaults to None, so that the settings file
    fills in what is not given.
    """
    defaults = Settings(model=Path()).values()
    for key in keys:
        option = OPTIONS[key]
        default = option.default_said or defaults[key]
        said = f" (default: {default})" if default != "" else ""
        parser.add_argument(
            option.flag,
            dest=key,
            type=None if key == "model" else _setting_type(key),
            metavar=option.metavar,
            help=f"{option.help}{said}",
        )


def load_config(paths: UserPaths) -> dict[str, config.Value] | None:
    """The settings file's values; None (after saying why) if the file is wrong."""
    try:
        return config.load(config.config_path(paths.config))
    except config.ConfigError as e:
        print(f"tui-chat: {e}", file=sys.stderr)
        return None


def model_settings(
    args: argparse.Namespace, values: dict[str, config.Value], seed: int = 0
) -> Settings | None:
    """Settings from the file's ``values`` and the options that override them; None
    (after saying why) if there is no usable model."""
    merged = dict(values)
    for key in OPTIONS:
        given = getattr(args, key, None)
        if given is not None and key != "model":
            merged[key] = given
    try:
        configured = values.get("model")
        choice = resolve_model(args.model, configured=str(configured) if configured else None)
        check_model_file(choice.path)
    except (ModelNotFoundError, ModelFileError) as e:
        print(f"tui-chat: {e}", file=sys.stderr)
        return None
    return settings_from(choice.path, merged, seed=seed)


def home_problem() -> str:
    """Why ``TUI_CHAT_HOME`` cannot hold tui-chat's files ("" if it can, or is not set)."""
    home = os.environ.get(HOME_ENV)
    if home and Path(home).expanduser().exists() and not Path(home).expanduser().is_dir():
        return f"{HOME_ENV}={home} is a file, not a folder: point it at a folder."
    return ""


def prepare_user_files() -> tuple[UserPaths, str]:
    """Create the log folder and send this process's log there. ``kill -USR2`` on it
    writes every thread's Python stack to the same log (for a hang).

    Returns:
        The paths, and why no log can be written ("" when it can): a read-only file
        system, say. tui-chat then runs without its logs.
    """
    paths = user_paths()
    try:
        log_file = os.fdopen(open_private(paths.app_log), "a", buffering=1)
    except OSError as e:
        logging.basicConfig(handlers=[logging.NullHandler()])
        return paths, (
            f"Logs cannot be written to {paths.logs} ({e.strerror or e}): tui-chat runs "
            "without them."
        )
    logging.basicConfig(
        stream=log_file,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    faulthandler.register(signal.SIGUSR2, file=log_file, all_threads=True)
    return paths, ""
