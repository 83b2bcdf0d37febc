"""The app: ``tui-chat [options]``, and its ``--list``, ``--config-path`` and
``--list-models``.

Textual is imported only once the arguments are good: ``--help`` should be instant.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import replace

from tui_chat import __version__
from tui_chat.commands.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    add_setting_options,
    home_problem,
    load_config,
    model_settings,
    prepare_user_files,
    whole_number,
)
from tui_chat.core import config
from tui_chat.core.models import MODEL_ENV
from tui_chat.core.paths import HOME_ENV, user_paths
from tui_chat.core.settings import Settings

APP_SETTINGS = (
    "model", "server", "server_model", "ctx", "threads", "gpu_layers", "flash_attn",
    "cache_type", "crash_limit", "max_tokens", "temperature",
)  # fmt: skip
"""The settings the app's command line may override."""


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
            "Options override the settings file (see --config-path). "
            "Also: tui-chat translate --help, tui-chat export --help, tui-chat search --help."
        ),
    )
    add_setting_options(parser, APP_SETTINGS)
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
    parser.add_argument(
        "--limit",
        type=whole_number,
        metavar="N",
        help="with --list: the N newest (0: all; default: all into a pipe, a screenful "
        "on a terminal)",
    )
    parser.add_argument(
        "--version",
        action=_Version,
        nargs=0,
        help="print tui-chat's version and what its llama.cpp can run on, and exit",
    )
    return parser


class _Version(argparse.Action):
    """``--version``: tui-chat's, and its llama.cpp's build (CPU only, or GPU offload),
    asked of a process of its own: this one never imports llama_cpp."""

    def __call__(self, parser: argparse.ArgumentParser, *_args: object) -> None:
        import subprocess

        try:
            done = subprocess.run(
                # -P: not the current folder's tui_chat, if it has one
                [sys.executable, "-P", "-m", "tui_chat.worker.build_info"],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            llama = done.stdout.strip() if done.returncode == 0 else ""
        except (OSError, subprocess.TimeoutExpired):
            llama = ""
        print(f"tui-chat {__version__}")
        print(llama or "llama-cpp-python: cannot be loaded (pip install llama-cpp-python)")
        parser.exit()


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


def run_app(argv: Sequence[str]) -> int:
    """Run the app; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.limit is not None and not args.list:
        parser.error("--limit goes with --list")
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
        from tui_chat.commands.conversations import print_list

        return print_list(paths.store, args.limit)
    settings = model_settings(args, values, seed=args.seed)
    if settings is None:
        return EXIT_USAGE
    if args.list_models:
        return print_server_models(settings)
    opening: int | None = None
    if args.resume or args.open is not None:
        from tui_chat.commands.conversations import find_conversation

        opening = find_conversation(paths.store, args.open)
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

    settings = replace(settings, resume_cache=paths.resume_cache)
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
