"""`tui-chat --list`, `--continue`/`--open ID` checks and `tui-chat export`."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from tui_chat.commands.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, home_problem, whole_number
from tui_chat.core.export import to_json, to_markdown
from tui_chat.core.paths import user_paths
from tui_chat.core.store import Store, StoreError


def _open(path: Path) -> Store | None:
    if not path.exists():
        return None
    try:
        return Store.open(path)
    except StoreError as e:
        print(f"tui-chat: the conversation store {path} cannot be used: {e}", file=sys.stderr)
        raise


def print_list(path: Path) -> int:
    """Print id, last update, message count and title of every conversation."""
    try:
        store = _open(path)
    except StoreError:
        return EXIT_FAILED
    conversations = store.list_conversations() if store else []
    if store:
        store.close()
    if not conversations:
        print("No saved conversations yet.", file=sys.stderr)
        return EXIT_OK
    print(f"{'ID':>5}  {'UPDATED':16}  {'MESSAGES':>8}  TITLE")
    for c in conversations:
        updated = time.strftime("%Y-%m-%d %H:%M", time.localtime(c.updated))
        print(f"{c.id:>5}  {updated:16}  {c.message_count:>8}  {c.title or '(untitled)'}")
    return EXIT_OK


def find_conversation(path: Path, conversation_id: int | None) -> int | None:
    """The conversation to open: ``conversation_id``, or the latest when it is None.

    Returns None (after saying why) when there is nothing to open; for the latest that
    only happens when the store cannot be read, and an empty store gives 0 (a new one).
    """
    try:
        store = _open(path)
    except StoreError:
        return None
    try:
        if conversation_id is None:
            latest = store.latest() if store else None
            if latest is None:
                print("tui-chat: no saved conversation yet; starting a new one.", file=sys.stderr)
                return 0
            return latest
        if store is None or store.info(conversation_id) is None:
            print(
                f"tui-chat: there is no conversation {conversation_id} "
                "(tui-chat --list shows them).",
                file=sys.stderr,
            )
            return None
        return conversation_id
    finally:
        if store:
            store.close()


def run_export(argv: Sequence[str]) -> int:
    """`tui-chat export ID [--format md|json]`: a conversation to standard output."""
    parser = argparse.ArgumentParser(
        prog="tui-chat export", description="Write a saved conversation to standard output."
    )
    parser.add_argument(
        "id", type=whole_number, metavar="ID", help="the conversation (see tui-chat --list)"
    )
    parser.add_argument("--format", choices=("md", "json"), default="md", help="default: md")
    args = parser.parse_args(argv)
    problem = home_problem()
    if problem:
        print(f"tui-chat export: {problem}", file=sys.stderr)
        return EXIT_USAGE
    path = user_paths().store
    try:
        store = _open(path)
    except StoreError:
        return EXIT_FAILED
    conversation = store.load(args.id) if store else None
    if store:
        store.close()
    if conversation is None:
        print(f"tui-chat export: there is no conversation {args.id}.", file=sys.stderr)
        return EXIT_USAGE
    sys.stdout.write(to_markdown(conversation) if args.format == "md" else to_json(conversation))
    return EXIT_OK
