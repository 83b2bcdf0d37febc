"""The conversation store: SQLite through the standard library.

One file in the user data directory, in WAL mode (readers never block the writer, and a
second tui-chat on the same file works), created with mode 0600, its schema versioned
with ``PRAGMA user_version`` and migrated forward on open (see ``store_schema``).
Transactions are short and a busy timeout absorbs the other instance's writes.

A ``Store`` is used from one thread (the service runs it on a thread of its own).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tui_chat.core.paths import private_dir
from tui_chat.core.store_records import (
    MATCH_END,
    MATCH_START,
    ConversationInfo,
    Found,
    StoredConversation,
    StoredMessage,
    matching_line,
    title_from,
)

# Re-exported for the store's tests (the redundant alias says so).
from tui_chat.core.store_schema import SCHEMA_VERSION as SCHEMA_VERSION
from tui_chat.core.store_schema import StoreError, migrate
from tui_chat.core.store_search import forget_words_of, fts_query
from tui_chat.core.store_versions import (
    Fork,
    Packed,
    add_messages,
    add_versions,
    forks,
    new_version,
    show_version,
    versions_of,
)

BUSY_TIMEOUT_MS = 5_000

# The columns of a ConversationInfo (of conversations c) and of a StoredMessage, in order.
_INFO = (
    "c.id, c.title, c.created, c.updated, c.model, "
    "(SELECT count(*) FROM messages m WHERE m.conversation_id = c.id)"
)
_MESSAGE = (
    "id, role, text, status, prompt_tokens, completion_tokens, created, updated, thinking, version"
)


@contextlib.contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One short write transaction; it takes the write lock at once (waiting out the
    other instance for up to the busy timeout), so it never fails half-way on a lock."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        # SQLite may have rolled back already (a full disk does): the error to report is
        # the first one, and no transaction may stay open to fail every later write.
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        raise


class Store:
    """Conversations and messages on disk (or in memory, when the disk cannot be used)."""

    def __init__(self, conn: sqlite3.Connection, path: Path | None) -> None:
        self._conn = conn
        self.path = path
        """The file, or None for a store kept in memory."""

    @classmethod
    def open(cls, path: Path) -> Store:
        """Open (or create) the store at ``path``.

        Raises:
            StoreError: The file or its folder cannot be used, or it is not a database.
        """
        try:
            private_dir(path.parent)
            if not path.exists():
                # Create it private before SQLite would, with the umask's default mode.
                # Another tui-chat starting at the same moment may win the race: fine.
                with contextlib.suppress(FileExistsError):
                    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        except (OSError, sqlite3.Error) as e:
            raise StoreError(_reason(e)) from e
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            mode = _switch_to_wal(conn)
            if mode.lower() != "wal":
                raise StoreError(f"WAL mode is not available here (journal mode {mode})")
            # Safe against the app being killed (the WAL holds every commit); fsync at
            # checkpoints only.
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            migrate(conn)
            conn.execute("SELECT count(*) FROM conversations").fetchone()
        except sqlite3.Error as e:
            conn.close()
            raise StoreError(_reason(e)) from e
        except StoreError:
            conn.close()
            raise
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(OSError):
                os.chmod(f"{path}{suffix}", 0o600)
        return cls(conn, path)

    @classmethod
    def in_memory(cls) -> Store:
        """A store that lives as long as the process: nothing is written to disk."""
        conn = sqlite3.connect(":memory:", isolation_level=None)
        conn.execute("PRAGMA foreign_keys = ON")
        migrate(conn)
        return cls(conn, None)

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    # Writing --------------------------------------------------------------------------

    def create_conversation(self, model: str = "", system_prompt: str = "") -> int:
        """Start a conversation; returns its id."""
        now = time.time()
        with _transaction(self._conn):
            cursor = self._conn.execute(
                "INSERT INTO conversations (created, updated, model, system_prompt) "
                "VALUES (?, ?, ?, ?)",
                (now, now, model, system_prompt),
            )
        return int(cursor.lastrowid or 0)

    def add_message(self, conversation_id: int, role: str, text: str, status: str) -> int:
        """Append a message (committed when this returns); returns its id.

        The first user message gives an untitled conversation its title.
        """
        with _transaction(self._conn):
            return self._add(conversation_id, role, text, status)

    def _add(
        self, conversation_id: int, role: str, text: str, status: str, version: int = 1
    ) -> int:
        now = time.time()
        cursor = self._conn.execute(
            "INSERT INTO messages (conversation_id, role, text, status, created, updated, version) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (conversation_id, role, text, status, now, now, version),
        )
        self._conn.execute(
            "UPDATE conversations SET updated = ?, "
            "title = CASE WHEN title = '' AND ? = 'user' THEN ? ELSE title END "
            "WHERE id = ?",
            (now, role, title_from(text), conversation_id),
        )
        return int(cursor.lastrowid or 0)

    def add_whole(
        self, fields: dict[str, Any], messages: list[dict[str, Any]], aside: list[Packed]
    ) -> int:
        """Add a whole conversation (``export.read_json``'s): its fields, the messages
        shown (each column given) and the versions aside, in one transaction; its id."""
        with _transaction(self._conn):
            cursor = self._conn.execute(
                "INSERT INTO conversations (title, created, updated, model, system_prompt, "
                "settings) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    fields["title"],
                    fields["created"],
                    max([fields["created"], *(m["updated"] for m in messages)]),
                    fields["model"],
                    fields["system_prompt"],
                    json.dumps(fields["settings"]) if fields["settings"] else "",
                ),
            )
            conversation_id = int(cursor.lastrowid or 0)
            add_messages(self._conn, conversation_id, messages)
            add_versions(self._conn, conversation_id, aside)
        return conversation_id

    def add_version(
        self, conversation_id: int, position: int, messages: list[tuple[str, str, str]]
    ) -> tuple[int, list[int]]:
        """Begin another version of the conversation at message index ``position`` with
        ``messages`` (role, text, status): the messages from there on are kept aside as
        a version of their own. Returns the new version's number and the messages' ids."""
        with _transaction(self._conn):
            version = new_version(self._conn, conversation_id, position)
            self._conn.execute(
                "UPDATE conversations SET context_start = min(context_start, ?) WHERE id = ?",
                (position, conversation_id),
            )
            ids = [
                self._add(conversation_id, role, text, status, version if n == 0 else 1)
                for n, (role, text, status) in enumerate(messages)
            ]
        return version, ids

    def show_version(self, conversation_id: int, position: int, version: int) -> bool:
        """Show version ``version`` of the conversation from message index ``position``
        on (the one shown is kept aside); False if it has no such version."""
        with _transaction(self._conn):
            return show_version(self._conn, conversation_id, position, version)

    def forks(
        self, conversation_id: int, since: int = 0, until: int | None = None
    ) -> dict[int, Fork]:
        """Where a conversation has versions, from message index ``since`` on (up to
        ``until``)."""
        return forks(self._conn, conversation_id, since, until)

    def versions(self, conversation_id: int) -> list[Packed]:
        """The versions of a conversation not shown (``store_versions.versions_of``)."""
        return versions_of(self._conn, conversation_id)

    def set_settings(
        self, conversation_id: int, system_prompt: str, settings: dict[str, object]
    ) -> None:
        """Give a conversation its own system prompt and settings (``core.options``
        names; those left out are the defaults)."""
        with _transaction(self._conn):
            self._conn.execute(
                "UPDATE conversations SET system_prompt = ?, settings = ? WHERE id = ?",
                (system_prompt, json.dumps(settings) if settings else "", conversation_id),
            )

    def update_message(
        self,
        message_id: int,
        text: str,
        status: str,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        thinking: str = "",
    ) -> None:
        """Save the text so far (or the final text), the thinking before it and the
        status of a message."""
        now = time.time()
        with _transaction(self._conn):
            self._conn.execute(
                "UPDATE messages SET text = ?, thinking = ?, status = ?, updated = ?, "
                "prompt_tokens = coalesce(?, prompt_tokens), "
                "completion_tokens = coalesce(?, completion_tokens) WHERE id = ?",
                (text, thinking, status, now, prompt_tokens, completion_tokens, message_id),
            )
            self._conn.execute(
                "UPDATE conversations SET updated = ? WHERE id = "
                "(SELECT conversation_id FROM messages WHERE id = ?)",
                (now, message_id),
            )

    def set_context_start(self, conversation_id: int, index: int) -> None:
        """Remember from which message on the model still gets the conversation."""
        with _transaction(self._conn):
            self._conn.execute(
                "UPDATE conversations SET context_start = ? WHERE id = ?",
                (index, conversation_id),
            )

    def rename(self, conversation_id: int, title: str) -> None:
        """Give a conversation another title."""
        with _transaction(self._conn):
            self._conn.execute(
                "UPDATE conversations SET title = ? WHERE id = ?", (title.strip(), conversation_id)
            )

    def delete(self, conversation_id: int) -> None:
        """Delete a conversation and its messages, and the words only they held from the
        list of words (a password pasted there, say)."""
        with _transaction(self._conn):
            forget_words_of(self._conn, conversation_id)
            self._conn.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))

    # Reading --------------------------------------------------------------------------

    def list_conversations(
        self, limit: int | None = None, *, after: ConversationInfo | None = None, title: str = ""
    ) -> list[ConversationInfo]:
        """Every conversation (or the ``limit`` newest), the most recently updated first;
        with ``after``, those that come after it (the next page); with ``title``, those
        whose title holds each of its words (without regard to case)."""
        where, values = ["1"], []
        if after is not None:
            where.append("(c.updated, c.id) < (?, ?)")
            values += [after.updated, after.id]
        for word in title.split():
            where.append("instr(lower(c.title), ?)")
            values.append(word.lower())
        rows = self._conn.execute(
            f"SELECT {_INFO} FROM conversations c WHERE {' AND '.join(where)} "
            "ORDER BY c.updated DESC, c.id DESC LIMIT ?",
            (*values, -1 if limit is None else limit),
        ).fetchall()
        return [ConversationInfo(*row) for row in rows]

    def count_conversations(self) -> int:
        """How many conversations there are."""
        return int(self._conn.execute("SELECT count(*) FROM conversations").fetchone()[0])

    def search(self, text: str, limit: int = 50, *, before: int | None = None) -> list[Found]:
        """Messages holding every word of ``text`` (the last one may be the start of a
        longer word, as when typing, from two letters on), the newest first; with
        ``before`` (a message id), those older than it (the next page). Words are matched
        whole, without regard to case or accents; ``text`` is words, never a query language."""
        query = fts_query(self._conn, text)
        if not query:
            return []
        rows = self._conn.execute(
            "SELECT m.conversation_id, c.title, m.id, m.role, m.created, "
            f"snippet(messages_fts, 0, '{MATCH_START}', '{MATCH_END}', '…', 24) "
            "FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid "
            "JOIN conversations c ON c.id = m.conversation_id "
            "WHERE messages_fts MATCH ? AND messages_fts.rowid < ? "
            "ORDER BY messages_fts.rowid DESC LIMIT ?",
            (query, 2**63 - 1 if before is None else before, limit),
        ).fetchall()
        return [Found(*row[:5], matching_line(row[5])) for row in rows]

    def latest(self) -> int | None:
        """The id of the most recently updated conversation that has messages."""
        row = self._conn.execute(
            "SELECT c.id FROM conversations c WHERE EXISTS "
            "(SELECT 1 FROM messages m WHERE m.conversation_id = c.id) "
            "ORDER BY c.updated DESC, c.id DESC LIMIT 1"
        ).fetchone()
        return int(row[0]) if row else None

    def info(self, conversation_id: int) -> ConversationInfo | None:
        """A conversation's line in the list, or None if there is no such id."""
        row = self._conn.execute(
            f"SELECT {_INFO} FROM conversations c WHERE c.id = ?", (conversation_id,)
        ).fetchone()
        return ConversationInfo(*row) if row else None

    def load(
        self, conversation_id: int, *, tail: int | None = None, most_chars: int | None = None
    ) -> StoredConversation | None:
        """A conversation with its messages, or None if there is no such id.

        With ``tail``, only the messages a chat needs: the last ``tail`` and every one the
        model still gets (from ``context_start``), but with ``most_chars``, none before
        the newest that hold that many characters (more than the context takes: the
        history of a model with a larger context, say); ``first`` says where they begin.
        The rest stay on disk for ``messages_before``.
        """
        row = self._conn.execute(
            f"SELECT {_INFO}, c.system_prompt, c.context_start, c.settings "
            "FROM conversations c WHERE c.id = ?",
            (conversation_id,),
        ).fetchone()
        if row is None:
            return None
        info = ConversationInfo(*row[:6])
        first = 0 if tail is None else max(0, min(row[7], info.message_count - tail))
        if tail is not None and most_chars is not None and first < info.message_count - tail:
            # From the newest back, read no further than the budget reaches.
            within, total = 0, 0
            for (length,) in self._conn.execute(
                "SELECT length(text) FROM messages WHERE conversation_id = ? ORDER BY id DESC",
                (conversation_id,),
            ):
                total += length
                if total > most_chars:
                    break
                within += 1
            first = max(first, min(info.message_count - within, info.message_count - tail))
        messages = [
            StoredMessage(*r)
            for r in self._conn.execute(
                f"SELECT {_MESSAGE} FROM messages WHERE conversation_id = ? ORDER BY id "
                "LIMIT -1 OFFSET ?",
                (conversation_id, first),
            )
        ]
        return StoredConversation(
            info,
            row[6],
            row[7],
            messages,
            first,
            forks(self._conn, conversation_id, first),
            _settings(row[8]),
        )

    def position(self, conversation_id: int, message_id: int) -> int | None:
        """Index of a message in its conversation; None if it is not in that one."""
        row = self._conn.execute(
            "SELECT (SELECT count(*) FROM messages WHERE conversation_id = ? AND id < ?) "
            "FROM messages WHERE id = ? AND conversation_id = ?",
            (conversation_id, message_id, message_id, conversation_id),
        ).fetchone()
        return None if row is None else int(row[0])

    def sent_before(self, conversation_id: int | None, limit: int) -> list[str]:
        """The person's latest ``limit`` messages in other conversations than
        ``conversation_id``, the newest first (the prompt history goes on with them)."""
        rows = self._conn.execute(
            "SELECT text FROM messages WHERE role = 'user' AND conversation_id != ? "
            "ORDER BY id DESC LIMIT ?",
            (conversation_id or 0, limit),
        ).fetchall()
        return [row[0] for row in rows]

    def messages_before(
        self, conversation_id: int, message_id: int, limit: int
    ) -> list[StoredMessage]:
        """Up to ``limit`` messages of a conversation just before ``message_id``, oldest
        first: a page of what someone scrolling up reads next."""
        rows = self._conn.execute(
            f"SELECT {_MESSAGE} FROM messages WHERE conversation_id = ? AND id < ? "
            "ORDER BY id DESC LIMIT ?",
            (conversation_id, message_id, limit),
        ).fetchall()
        return [StoredMessage(*r) for r in reversed(rows)]


def _switch_to_wal(conn: sqlite3.Connection) -> str:
    """Put the file in WAL mode; returns the journal mode it ends up in.

    Switching needs the file to itself and SQLite does not wait for that with the busy
    timeout: when another tui-chat is opening the same new file at the same moment, try
    again for a while instead of failing.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _settings(saved: str) -> dict[str, object]:
    """A conversation's own settings as saved ({} for none, or for what is not an object)."""
    try:
        settings = json.loads(saved) if saved else {}
    except ValueError:
        return {}
    return settings if isinstance(settings, dict) else {}


def _reason(error: Exception) -> str:
    if isinstance(error, OSError):
        return error.strerror or str(error)
    return str(error)
