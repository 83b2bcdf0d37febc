"""`tui-chat --list`, `--continue`/`--open ID` checks, `tui-chat export`, `tui-chat
import` and `tui-chat search`."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sqlite3
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from tui_chat.commands.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, home_problem, whole_number
from tui_chat.core.paths import user_paths
from tui_chat.core.store import Store, StoreError
from tui_chat.core.store_records import MATCH_END, MATCH_START
from tui_chat.core.visible import visible


def _open(path: Path) -> Store | None:
    if not path.exists():
        return None
    try:
        return Store.open(path)
    except StoreError as e:
        print(f"tui-chat: the conversation store {path} cannot be used: {e}", file=sys.stderr)
        raise


def print_list(path: Path, limit: int | None = None) -> int:
    """Print id, last update, message count and title of the newest conversations:
    ``limit`` of them (0: all; None: all into a pipe or file, a screenful on a terminal)."""
    if limit is None:
        limit = max(5, shutil.get_terminal_size().lines - 3) if sys.stdout.isatty() else 0
    try:
        store = _open(path)
    except StoreError:
        return EXIT_FAILED
    conversations = store.list_conversations(limit or None) if store else []
    more = store.count_conversations() - len(conversations) if store else 0
    if store:
        store.close()
    if not conversations:
        print("No saved conversations yet.", file=sys.stderr)
        return EXIT_OK
    print(f"{'ID':>5}  {'UPDATED':16}  {'MESSAGES':>8}  TITLE")
    for c in conversations:
        title = visible(c.title or "(untitled)")
        print(f"{c.id:>5}  {_when(c.updated)}  {c.message_count:>8}  {title}")
    if more > 0:
        print(f"… and {more} older (tui-chat --list --limit 0 shows all).", file=sys.stderr)
    return EXIT_OK


def _when(stamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp))


def run_search(argv: Sequence[str]) -> int:
    """`tui-chat search WORDS`: the messages that hold them, the newest first."""
    parser = argparse.ArgumentParser(
        prog="tui-chat search",
        description="Find the saved messages that hold every one of WORDS (whole words, "
        "the last may be the start of one; case and accents do not matter), the newest "
        "first. Exit status 1 when none does.",
    )
    parser.add_argument("words", nargs="+", metavar="WORDS")
    parser.add_argument(
        "--limit", type=whole_number, default=50, metavar="N", help="at most N (default: 50)"
    )
    args = parser.parse_args(argv)
    problem = home_problem()
    if problem:
        print(f"tui-chat search: {problem}", file=sys.stderr)
        return EXIT_USAGE
    words = " ".join(args.words)
    try:
        store = _open(user_paths().store)
    except StoreError:
        return EXIT_FAILED
    found = store.search(words, max(1, args.limit)) if store else []
    if store:
        store.close()
    if not found:
        print(f"tui-chat search: no saved message holds {words!r}.", file=sys.stderr)
        return EXIT_FAILED
    marks = _marks(sys.stdout.isatty() and "NO_COLOR" not in os.environ)
    for f in found:
        line = "".join(marks.get(part, visible(part)) for part in _MARKED.split(f.line))
        print(f"{f.conversation_id:>5}  {_when(f.created)}  {f.role:9}  {line}")
    return EXIT_OK


_MARKED = re.compile(f"({MATCH_START}|{MATCH_END})")


def _marks(bold: bool) -> dict[str, str]:
    """What stands for the start and end of a match: bold on a terminal, else nothing."""
    return {MATCH_START: "\x1b[1m" if bold else "", MATCH_END: "\x1b[22m" if bold else ""}


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


def run_import(argv: Sequence[str]) -> int:
    """`tui-chat import FILE`: a conversation `tui-chat export --format json` wrote, added
    to the saved ones."""
    parser = argparse.ArgumentParser(
        prog="tui-chat import",
        description="Add a conversation that `tui-chat export --format json` wrote (its "
        "versions and settings too; its thinking if exported --with-thinking).",
    )
    parser.add_argument("file", metavar="FILE", help="the JSON file; - reads standard input")
    args = parser.parse_args(argv)
    problem = home_problem()
    if problem:
        print(f"tui-chat import: {problem}", file=sys.stderr)
        return EXIT_USAGE
    from tui_chat.core.export import NotAnExport, read_json

    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text("utf-8")
        fields, messages, aside = read_json(text)
    except (OSError, UnicodeDecodeError) as e:
        print(f"tui-chat import: {args.file} cannot be read: {e}", file=sys.stderr)
        return EXIT_USAGE
    except NotAnExport as e:
        print(f"tui-chat import: {visible(args.file)}: {e}", file=sys.stderr)
        return EXIT_USAGE
    try:
        store = Store.open(user_paths().store)
    except StoreError as e:
        print(f"tui-chat: the conversation store cannot be used: {e}", file=sys.stderr)
        return EXIT_FAILED
    try:
        conversation_id = store.add_whole(fields, messages, aside)
    except sqlite3.Error as e:
        print(f"tui-chat import: it could not be saved: {e}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        store.close()
    print(f"Imported as conversation {conversation_id}: tui-chat --open {conversation_id}")
    return EXIT_OK


def run_export(argv: Sequence[str]) -> int:
    """`tui-chat export ID [--format md|json]`: a conversation to standard output."""
    parser = argparse.ArgumentParser(
        prog="tui-chat export", description="Write a saved conversation to standard output."
    )
    parser.add_argument(
        "id", type=whole_number, metavar="ID", help="the conversation (see tui-chat --list)"
    )
    parser.add_argument("--format", choices=("md", "json"), default="md", help="default: md")
    parser.add_argument(
        "--with-thinking",
        action="store_true",
        help="include what a reasoning model thought before each answer (left out by default)",
    )
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
    aside = store.versions(args.id) if store and conversation else []
    if store:
        store.close()
    if conversation is None:
        print(f"tui-chat export: there is no conversation {args.id}.", file=sys.stderr)
        return EXIT_USAGE
    # Here, not at the top: ``--open`` and ``--continue`` import this module before the
    # first frame, and have no use for JSON and dates.
    from tui_chat.core.export import to_json, to_markdown

    write = to_markdown if args.format == "md" else to_json
    sys.stdout.write(write(conversation, args.with_thinking, aside))
    return EXIT_OK
