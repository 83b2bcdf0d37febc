"""Versions of a conversation: a reply asked for again, a message edited and sent
again; each kept, any of them shown again (``core.store_versions``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tui_chat.core.paths import HOME_ENV
from tui_chat.core.store import Store
from tui_chat.core.store_versions import Fork


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store.open(tmp_path / "home" / "data" / "conversations.db")
    yield store  # type: ignore[misc]
    store.close()


def texts(store: Store, conversation_id: int) -> list[str]:
    loaded = store.load(conversation_id)
    assert loaded is not None
    return [m.text for m in loaded.messages]


def forks(store: Store, conversation_id: int) -> dict[int, Fork]:
    loaded = store.load(conversation_id)
    assert loaded is not None
    return loaded.forks


def chat(store: Store, *texts: str) -> int:
    """A conversation of ``texts``, the person's and the model's in turn."""
    conversation = store.create_conversation("m")
    for n, text in enumerate(texts):
        store.add_message(conversation, "assistant" if n % 2 else "user", text, "complete")
    return conversation


def test_a_reply_asked_again_is_a_new_version_and_the_first_is_kept(store: Store) -> None:
    c = chat(store, "Hi", "Hello")
    version, ids = store.add_version(c, 1, [("assistant", "Hey there", "complete")])
    assert (version, len(ids)) == (2, 1)
    assert texts(store, c) == ["Hi", "Hey there"]
    assert forks(store, c) == {1: Fork(1, shown=2, count=2)}
    assert store.show_version(c, 1, 1)
    assert texts(store, c) == ["Hi", "Hello"]
    assert forks(store, c) == {1: Fork(1, shown=1, count=2)}
    assert store.add_version(c, 1, [("assistant", "Third", "complete")])[0] == 3
    assert forks(store, c) == {1: Fork(1, shown=3, count=3)}
    assert not store.show_version(c, 1, 4), "no such version: nothing changes"
    assert texts(store, c) == ["Hi", "Third"]


def test_versions_within_a_version_go_and_come_back_with_it(store: Store) -> None:
    c = chat(store, "Hi", "Hello")
    store.add_version(c, 1, [("assistant", "Hey", "complete")])
    store.add_message(c, "user", "How are you?", "complete")
    store.add_message(c, "assistant", "Fine.", "complete")
    store.add_version(c, 3, [("assistant", "Well.", "complete")])
    assert forks(store, c) == {1: Fork(1, 2, 2), 3: Fork(3, 2, 2)}
    store.show_version(c, 1, 1)
    assert texts(store, c) == ["Hi", "Hello"]
    assert forks(store, c) == {1: Fork(1, 1, 2)}, "the later fork went with its version"
    store.show_version(c, 1, 2)
    assert texts(store, c) == ["Hi", "Hey", "How are you?", "Well."]
    assert forks(store, c) == {1: Fork(1, 2, 2), 3: Fork(3, 2, 2)}
    store.show_version(c, 3, 1)
    assert texts(store, c) == ["Hi", "Hey", "How are you?", "Fine."]


def test_an_edited_message_keeps_what_came_after_the_first_as_a_version(store: Store) -> None:
    c = chat(store, "Hi", "Hello", "Tell me a joke", "No.")
    version, ids = store.add_version(
        c, 2, [("user", "Tell me a good joke", "complete"), ("assistant", "", "streaming")]
    )
    assert (version, len(ids)) == (2, 2)
    assert texts(store, c) == ["Hi", "Hello", "Tell me a good joke", ""]
    store.show_version(c, 2, 1)
    assert texts(store, c) == ["Hi", "Hello", "Tell me a joke", "No."]


def test_search_finds_the_versions_shown(store: Store) -> None:
    c = chat(store, "Hi", "Hello walrus")
    store.add_version(c, 1, [("assistant", "Hello penguin", "complete")])
    assert [f.conversation_id for f in store.search("penguin")] == [c]
    assert store.search("walrus") == []
    store.show_version(c, 1, 1)
    assert store.search("penguin") == []
    assert [f.conversation_id for f in store.search("walrus")] == [c]


def test_the_versions_aside_are_read_whole_for_export(store: Store) -> None:
    c = chat(store, "Hi", "Hello")
    store.add_version(c, 1, [("assistant", "Hey", "complete")])
    store.add_message(c, "user", "More?", "complete")
    store.add_message(c, "assistant", "Sure.", "complete")
    store.add_version(c, 3, [("assistant", "No.", "complete")])
    store.show_version(c, 1, 1)
    (aside,) = store.versions(c)
    assert (aside["position"], aside["version"]) == (1, 2)
    assert [m["text"] for m in aside["messages"]] == ["Hey", "More?", "No."]
    (inner,) = aside["versions"]
    assert (inner["position"], inner["version"], [m["text"] for m in inner["messages"]]) == (
        3,
        1,
        ["Sure."],
    )


def test_a_conversation_keeps_its_own_settings(store: Store) -> None:
    c = chat(store, "Hi")
    store.set_settings(c, "Be terse.", {"temperature": 0.9})
    loaded = store.load(c)
    assert loaded is not None
    assert (loaded.system_prompt, loaded.settings) == ("Be terse.", {"temperature": 0.9})


def tui_chat(home: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, HOME_ENV: str(home)}
    command = [str(Path(sys.executable).with_name("tui-chat")), *args]
    return subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=30, env=env)


def test_a_conversation_with_versions_goes_through_export_and_import_whole(
    tmp_path: Path, store: Store
) -> None:
    """Everything the store keeps of a conversation (its versions within versions, its
    settings, a reply's thinking) is in the JSON export, and an import brings it back:
    the import's export is the same document."""
    c = chat(store, "Hi", "Hello")
    store.update_message(2, "Hello", "complete", 12, 3, thinking="Greet back.")
    store.add_version(c, 1, [("assistant", "Hey", "complete")])
    store.add_message(c, "user", "More?", "complete")
    store.add_message(c, "assistant", "Sure.", "length")
    store.add_version(c, 3, [("assistant", "No.", "stopped")])
    store.add_version(c, 0, [("user", "Hi there", "complete"), ("assistant", "Yo", "complete")])
    store.show_version(c, 0, 1)
    store.set_settings(c, "Be brief.", {"temperature": 0.7, "max_tokens": 99})
    exported = tui_chat(
        store.path.parent.parent, "export", str(c), "--format", "json", "--with-thinking"
    )
    assert exported.returncode == 0, exported.stderr
    document = json.loads(exported.stdout)
    assert document["messages"][0]["versions"] == 2
    assert [m["text"] for m in document["messages"]] == ["Hi", "Hey", "More?", "No."]
    other = tmp_path / "other-home"
    imported = tui_chat(other, "import", "-", stdin=exported.stdout)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout == "Imported as conversation 1: tui-chat --open 1\n"
    again = tui_chat(other, "export", "1", "--format", "json", "--with-thinking")
    assert {**json.loads(again.stdout), "id": c} == document
    markdown = tui_chat(other, "export", "1").stdout
    assert "_Its own settings: temperature 0.7 · max_tokens 99_" in markdown
    assert "**You** _(version 1 of 2)_\n\nHi\n" in markdown
    assert "**Assistant** _(version 2 of 2, stopped)_\n\nNo." in markdown
    assert "## Other versions\n\n### Version 2 from message 1\n\n**You**\n\nHi there" in markdown
    # The versions are there to be shown, not only to be exported.
    back = Store.open(other / "data" / "conversations.db")
    assert back.show_version(1, 0, 2)
    assert texts(back, 1) == ["Hi there", "Yo"]
    back.close()


def _message(role: str, text: str) -> dict[str, object]:
    when = "2026-12-04T10:00:00+00:00"
    return {"role": role, "text": text, "status": "complete", "prompt_tokens": None,
            "completion_tokens": None, "created": when, "updated": when}  # fmt: skip


def _bad(change: Callable[[dict[str, Any]], object]) -> str:
    """A good export, made bad by ``change``."""
    document: dict[str, Any] = {
        "format": "tui-chat conversation 1",
        "title": "t",
        "model": "m",
        "created": "2026-12-04T10:00:00+00:00",
        "system_prompt": "",
        "settings": {},
        "messages": [_message("user", "Hi"), _message("assistant", "Hello")],
        "other_versions": [
            {"at": 1, "version": 2, "messages": [_message("assistant", "Yo")], "other_versions": []}
        ],
    }
    change(document)
    return json.dumps(document)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("not json", "it is not JSON"),
        ("[" * 100_000, "it is not JSON"),
        ('{"title": "x"}', "it is not a conversation written by tui-chat export"),
        (_bad(lambda d: d.update(title=5)), "a field is missing or wrong"),
        (_bad(lambda d: d["messages"][0].update(role="system")), "a message's role is 'system'"),
        (_bad(lambda d: d["other_versions"][0].update(at=2)), "a version begins at message 2"),
        (_bad(lambda d: d["other_versions"][0].update(version=1)), "both number 1"),
        (_bad(lambda d: d["other_versions"][0].update(version=0)), "0 is not a version's"),
        (_bad(lambda d: d["other_versions"][0].update(messages=[])), "has no messages"),
    ],
)
def test_an_import_of_something_else_says_what_is_wrong(
    tmp_path: Path, text: str, said: str
) -> None:
    good = tui_chat(tmp_path / "good", "import", "-", stdin=_bad(lambda _d: None))
    assert good.returncode == 0, good.stderr
    result = tui_chat(tmp_path / "home", "import", "-", stdin=text)
    assert result.returncode == 2
    assert said in result.stderr
    assert "Traceback" not in result.stderr


