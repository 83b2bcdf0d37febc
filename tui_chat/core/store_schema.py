"""The store's schema and its migrations: how a conversations file of any older
version is brought forward to the one this tui-chat reads and writes.

The version lives in ``PRAGMA user_version``; ``migrate`` applies one step per write
transaction, so two tui-chats opening the same file at once never apply a step twice.
"""

from __future__ import annotations

import sqlite3

_MESSAGE_TRIGGERS = """
    CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages
    WHEN new.status != 'streaming' BEGIN
        INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text);
        INSERT INTO terms_scratch (rowid, text) VALUES (1, new.text);
        INSERT OR IGNORE INTO message_terms SELECT term FROM terms_scratch_vocab;
        DELETE FROM terms_scratch;
    END;
    CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
    WHEN old.status != 'streaming' BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
    END;
    CREATE TRIGGER messages_fts_update AFTER UPDATE OF text, status ON messages
    WHEN new.status != 'streaming' OR old.status != 'streaming' BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, text)
            SELECT 'delete', old.id, old.text WHERE old.status != 'streaming';
        INSERT INTO messages_fts (rowid, text)
            SELECT new.id, new.text WHERE new.status != 'streaming';
        INSERT INTO terms_scratch (rowid, text)
            SELECT 1, new.text WHERE new.status != 'streaming';
        INSERT OR IGNORE INTO message_terms SELECT term FROM terms_scratch_vocab;
        DELETE FROM terms_scratch;
    END;
"""
"""What keeps the search index and the list of words current as messages are added,
changed and deleted, a reply only once it has ended (steps 7 and 9 create them)."""

