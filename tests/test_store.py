"""The conversation store: schema, migration, WAL, permissions, concurrency, damage."""

from __future__ import annotations

import multiprocessing
import random
import sqlite3
import stat
import time
from pathlib import Path

import pytest

from tui_chat.core.store import (
    SCHEMA_VERSION,
    Store,
    StoreError,
    migrate,
    title_from,
)
from tui_chat.core.store_files import open_store
from tui_chat.core.store_search import LONGER_WORDS_AT_MOST, fts_query


@pytest.fixture
def store_file(tmp_path: Path) -> Path:
    return tmp_path / "data" / "conversations.db"


def test_a_new_store_has_the_schema_wal_and_mode_0600(store_file: Path) -> None:
    store = Store.open(store_file)
    conversation = store.create_conversation("m")
    store.add_message(conversation, "user", "hello", "complete")
    raw = sqlite3.connect(store_file)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw.close()
    for path in (store_file, Path(f"{store_file}-wal")):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    store.close()


def test_an_older_store_is_migrated_forward_keeping_its_data(store_file: Path) -> None:
    store_file.parent.mkdir(parents=True)
    old = sqlite3.connect(store_file, isolation_level=None)
    migrate(old, up_to=1)
    old.execute(
        "INSERT INTO conversations (title, created, updated, model) VALUES ('Old', 1, 2, 'm')"
    )
    old.execute(
        "INSERT INTO messages (conversation_id, role, text, status, created, updated) "
        "VALUES (1, 'user', 'from version 1', 'complete', 1, 1)"
    )
    old.close()
    store = Store.open(store_file)
    loaded = store.load(1)
    assert loaded is not None
    assert loaded.info.title == "Old"
    assert [m.text for m in loaded.messages] == ["from version 1"]
    assert loaded.context_start == 0  # the column version 2 added
    raw = sqlite3.connect(store_file)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    raw.close()
    store.close()


def test_a_store_from_a_newer_tui_chat_is_refused(store_file: Path) -> None:
    Store.open(store_file).close()
    raw = sqlite3.connect(store_file)
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.close()
    with pytest.raises(StoreError, match="newer tui-chat"):
        Store.open(store_file)


def test_messages_titles_list_rename_delete(store_file: Path) -> None:
    store = Store.open(store_file)
    first = store.create_conversation("m")
    store.add_message(first, "user", "  \n  How do tides work?\nThanks", "complete")
    reply = store.add_message(first, "assistant", "", "streaming")
    store.update_message(reply, "The moon", "streaming")
    store.update_message(reply, "The moon pulls.", "complete", 20, 4)
    second = store.create_conversation("m")
    store.add_message(second, "user", "x" * 100, "complete")
    assert [c.id for c in store.list_conversations()] == [second, first]
    assert store.latest() == second
    loaded = store.load(first)
    assert loaded is not None
    assert loaded.info.title == "How do tides work?"
    assert [(m.role, m.text, m.status) for m in loaded.messages] == [
        ("user", "  \n  How do tides work?\nThanks", "complete"),
        ("assistant", "The moon pulls.", "complete"),
    ]
    assert loaded.messages[1].prompt_tokens == 20
    assert len(store.list_conversations()[0].title) == 60
    store.rename(first, "Tides")
    assert store.load(first).info.title == "Tides"  # type: ignore[union-attr]
    store.delete(first)
    assert store.load(first) is None
    assert store.list_conversations()[0].message_count == 1
    store.close()


def test_a_write_on_a_full_store_reports_sqlites_error_and_the_next_write_works(
    store_file: Path,
) -> None:
    store = Store.open(store_file)
    kept = store.create_conversation("m")
    store.add_message(kept, "user", "Saved before the disk filled up.", "complete")
    (pages,) = store._conn.execute("PRAGMA page_count").fetchone()
    store._conn.execute(f"PRAGMA max_page_count = {pages}")  # no room for one more page
    with pytest.raises(sqlite3.OperationalError, match="database or disk is full"):
        store.add_message(kept, "user", "x" * 20_000, "complete")
    store._conn.execute("PRAGMA max_page_count = 1000000")  # room again
    store.add_message(kept, "assistant", "Saved after.", "complete")
    loaded = store.load(kept)
    assert loaded is not None
    assert [m.text for m in loaded.messages] == ["Saved before the disk filled up.", "Saved after."]
    store.close()