def test_an_id_is_never_given_twice_though_messages_move_between_versions(
    store: Store, tmp_path: Path
) -> None:
    """A second tui-chat saving a reply by its id must never write over another message."""
    c = chat(store, "Hi", "Hello")
    _, (new,) = store.add_version(c, 1, [("assistant", "Hey", "complete")])
    assert new == 3, "not 2, the id of the reply put aside"
    store.show_version(c, 1, 1)
    loaded = store.load(c)
    assert loaded is not None
    assert [m.id for m in loaded.messages] == [1, 4]


def test_a_store_of_schema_8_keeps_its_messages_ids_and_search(tmp_path: Path) -> None:
    import sqlite3

    from tui_chat.core.store_schema import migrate

    path = tmp_path / "old.db"
    old = sqlite3.connect(path, isolation_level=None)
    migrate(old, up_to=8)
    old.execute("INSERT INTO conversations (title, created, updated) VALUES ('Old', 1, 2)")
    for n, text in ((5, "about the harbour"), (9, "and the lighthouse")):
        old.execute(
            "INSERT INTO messages (id, conversation_id, role, text, status, created, updated) "
            "VALUES (?, 1, 'user', ?, 'complete', 1, 1)",
            (n, text),
        )
    old.close()
    store = Store.open(path)
    assert [f.message_id for f in store.search("lighthouse")] == [9]
    assert store.add_message(1, "assistant", "harbour lights", "complete") == 10
    assert [f.message_id for f in store.search("harbour")] == [10, 5]
    store.close()
