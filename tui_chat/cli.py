"""The ``tui-chat`` command.

Textual is imported only once the arguments are good: the worker process re-imports
the main module under spawn, and ``--help`` should be instant.
"""

from __future__ import annotations

import argparse
import faulthandler
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from tui_chat import __version__
from tui_chat.core import config
from tui_chat.core.models import (
    MODEL_ENV,
    ModelFileError,
    ModelNotFoundError,
    check_model_file,
    resolve_model,
)
from tui_chat.core.paths import HOME_ENV, UserPaths, open_private, user_paths
from tui_chat.core.settings import (
    DEFAULT_CRASH_LIMIT,
    DEFAULT_CTX,
    DEFAULT_MAX_TOKENS,
    Settings,
    default_threads,
    settings_from,
)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

# Command-line options that override a setting of the same name in the settings file.
OVERRIDES = (
    "ctx",
    "threads",
    "crash_limit",
    "max_tokens",
    "temperature",
    "server",
    "server_model",
)


def _number(text: str, kind: type[int] | type[float]) -> int | float:
    """``text`` as a number, or an error that says so in words (argparse would name the
    function that converts it)."""
    try:
        return kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None


def positive_number(text: str) -> int:
    """An option's value as a whole number of 1 or more, or a usage error that says so."""
    return _positive(text)


