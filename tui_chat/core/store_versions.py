"""Versions of a conversation in the store: a reply asked for again, a message edited
and sent again, each begins another version from its place on, and the person may go
back to any of them.

The messages table holds the versions shown, the conversation as the model gets it, so
that everything that reads a conversation (the chat, search, the list) reads it as
before. Each version not shown is a row of ``branches``: where it begins (``position``,
the index of its first message), its number among the versions there, and its messages
from there on as JSON, with the versions that began within them (nested the same way).
Choosing another version swaps the two: the shown one is packed into a row, the chosen
one unpacked into messages (which get new ids), in one transaction.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

Packed = dict[str, Any]
"""A version put aside, as JSON: ``{"messages": [{column: value}], "branches":
[{"position", "version", "tail": Packed}]}``."""

MESSAGE_COLUMNS = (
    "role",
    "text",
    "thinking",
    "status",
    "prompt_tokens",
    "completion_tokens",
    "created",
    "updated",
    "version",
)
"""A message's columns, as a version aside keeps each of its messages."""


@dataclass(frozen=True, slots=True)
class Fork:
    """A place in a conversation where it has versions."""

    position: int
    """Index of the first message that differs between them."""
    shown: int
    """The number of the version shown (1 is the first)."""
    count: int
    """How many versions there are."""


def forks(
    conn: sqlite3.Connection, conversation_id: int, since: int = 0, until: int | None = None
) -> dict[int, Fork]:
    """The places, from message index ``since`` on (up to ``until``), where the
    conversation has versions."""
    rows = conn.execute(
        "SELECT position, max(version) FROM branches WHERE conversation_id = ? "
        "AND position >= ? AND position < ? GROUP BY position",
        (conversation_id, since, 2**62 if until is None else until),
    ).fetchall()
    found = {}
    for position, highest in rows:
        shown = conn.execute(
            "SELECT version FROM messages WHERE conversation_id = ? ORDER BY id LIMIT 1 OFFSET ?",
            (conversation_id, position),
        ).fetchone()
        number = shown[0] if shown else 0
        found[position] = Fork(position, number, max(highest, number))
    return found


def new_version(conn: sqlite3.Connection, conversation_id: int, position: int) -> int:
    """Put the messages from ``position`` on aside as a version of their own; returns
    the number the version that begins there now gets (its first message is to be
    added with it). Inside the caller's transaction."""
    numbers = [
        row[0]
        for row in conn.execute(
            "SELECT version FROM branches WHERE conversation_id = ? AND position = ?",
            (conversation_id, position),
        )
    ]
    shown = _pack(conn, conversation_id, position)
    if shown:
        numbers.append(shown)
    return max(numbers, default=0) + 1


def show_version(
    conn: sqlite3.Connection, conversation_id: int, position: int, version: int
) -> bool:
    """Show version ``version`` of the conversation from ``position`` on, the shown one
    put aside; False if there is no such version (nothing changes). Inside the caller's
    transaction."""
    row = conn.execute(
        "SELECT id, tail FROM branches WHERE conversation_id = ? AND position = ? AND version = ?",
        (conversation_id, position, version),
    ).fetchone()
    if row is None:
        return False
    _pack(conn, conversation_id, position)
    conn.execute("DELETE FROM branches WHERE id = ?", (row[0],))
    _unpack(conn, conversation_id, json.loads(row[1]))
    conn.execute(
        "UPDATE conversations SET updated = ?, context_start = min(context_start, ?) WHERE id = ?",
        (time.time(), position, conversation_id),
    )
    return True


def versions_of(conn: sqlite3.Connection, conversation_id: int) -> list[Packed]:
    """Every version not shown: ``{"position", "version", "messages", "versions"}``, with
    the versions within it the same way, the earliest place first."""
    rows = conn.execute(
        "SELECT position, version, tail FROM branches WHERE conversation_id = ? "
        "ORDER BY position, version",
        (conversation_id,),
    ).fetchall()
    return [_public(position, version, json.loads(tail)) for position, version, tail in rows]