def test_title_from_the_first_line() -> None:
    assert title_from("\n\n  Hello there  \nmore") == "Hello there"
    assert title_from("a" * 80).endswith("…")
    assert len(title_from("a" * 80)) == 60


def _writer(path: str, label: str, count: int) -> None:
    store = Store.open(Path(path))
    conversation = store.create_conversation(label)
    for n in range(count):
        reply = store.add_message(conversation, "user", f"{label} {n}", "complete")
        store.update_message(reply, f"{label} {n} edited", "complete")
        store.list_conversations()
    store.close()


def test_two_processes_writing_at_once_lose_nothing(store_file: Path) -> None:
    Store.open(store_file).close()
    context = multiprocessing.get_context("spawn")
    writers = [
        context.Process(target=_writer, args=(str(store_file), label, 150)) for label in "ab"
    ]
    for w in writers:
        w.start()
    for w in writers:
        w.join(120)
    assert [w.exitcode for w in writers] == [0, 0], "a writer failed (database is locked?)"
    store = Store.open(store_file)
    counts = {c.model: c.message_count for c in store.list_conversations()}
    assert counts == {"a": 150, "b": 150}
    store.close()


def test_a_damaged_store_is_moved_aside_and_a_new_one_started(store_file: Path) -> None:
    store_file.parent.mkdir(parents=True)
    garbage = b"this is not a database, it is a shopping list\n" * 100
    store_file.write_bytes(garbage)
    opened = open_store(store_file)
    assert opened.store.path == store_file
    moved = [p for p in store_file.parent.iterdir() if ".damaged-" in p.name]
    assert len(moved) == 1
    assert moved[0].read_bytes() == garbage, "the bad file was changed"
    assert str(store_file) in opened.problem
    assert str(moved[0]) in opened.problem
    opened.store.create_conversation("m")
    opened.store.close()