def _positive(text: str) -> int:
    value = int(_number(text, int))
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def _ctx(text: str) -> int:
    value = int(_number(text, int))
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 (the model's own) or more, got {value}")
    return value


def whole_number(text: str) -> int:
    """An option's value as a whole number, or a usage error that says so."""
    return int(_number(text, int))


def _server_url(text: str) -> str:
    from tui_chat.core.openai_api import address_problem  # only with --server

    problem = address_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(f"{problem}, got {text!r}")
    return text.strip()


def _temperature(text: str) -> float:
    value = float(_number(text, float))
    if not 0.0 <= value <= 2.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 2, got {value}")
    return value


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by the app and ``tui-chat translate``: which model, how it runs.

    Their defaults are None so that the settings file fills what is not given.
    """
    parser.add_argument(
        "--model", metavar="PATH", help="GGUF model file (default: the bundled SmolLM2-135M)"
    )
    parser.add_argument(
        "--server",
        type=_server_url,
        metavar="URL",
        help=(
            "chat with the model of an OpenAI-compatible server (llama.cpp, vLLM, Ollama) "
            "instead of a local one, e.g. http://127.0.0.1:8080; its API key is read from "
            "$OPENAI_API_KEY or the variable the settings name"
        ),
    )
    parser.add_argument(
        "--server-model", metavar="NAME", help="the server's model (default: the first it lists)"
    )
    parser.add_argument(
        "--ctx",
        type=_ctx,
        metavar="N",
        help=f"context size in tokens; 0 uses the model's own (default: {DEFAULT_CTX})",
    )
    parser.add_argument(
        "--threads",
        type=_positive,
        metavar="N",
        help=f"CPU threads for the model (default: all cores, here {default_threads()})",
    )
    parser.add_argument(
        "--crash-limit",
        type=_positive,
        metavar="N",
        help=(
            "consecutive model-worker crashes after which tui-chat stops restarting it "
            f"(default: {DEFAULT_CRASH_LIMIT})"
        ),
    )


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface of the app."""
    parser = argparse.ArgumentParser(
        prog="tui-chat",
        description="Chat in the terminal with a language model that runs on this machine.",
        epilog=(
            "Keys: Enter sends, Shift+Enter or Ctrl+J adds a line, Esc stops a reply, "
            "Ctrl+T switches between Chat and Translate, Ctrl+N starts a new conversation, "
            "F2 lists conversations, Ctrl+L clears the chat, Ctrl+R restarts a crashed "
            "model, F1 lists keys, Ctrl+Q quits. "
            f"The model is --model, else ${MODEL_ENV}, else the settings file's model, "
            "else the bundled SmolLM2-135M. "
            f"${HOME_ENV} moves all of tui-chat's files under one folder. "
            "Also: tui-chat translate --help, tui-chat export --help."
        ),
    )
    add_model_options(parser)
    parser.add_argument(
        "--max-tokens",
        type=_positive,
        metavar="N",
        help=f"most tokens in one reply (default: {DEFAULT_MAX_TOKENS})",
    )
    parser.add_argument(
        "--temperature",
        type=_temperature,
        metavar="T",
        help="sampling temperature, 0 for greedy (default: 0.2)",
    )
    parser.add_argument(
        "--seed", type=whole_number, default=0, metavar="N", help="sampling seed (default: 0)"
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--continue",
        dest="resume",
        action="store_true",
        help="reopen the most recent conversation",
    )
    which.add_argument(
        "--open", type=whole_number, metavar="ID", help="open conversation ID (see --list)"
    )
    which.add_argument("--list", action="store_true", help="print the saved conversations and exit")
    which.add_argument(
        "--config-path", action="store_true", help="print where the settings file is and exit"
    )
    which.add_argument(
        "--list-models",
        action="store_true",
        help="print the models the server (--server) offers and exit",
    )
    parser.add_argument("--version", action="version", version=f"tui-chat {__version__}")
    return parser


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
    for key in OVERRIDES:
        given = getattr(args, key, None)
        if given is not None:
            merged[key] = given
    try:
        configured = values.get("model")
        choice = resolve_model(args.model, configured=str(configured) if configured else None)
        check_model_file(choice.path)
    except (ModelNotFoundError, ModelFileError) as e:
        print(f"tui-chat: {e}", file=sys.stderr)
        return None
    return settings_from(choice.path, merged, seed=seed)


def prepare_user_files() -> tuple[UserPaths, str]:
    """Create the log folder and send the UI process's log there. ``kill -USR2`` on the
    UI process writes every thread's Python stack to the same log (for a hang).

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


def home_problem() -> str:
    """Why ``TUI_CHAT_HOME`` cannot hold tui-chat's files ("" if it can, or is not set)."""
    home = os.environ.get(HOME_ENV)
    if home and Path(home).expanduser().exists() and not Path(home).expanduser().is_dir():
        return f"{HOME_ENV}={home} is a file, not a folder: point it at a folder."
    return ""


def store_path(paths: UserPaths) -> Path:
    """The conversation store's file."""
    return paths.store


def print_server_models(settings: Settings) -> int:
    """Print the ids of the models the settings' server offers, one a line."""
    if not settings.server:
        print(
            "tui-chat: --list-models needs --server URL (or server in the settings file)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    from tui_chat.core.openai_api import ServerError, client, list_models

    with client(settings.server, os.environ.get(settings.api_key_env, "")) as http:
        try:
            models = list_models(http, settings.server)
        except ServerError as e:
            print(f"tui-chat: {e}", file=sys.stderr)
            return EXIT_FAILED
    for model in models:
        print(model.id)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run tui-chat; returns the exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["translate"]:
        from tui_chat.translate_command import run_translate

        return run_translate(arguments[1:])
    if arguments[:1] == ["bench"]:
        from tui_chat.bench.command import run_bench

        return run_bench(arguments[1:])
    if arguments[:1] == ["export"]:
        from tui_chat.conversations_command import run_export

        return run_export(arguments[1:])
    args = build_parser().parse_args(arguments)
    problem = home_problem()
    if problem:
        print(f"tui-chat: {problem}", file=sys.stderr)
        return EXIT_USAGE
    paths = user_paths()
    if args.config_path:
        print(config.config_path(paths.config))
        return EXIT_OK
    values = load_config(paths)
    if values is None:
        return EXIT_USAGE
    if args.list:
        from tui_chat.conversations_command import print_list

        return print_list(store_path(paths))
    settings = model_settings(args, values, seed=args.seed)
    if settings is None:
        return EXIT_USAGE
    if args.list_models:
        return print_server_models(settings)
    opening: int | None = None
    if args.resume or args.open is not None:
        from tui_chat.conversations_command import find_conversation

        opening = find_conversation(store_path(paths), args.open)
        if opening is None:
            return EXIT_USAGE
    if not (sys.stdin.isatty() and sys.__stderr__ is not None and sys.__stderr__.isatty()):
        # The app reads keys from stdin and draws on stderr (Textual's way): without a
        # terminal there it would write escape codes into a file and wait for keys that
        # never come.
        print(
            "tui-chat needs a terminal; for scripts use `tui-chat translate` or `tui-chat export`.",
            file=sys.stderr,
        )
        return EXIT_USAGE
    paths, log_problem = prepare_user_files()
    from tui_chat.ui.app import ChatApp

    app = ChatApp(settings, paths, open_conversation=opening, log_problem=log_problem)
    try:
        app.run()
    finally:
        app.service.close_now()
        app.store.close_now()
    if app.ended_by is not None:
        # Everything is put away: end by the signal, so that whoever sent it sees so.
        signal.signal(app.ended_by, signal.SIG_DFL)
        os.kill(os.getpid(), app.ended_by)
    if app.failure:
        print(app.failure, file=sys.stderr)
    return EXIT_OK if app.return_code in (None, 0) else EXIT_FAILED