def _public(position: int, version: int, tail: Packed) -> Packed:
    return {
        "position": position,
        "version": version,
        "messages": tail["messages"],
        "versions": [_public(b["position"], b["version"], b["tail"]) for b in tail["branches"]],
    }


def texts_of(tail: Packed) -> list[str]:
    """The texts of a version put aside (as a branches row keeps it), and of those within."""
    texts = [str(m["text"]) for m in tail["messages"]]
    for branch in tail["branches"]:
        texts += texts_of(branch["tail"])
    return texts


def add_versions(conn: sqlite3.Connection, conversation_id: int, aside: list[Packed]) -> None:
    """Keep ``aside`` (as ``versions_of`` gives them) as the conversation's versions not
    shown. Inside the caller's transaction."""
    conn.executemany(
        "INSERT INTO branches (conversation_id, position, version, tail) VALUES (?, ?, ?, ?)",
        [
            (conversation_id, v["position"], v["version"], json.dumps(_tail(v), ensure_ascii=False))
            for v in aside
        ],
    )


def _tail(version: Packed) -> Packed:
    """A version as ``versions_of`` gives it, as a branches row keeps it."""
    return {
        "messages": [{c: m[c] for c in MESSAGE_COLUMNS} for m in version["messages"]],
        "branches": [
            {"position": v["position"], "version": v["version"], "tail": _tail(v)}
            for v in version["versions"]
        ],
    }


def _pack(conn: sqlite3.Connection, conversation_id: int, position: int) -> int:
    """Move the shown messages from ``position`` on, and the versions that begin after
    it, into a branches row; returns the number of the version moved (0: no messages)."""
    rows = conn.execute(
        f"SELECT id, {', '.join(MESSAGE_COLUMNS)} FROM messages WHERE conversation_id = ? "
        "ORDER BY id LIMIT -1 OFFSET ?",
        (conversation_id, position),
    ).fetchall()
    if not rows:
        return 0
    inner = conn.execute(
        "SELECT id, position, version, tail FROM branches WHERE conversation_id = ? "
        "AND position > ?",
        (conversation_id, position),
    ).fetchall()
    tail: Packed = {
        "messages": [dict(zip(MESSAGE_COLUMNS, row[1:], strict=True)) for row in rows],
        "branches": [{"position": p, "version": v, "tail": json.loads(t)} for _, p, v, t in inner],
    }
    version = int(rows[0][-1])
    conn.executemany("DELETE FROM branches WHERE id = ?", [(row[0],) for row in inner])
    conn.execute(
        "DELETE FROM messages WHERE conversation_id = ? AND id >= ?", (conversation_id, rows[0][0])
    )
    conn.execute(
        "INSERT INTO branches (conversation_id, position, version, tail) VALUES (?, ?, ?, ?)",
        (conversation_id, position, version, json.dumps(tail, ensure_ascii=False)),
    )
    return version


def add_messages(
    conn: sqlite3.Connection, conversation_id: int, messages: list[dict[str, Any]]
) -> None:
    """Append ``messages``, each given every column (``MESSAGE_COLUMNS``). Inside the
    caller's transaction."""
    conn.executemany(
        f"INSERT INTO messages (conversation_id, {', '.join(MESSAGE_COLUMNS)}) "
        f"VALUES (?, {', '.join('?' * len(MESSAGE_COLUMNS))})",
        [(conversation_id, *(m[c] for c in MESSAGE_COLUMNS)) for m in messages],
    )


def _unpack(conn: sqlite3.Connection, conversation_id: int, tail: Packed) -> None:
    """Make a packed version the shown one: its messages appended, its versions rows."""
    add_messages(conn, conversation_id, tail["messages"])
    conn.executemany(
        "INSERT INTO branches (conversation_id, position, version, tail) VALUES (?, ?, ?, ?)",
        [
            (
                conversation_id,
                b["position"],
                b["version"],
                json.dumps(b["tail"], ensure_ascii=False),
            )
            for b in tail["branches"]
        ],
    )
