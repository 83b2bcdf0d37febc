"""Searching every message: the words of a search as an FTS5 query.

The last word of a search is the one still being typed, so it also matches longer words
it starts. FTS5 answers a start of two or three letters from an index of its own; a
longer one it would answer by merging the whole lists of messages of every word that
begins with it, tens of milliseconds for a common word. So the words it starts are
looked up in ``message_terms`` (every word the messages hold, as the index spells it)
and searched for by name, each read from its newest message on.
"""

from __future__ import annotations

import json
import re
import sqlite3
import unicodedata

from tui_chat.core.store_versions import texts_of

WORD = re.compile(r"[^\W_]+")
"""A word as the index's tokenizer (``unicode61``) cuts one: letters and digits."""

LONGER_WORDS_AT_MOST = 64
"""Longer words a search's last word may stand for by name; beyond, FTS5's prefix query
(a start shared by that many words is short, and each of its words rare)."""

INDEXED_STARTS = 3
"""The longest word start FTS5 keeps an index of (``prefix='2 3'``)."""


def spelled(word: str) -> str:
    """``word`` as the index spells it: lower case, without accents."""
    decomposed = unicodedata.normalize("NFD", word.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _quoted(word: str) -> str:
    return f'"{word}"'  # a WORD holds no quote: nothing in it is taken for an operator


def fts_query(conn: sqlite3.Connection, text: str) -> str:
    """An FTS5 query for the words of ``text``, all required: every word whole but the
    last, which may also start a longer word (from two letters on: one letter would
    match nearly every message). "" if ``text`` holds no word."""
    words = WORD.findall(text)
    if not words:
        return ""
    *whole, last = words
    parts = [_quoted(word) for word in whole]
    if len(last) == 1:
        parts.append(_quoted(last))
    elif len(last) <= INDEXED_STARTS:
        parts.append(_quoted(last) + "*")
    else:
        start = spelled(last)
        longer = [
            term
            for (term,) in conn.execute(
                "SELECT term FROM message_terms WHERE term > ? AND term < ? LIMIT ?",
                (start, start + "\U0010ffff", LONGER_WORDS_AT_MOST + 1),
            )
        ]
        if len(longer) > LONGER_WORDS_AT_MOST:
            parts.append(_quoted(last) + "*")
        else:
            parts.append("(" + " OR ".join(_quoted(w) for w in [last, *longer]) + ")")
    return " AND ".join(parts)


def forget_words_of(conn: sqlite3.Connection, conversation_id: int) -> None:
    """Take out of ``message_terms`` the words no message but those of a conversation
    about to be deleted holds. Call it in the deleting transaction, before the delete."""
    conn.execute(
        "INSERT INTO terms_scratch (rowid, text) "
        "SELECT id, text FROM messages WHERE conversation_id = ?",
        (conversation_id,),
    )
    # The versions not shown were searchable once, their words listed then.
    aside = [
        text
        for (tail,) in conn.execute(
            "SELECT tail FROM branches WHERE conversation_id = ?", (conversation_id,)
        )
        for text in texts_of(json.loads(tail))
    ]
    conn.executemany(
        "INSERT INTO terms_scratch (rowid, text) VALUES (?, ?)",
        [(-n, text) for n, text in enumerate(aside, 1)],
    )
    conn.execute(
        "DELETE FROM message_terms WHERE term IN (SELECT v.term FROM terms_scratch_vocab v "
        "WHERE NOT EXISTS (SELECT 1 FROM messages_fts f JOIN messages m ON m.id = f.rowid "
        "WHERE messages_fts MATCH '\"' || v.term || '\"' AND m.conversation_id != ?))",
        (conversation_id,),
    )
    conn.execute("DELETE FROM terms_scratch")
