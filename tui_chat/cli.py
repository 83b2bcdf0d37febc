"""The ``tui-chat`` command.

Textual is imported only once the arguments are good: the worker process re-imports
the main module under spawn, and ``--help`` should be instant.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from tui_chat import __version__
from tui_chat.core.models import (
    MODEL_ENV,
    ModelFileError,
    ModelNotFoundError,
    check_model_file,
    resolve_model,
)
from tui_chat.core.paths import HOME_ENV, UserPaths, user_paths
from tui_chat.core.protocol import Sampling
from tui_chat.core.settings import (
    DEFAULT_CRASH_LIMIT,
    DEFAULT_CTX,
    DEFAULT_MAX_TOKENS,
    Settings,
    default_threads,
)

EXIT_USAGE = 2


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def _ctx(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 (the model's own) or more, got {value}")
    return value


def _temperature(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 2.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 2, got {value}")
    return value


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by the app and ``tui-chat translate``: which model, how it runs."""
    parser.add_argument(
        "--model", metavar="PATH", help="GGUF model file (default: the bundled SmolLM2-135M)"
    )
    parser.add_argument(
        "--ctx",
        type=_ctx,
        default=DEFAULT_CTX,
        metavar="N",
        help=f"context size in tokens; 0 uses the model's own (default: {DEFAULT_CTX})",
    )
    parser.add_argument(
        "--threads",
        type=_positive,
        default=None,
        metavar="N",
        help=f"CPU threads for the model (default: all cores, here {default_threads()})",
    )
    parser.add_argument(
        "--crash-limit",
        type=_positive,
        default=DEFAULT_CRASH_LIMIT,
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
            "Ctrl+T switches between Chat and Translate, Ctrl+L clears the chat, "
            "Ctrl+R restarts a crashed model, F1 lists keys, Ctrl+Q quits. "
            f"The model is --model, else ${MODEL_ENV}, else the bundled SmolLM2-135M. "
            f"${HOME_ENV} moves all of tui-chat's files (logs) under one folder. "
            "To translate a file or a pipe: tui-chat translate --help"
        ),
    )
    add_model_options(parser)
    parser.add_argument(
        "--max-tokens",
        type=_positive,
        default=DEFAULT_MAX_TOKENS,
        metavar="N",
        help=f"most tokens in one reply (default: {DEFAULT_MAX_TOKENS})",
    )
    parser.add_argument(
        "--temperature",
        type=_temperature,
        default=Sampling().temperature,
        metavar="T",
        help=f"sampling temperature, 0 for greedy (default: {Sampling().temperature})",
    )
    parser.add_argument(
        "--seed", type=int, default=0, metavar="N", help="sampling seed (default: 0)"
    )
    parser.add_argument("--version", action="version", version=f"tui-chat {__version__}")
    return parser


def model_settings(args: argparse.Namespace, **extra: object) -> Settings | None:
    """Settings from the model options; None (after saying why) if there is no usable model."""
    try:
        choice = resolve_model(args.model)
        check_model_file(choice.path)
    except (ModelNotFoundError, ModelFileError) as e:
        print(f"tui-chat: {e}", file=sys.stderr)
        return None
    return Settings(
        model=choice.path,
        n_ctx=args.ctx,
        n_threads=args.threads or default_threads(),
        crash_limit=args.crash_limit,
        **extra,  # type: ignore[arg-type]
    )


def prepare_user_files() -> UserPaths:
    """Create the log folder and send the UI process's log there."""
    paths = user_paths()
    paths.logs.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        filename=paths.app_log,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    """Run tui-chat; returns the exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["translate"]:
        from tui_chat.translate_command import run_translate

        return run_translate(arguments[1:])
    args = build_parser().parse_args(arguments)
    settings = model_settings(
        args,
        max_tokens=args.max_tokens,
        sampling=Sampling(temperature=args.temperature),
        seed=args.seed,
    )
    if settings is None:
        return EXIT_USAGE
    paths = prepare_user_files()

    from tui_chat.ui.app import ChatApp

    app = ChatApp(settings, paths)
    try:
        app.run()
    finally:
        app.service.close_now()
    return 0