# Each entry brings the schema from version N to N + 1. Never edit one that has shipped:
# add a new one. (Step 7's triggers are written once, above: the same statements.)
MIGRATIONS: tuple[str, ...] = (
    # 1: conversations and their messages.
    """
    CREATE TABLE conversations (
        id INTEGER PRIMARY KEY,
        title TEXT NOT NULL DEFAULT '',
        created REAL NOT NULL,
        updated REAL NOT NULL,
        model TEXT NOT NULL DEFAULT '',
        system_prompt TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
        text TEXT NOT NULL,
        status TEXT NOT NULL,
        prompt_tokens INTEGER,
        completion_tokens INTEGER,
        created REAL NOT NULL,
        updated REAL NOT NULL
    );
    CREATE INDEX messages_of_conversation ON messages (conversation_id, id);
    """,
    # 2: where the model's memory of a long conversation begins, and a faster "latest".
    """
    ALTER TABLE conversations ADD COLUMN context_start INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX conversations_by_update ON conversations (updated);
    """,
    # 3: a conversation's id is never given again once it is deleted (`--open 1` always
    # means the same conversation). SQLite cannot add AUTOINCREMENT to a table: it is
    # built again (with foreign keys off, see migrate) and the old ids copied over.
    """
    CREATE TABLE conversations_new (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        title TEXT NOT NULL DEFAULT '',
        created REAL NOT NULL,
        updated REAL NOT NULL,
        model TEXT NOT NULL DEFAULT '',
        system_prompt TEXT NOT NULL DEFAULT '',
        context_start INTEGER NOT NULL DEFAULT 0
    );
    INSERT INTO conversations_new
        SELECT id, title, created, updated, model, system_prompt, context_start
        FROM conversations;
    DROP TABLE conversations;
    ALTER TABLE conversations_new RENAME TO conversations;
    CREATE INDEX conversations_by_update ON conversations (updated);
    """,
    # 4: full-text search over every message (SQLite's FTS5, an index of the messages
    # table's text, filled from what is there and kept current by triggers).
    """
    CREATE VIRTUAL TABLE messages_fts USING fts5(
        text, content='messages', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
    );
    INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
    CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text);
    END;
    CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
    END;
    CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
        INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text);
    END;
    """,
    # 5: the index again, with the two- and three-letter starts of every word indexed too:
    # the first letters typed into F2's search match many words, whose lists of messages
    # SQLite would otherwise merge whole (tens of ms on a large store).
    """
    DROP TABLE messages_fts;
    CREATE VIRTUAL TABLE messages_fts USING fts5(
        text, content='messages', content_rowid='id', tokenize='unicode61 remove_diacritics 2',
        prefix='2 3'
    );
    INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
    """,
    # 6: every word the messages hold, as the index spells it (lower case, no accents),
    # so that the last word of a search, still being typed, is looked for as itself and
    # the few longer words it starts: FTS5 answers a longer start ("harbo*") by merging
    # the whole lists of messages of the words that begin with it (40 ms for a common
    # word in 500,000 messages), a few words by reading the newest of each (2 ms).
    # The index spells the words of a new message in a scratch table of its own.
    """
    CREATE TABLE message_terms (term TEXT PRIMARY KEY) WITHOUT ROWID;
    CREATE VIRTUAL TABLE terms_scratch USING fts5(
        text, tokenize='unicode61 remove_diacritics 2', detail=none
    );
    CREATE VIRTUAL TABLE terms_scratch_vocab USING fts5vocab(terms_scratch, row);
    CREATE VIRTUAL TABLE temp.messages_vocab USING fts5vocab(main, messages_fts, row);
    INSERT INTO message_terms SELECT term FROM temp.messages_vocab;
    DROP TABLE temp.messages_vocab;
    CREATE TRIGGER message_terms_insert AFTER INSERT ON messages BEGIN
        INSERT INTO terms_scratch (rowid, text) VALUES (1, new.text);
        INSERT OR IGNORE INTO message_terms SELECT term FROM terms_scratch_vocab;
        DELETE FROM terms_scratch;
    END;
    CREATE TRIGGER message_terms_update AFTER UPDATE OF text ON messages BEGIN
        INSERT INTO terms_scratch (rowid, text) VALUES (1, new.text);
        INSERT OR IGNORE INTO message_terms SELECT term FROM terms_scratch_vocab;
        DELETE FROM terms_scratch;
    END;
    """,
    # 7: a reply is indexed for search once it has ended, not at each save while it
    # streams (twice a second, its whole text again: CPU the model needs). What the
    # index holds of replies still streaming leaves it.
    """
    DROP TRIGGER messages_fts_insert;
    DROP TRIGGER messages_fts_delete;
    DROP TRIGGER messages_fts_update;
    DROP TRIGGER message_terms_insert;
    DROP TRIGGER message_terms_update;
    INSERT INTO messages_fts (messages_fts, rowid, text)
        SELECT 'delete', id, text FROM messages WHERE status = 'streaming';
    """
    + _MESSAGE_TRIGGERS,
    # 8: a reasoning model's thinking, kept apart from its answer (the text): never sent
    # back to the model, never searched, exported only when asked for.
    """
    ALTER TABLE messages ADD COLUMN thinking TEXT NOT NULL DEFAULT '';
    """,
    # 9: versions. A message asked again (a reply regenerated, a message edited) begins
    # another version of the conversation from there on. The messages table holds the
    # versions shown (what the model gets); each other one is a row of branches: its
    # messages from that place on, and the versions within them, as JSON
    # (``store_versions``). A message's number among the versions at its place is
    # ``version``. And a conversation's own settings (a JSON object; '': the defaults).
    # Messages move between the two (a version shown again gets new ids): the messages
    # table is built again with AUTOINCREMENT, so that an id is never given twice (a
    # second tui-chat saving a reply by its id must never write over another message).
    # The ids are copied: the search index, keyed by them, stays as it is.
    """
    ALTER TABLE conversations ADD COLUMN settings TEXT NOT NULL DEFAULT '';
    CREATE TABLE messages_new (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
        text TEXT NOT NULL,
        status TEXT NOT NULL,
        prompt_tokens INTEGER,
        completion_tokens INTEGER,
        created REAL NOT NULL,
        updated REAL NOT NULL,
        thinking TEXT NOT NULL DEFAULT '',
        version INTEGER NOT NULL DEFAULT 1
    );
    INSERT INTO messages_new (id, conversation_id, role, text, status, prompt_tokens,
        completion_tokens, created, updated, thinking)
        SELECT id, conversation_id, role, text, status, prompt_tokens, completion_tokens,
            created, updated, thinking FROM messages;
    DROP TABLE messages;
    ALTER TABLE messages_new RENAME TO messages;
    CREATE INDEX messages_of_conversation ON messages (conversation_id, id);
    """
    + _MESSAGE_TRIGGERS
    + """
    CREATE TABLE branches (
        id INTEGER PRIMARY KEY,
        conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        position INTEGER NOT NULL CHECK (position >= 0),
        version INTEGER NOT NULL CHECK (version >= 1),
        tail TEXT NOT NULL,
        UNIQUE (conversation_id, position, version)
    );
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


# Defined here, not in store.py, because a migration raises it and store.py imports this
# module; store.py re-exports it.
class StoreError(Exception):
    """The store cannot be used; the message names the file and the reason."""


def migrate(conn: sqlite3.Connection, up_to: int = SCHEMA_VERSION) -> int:
    """Bring the schema forward to ``up_to``; returns the version it was at.

    Each step reads the version and applies the next migration in one write
    transaction, so two tui-chats starting at once cannot both apply it.

    Raises:
        StoreError: The file was written by a newer tui-chat.
    """
    # A table is built again by some steps: with foreign keys on, dropping the old one
    # would delete every message (ON DELETE CASCADE). The pragma is a no-op inside a
    # transaction, so it is switched here, and the keys checked before each commit.
    (keys_on,) = conn.execute("PRAGMA foreign_keys").fetchone()
    conn.execute("PRAGMA foreign_keys = OFF")
    try:
        return _migrate(conn, up_to)
    finally:
        conn.execute(f"PRAGMA foreign_keys = {'ON' if keys_on else 'OFF'}")


def _migrate(conn: sqlite3.Connection, up_to: int) -> int:
    found: int | None = None
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            found = version if found is None else found
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"it was written by a newer tui-chat (schema {version}, this one knows "
                    f"{SCHEMA_VERSION})"
                )
            if version >= up_to:
                conn.execute("COMMIT")
                return found
            broken = len(conn.execute("PRAGMA foreign_key_check").fetchall())
            for statement in _statements(MIGRATIONS[version]):
                conn.execute(statement)
            # Links broken before (a message whose conversation someone deleted by hand)
            # are carried over as they were; a step that breaks more is undone.
            if len(conn.execute("PRAGMA foreign_key_check").fetchall()) > broken:
                raise StoreError(f"migrating it to schema {version + 1} broke its links")
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise


def _statements(script: str) -> list[str]:
    """The statements of a migration, one by one (a trigger's body holds ";" too).
    ``executescript`` would do it, but it commits first: the step must stay in its
    transaction."""
    statements: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    if pending.strip():
        statements.append(pending.strip())
    return statements
