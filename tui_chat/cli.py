"""The ``tui-chat`` command: picks the command by its first word.

Each command is imported only when chosen: the worker process re-imports the main
module under spawn, and ``--help`` should be instant.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Sequence
from importlib import import_module

COMMANDS = {
    "translate": ("tui_chat.commands.translate", "run_translate"),
    "export": ("tui_chat.commands.conversations", "run_export"),
    "import": ("tui_chat.commands.conversations", "run_import"),
    "search": ("tui_chat.commands.conversations", "run_search"),
    "bench": ("tui_chat.commands.bench", "run_bench"),
    "models": ("tui_chat.commands.models", "run_models"),
    "pull": ("tui_chat.commands.pull", "run_pull"),
}
"""The commands named by a first word; any other command line runs the app."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run tui-chat; returns the exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments and arguments[0] in COMMANDS:
        module, function = COMMANDS[arguments[0]]
        return getattr(import_module(module), function)(arguments[1:])
    # What start-up makes lives as long as the app: the collector's passes over it as it
    # is made only delay the first frame. The app turns collection back on once that is
    # drawn, with the start-up's objects frozen out of the collector's view.
    gc.disable()
    try:
        from tui_chat.commands.chat import run_app

        return run_app(arguments)
    finally:
        gc.enable()