def test_a_store_that_cannot_be_written_falls_back_to_memory(tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("a file where the data folder should be")
    opened = open_store(blocker / "conversations.db")
    assert opened.store.path is None
    assert "not being saved" in opened.problem
    assert str(blocker / "conversations.db") in opened.problem
    conversation = opened.store.create_conversation("m")
    opened.store.add_message(conversation, "user", "kept in memory", "complete")
    assert opened.store.latest() == conversation
    assert blocker.read_text() == "a file where the data folder should be"


def _open_and_report(path: str, go: object, results: object) -> None:
    go.wait(60)  # type: ignore[attr-defined]
    opened = open_store(Path(path))
    results.put(opened.problem or "ok")  # type: ignore[attr-defined]
    opened.store.close()


def test_several_instances_creating_the_store_at_once_all_get_it(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    for round_ in range(4):
        path = tmp_path / str(round_) / "conversations.db"
        go, results = context.Event(), context.Queue()
        openers = [
            context.Process(target=_open_and_report, args=(str(path), go, results))
            for _ in range(3)
        ]
        for p in openers:
            p.start()
        time.sleep(0.5)  # let all three import and wait, so that they open together
        go.set()
        outcomes = [results.get(timeout=60) for _ in openers]
        for p in openers:
            p.join(60)
        assert outcomes == ["ok"] * 3, outcomes


def test_a_deleted_conversations_id_is_never_given_again(store_file: Path) -> None:
    store = Store.open(store_file)
    first = store.create_conversation("m")
    second = store.create_conversation("m")
    store.delete(second)
    assert store.create_conversation("m") == second + 1 > first
    store.close()
    again = Store.open(store_file)  # and across sessions
    again.delete(second + 1)
    assert again.create_conversation("m") == second + 2
    again.close()


def test_a_long_conversation_is_read_from_its_end_and_paged_back(store_file: Path) -> None:
    """What a chat needs is read (the last messages and those the model still gets),
    the rest page by page, newest page first; the count comes from the store."""
    store = Store.open(store_file)
    conversation = store.create_conversation("m")
    ids = [store.add_message(conversation, "user", f"m{n}", "complete") for n in range(50)]
    whole = store.load(conversation)
    assert whole is not None
    assert (whole.first, len(whole.messages)) == (0, 50)
    tail = store.load(conversation, tail=12)
    assert tail is not None
    assert tail.info.message_count == 50
    assert (tail.first, [m.text for m in tail.messages]) == (0, [f"m{n}" for n in range(50)])
    store.set_context_start(conversation, 45)  # the model gets only the last five
    tail = store.load(conversation, tail=12)
    assert tail is not None
    assert (tail.first, [m.id for m in tail.messages]) == (38, ids[38:])
    # A history far longer than a context could take: the newest that hold 40
    # characters (and the last 12 in any case) are what a chat reads.
    tail = store.load(conversation, tail=12, most_chars=40)
    assert tail is not None
    assert tail.first == 38, "the last 12: fewer would hold the 40 characters"
    store.set_context_start(conversation, 0)
    tail = store.load(conversation, tail=2, most_chars=40)
    assert tail is not None
    assert [m.text for m in tail.messages] == [f"m{n}" for n in range(37, 50)]
    store.set_context_start(conversation, 45)
    page = store.messages_before(conversation, ids[38], 10)
    assert [m.text for m in page] == [f"m{n}" for n in range(28, 38)]
    assert [m.text for m in store.messages_before(conversation, ids[3], 10)] == ["m0", "m1", "m2"]
    info = store.info(conversation)
    assert info is not None
    assert info.message_count == 50
    assert store.info(conversation + 1) is None


def _old_store(store_file: Path, version: int, text: str) -> None:
    """A store as tui-chat of schema ``version`` left it: conversation 1, "Old", holding
    one message of the person's, ``text``."""
    store_file.parent.mkdir(parents=True)
    old = sqlite3.connect(store_file, isolation_level=None)
    migrate(old, up_to=version)
    old.execute("INSERT INTO conversations (title, created, updated) VALUES ('Old', 1, 2)")
    old.execute(
        "INSERT INTO messages (conversation_id, role, text, status, created, updated) "
        "VALUES (1, 'user', ?, 'complete', 1, 1)",
        (text,),
    )
    old.close()


def test_a_store_of_the_last_release_is_indexed_for_search(store_file: Path) -> None:
    """Schema 3 (tui-chat before search) gains the index of what it holds; triggers keep
    it current as messages are added, stream, and go."""
    _old_store(store_file, 3, "Über die Gezeiten: the tide")
    store = Store.open(store_file)
    (found,) = store.search("uber")
    assert (found.conversation_id, found.title, found.role) == (1, "Old", "user")
    assert found.line == "\x02Über\x03 die Gezeiten: the tide"
    reply = store.add_message(1, "assistant", "", "streaming")
    store.update_message(reply, "Low tide at noon", "streaming")
    assert [f.message_id for f in store.search("tide")] == [1], "indexed once it has ended"
    store.update_message(reply, "Low tide, then high water at noon", "complete")
    assert [f.message_id for f in store.search("tide")] == [reply, 1], "the newest first"
    store.update_message(reply, "High water at noon", "complete")
    assert [f.message_id for f in store.search("tide")] == [1]
    assert [f.message_id for f in store.search("wat")] == [reply]
    second = store.create_conversation()
    store.add_message(second, "user", "tide again\nsecond line", "complete")
    store.delete(1)
    assert [(f.conversation_id, f.line) for f in store.search("tide")] == [
        (second, "\x02tide\x03 again")
    ]
    assert store.search("  ") == []
    store.close()


def test_the_list_comes_a_page_at_a_time_and_filters_by_title(store_file: Path) -> None:
    """Pages follow one another without gaps or repeats, even when conversations share
    a time; the title filter wants every word, in any case, anywhere in the title."""
    store = Store.open(store_file)
    ids = [store.create_conversation() for _ in range(25)]
    for n, conversation in enumerate(ids):
        store.rename(conversation, f"Trip {n} to the Sea" if n % 2 else f"Recipe {n}")
    store._conn.execute("UPDATE conversations SET updated = 7")  # one time for all
    pages, after = [], None
    while page := store.list_conversations(10, after=after):
        pages.append([c.id for c in page])
        after = page[-1]
    assert [len(p) for p in pages] == [10, 10, 5]
    assert [c for page in pages for c in page] == sorted(ids, reverse=True)
    found = store.list_conversations(title="sea TRIP")
    assert [c.title for c in found][:2] == ["Trip 23 to the Sea", "Trip 21 to the Sea"]
    assert len(found) == 12
    assert store.list_conversations(title="sea recipe") == []
    store.close()


def test_search_pages_back_and_a_message_knows_its_place(store_file: Path) -> None:
    """The next page of a search starts below the last hit; a message's index in its
    conversation comes from the store."""
    store = Store.open(store_file)
    conversation = store.create_conversation()
    ids = [store.add_message(conversation, "user", f"tide {n}", "complete") for n in range(7)]
    first = store.search("tide", 4)
    rest = store.search("tide", 4, before=first[-1].message_id)
    assert [f.message_id for f in first + rest] == ids[::-1]
    assert store.position(conversation, ids[5]) == 5
    assert store.position(conversation + 1, ids[5]) is None
    store.close()


def test_a_store_of_the_current_release_gains_the_index_of_word_starts(store_file: Path) -> None:
    """Schema 4 (search without the index of word starts): its messages are indexed again
    with it, found by their first letters, and the triggers keep it current."""
    _old_store(store_file, 4, "Harbours and tides")
    store = Store.open(store_file)
    (sql,) = store._conn.execute("SELECT sql FROM sqlite_master WHERE name = 'messages_fts'")
    assert "prefix='2 3'" in sql[0]
    assert [f.line for f in store.search("ha")] == ["\x02Harbours\x03 and tides"]
    new = store.add_message(1, "assistant", "High water", "complete")
    assert [f.message_id for f in store.search("hi")] == [new]
    store.close()


def test_a_store_of_the_current_release_gains_the_list_of_its_words(store_file: Path) -> None:
    """Schema 5: the words its messages hold are listed (as the index spells them), and
    new and changed messages add theirs; a word being typed is searched for as itself
    and the longer words it starts, by name."""
    _old_store(store_file, 5, "Harbours, harbour-masters and Häfen")
    store = Store.open(store_file)
    conn = store._conn
    assert fts_query(conn, "HARBO") == '("HARBO" OR "harbour" OR "harbours")'
    assert fts_query(conn, "hafe") == '("hafe" OR "hafen")', "accents as the index folds them"
    reply = store.add_message(1, "assistant", "", "streaming")
    store.update_message(reply, "A harbourmaster's boat", "complete")
    assert fts_query(conn, "the harbo") == (
        '"the" AND ("harbo" OR "harbour" OR "harbourmaster" OR "harbours")'
    )
    assert [f.message_id for f in store.search("harbourm")] == [reply]
    assert [f.message_id for f in store.search("harbo")] == [reply, 1]
    assert [f.message_id for f in store.search("masters hafe")] == [1]
    store.close()


def test_a_search_finds_what_a_start_of_a_word_would(store_file: Path) -> None:
    """Whatever path a search's last word takes (its longer words by name, FTS5's index
    of starts, or its prefix query when it starts too many words), it finds the messages
    FTS5's own prefix query finds; a single letter is a word of its own."""
    store = Store.open(store_file)
    conversation = store.create_conversation()
    rng = random.Random(3)
    words = ["tide", "tides", "tidal", "tidewater", "ti", "t", "water", "waters", "wave"]
    words += [f"tidemark{n}" for n in range(LONGER_WORDS_AT_MOST + 1)]
    for _ in range(300):
        text = " ".join(rng.choices(words, k=6))
        store.add_message(conversation, "user", text, "complete")
    for search in ("tid", "tide", "tidem", "tidemark1", "water wav", "waters tide", "ti"):
        *whole, last = search.split()
        prefix = " ".join([*(f'"{w}"' for w in whole), f'"{last}"*'])
        expected = [
            rowid
            for (rowid,) in store._conn.execute(
                "SELECT rowid FROM messages_fts WHERE messages_fts MATCH ? "
                "ORDER BY rowid DESC LIMIT 50",
                (prefix,),
            )
        ]
        assert [f.message_id for f in store.search(search)] == expected, search
    assert "*" in fts_query(store._conn, "tidem"), f"{LONGER_WORDS_AT_MOST + 1} longer words"
    texts = dict(store._conn.execute("SELECT id, text FROM messages"))
    assert {f.message_id for f in store.search("t", 500)} == {
        message_id for message_id, text in texts.items() if "t" in text.split()
    }
    store.close()


def test_a_reply_is_indexed_once_it_has_ended_not_at_each_save_while_it_streams(
    store_file: Path,
) -> None:
    """Schema 6 indexed a streaming reply at each save (its whole text, twice a second,
    in CPU the model needs): from 7 on it is indexed when it ends, and what the index
    held of replies still streaming leaves it."""
    _old_store(store_file, 6, "Harbours and tides")
    old = sqlite3.connect(store_file, isolation_level=None)
    old.execute(
        "INSERT INTO messages (conversation_id, role, text, status, created, updated) "
        "VALUES (1, 'assistant', 'Sails at dawn', 'streaming', 1, 1)"
    )
    old.close()
    store = Store.open(store_file)
    assert store.search("sails") == []
    reply = store.add_message(1, "assistant", "", "streaming")
    for text in ("Sails", "Sails at dusk", "Sails at dusk, oars at dawn"):
        store.update_message(reply, text, "streaming")
    assert store.search("sails") == []
    store.update_message(reply, "Sails at dusk, oars at dawn.", "stopped")
    assert [f.message_id for f in store.search("oars")] == [reply]
    assert [f.message_id for f in store.search("dusk")] == [reply], "indexed once"
    store.delete(1)
    assert store.search("oars") == []
    # The index agrees with the messages left (FTS5 checks it against them).
    store._conn.execute(
        "INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)"
    )
    store.close()


def test_deleting_a_conversation_takes_its_words_out_of_the_list(store_file: Path) -> None:
    """Words only a deleted conversation held leave the list of words (a password pasted
    there, say); words other messages hold stay, and are still found."""
    store = Store.open(store_file)
    secret = store.create_conversation()
    store.add_message(secret, "user", "My password is Hunter2, at the harbour", "complete")
    # Edited away: the first version is aside, its words were listed when it was sent.
    store.add_version(secret, 0, [("user", "Forget that, at the harbour", "complete")])
    other = store.create_conversation()
    kept = store.add_message(other, "user", "The harbour at low tide", "complete")
    store.delete(secret)
    terms = {term for (term,) in store._conn.execute("SELECT term FROM message_terms")}
    assert not {"password", "hunter2", "my", "is", "forget", "that"} & terms
    assert {"the", "harbour", "at", "low", "tide"} <= terms
    assert [f.message_id for f in store.search("harbo")] == [kept]
    (scratch,) = store._conn.execute("SELECT count(*) FROM terms_scratch").fetchone()
    assert scratch == 0
    store.close()
