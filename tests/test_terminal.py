"""End to end: the installed ``tui-chat`` on the real bundled model in a real terminal
(tmux), driven by keys as a person would. What the model says differs between machines:
these tests look for where its words appear, never for which words."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.helpers import descendants, pid_gone, wait_until_sync
from tests.tmux import TUI_CHAT, Terminal, status_line

pytestmark = [pytest.mark.terminal, pytest.mark.model]


def log_area(screen: str) -> list[str]:
    """The left half of the log (notifications come and go on the right)."""
    rows = screen.splitlines()
    return [row[:50] for row in rows[: rows.index(next(r for r in rows if "╭" in r))]]


def log_text(screen: str) -> str:
    """What the screen shows above the input box (which may hold a message not sent)."""
    return screen.rsplit("╭", 1)[0]


def reply_words(screen: str, sent: str) -> list[str]:
    """The words of the reply on screen: after the message ``sent``, above the input box."""
    log = log_text(screen)
    return log.split(sent, 1)[1].split() if sent in log else []


def test_chat_in_a_real_terminal_then_quit_leaves_no_process(
    terminal: Terminal, home: Path
) -> None:
    assert TUI_CHAT.exists(), f"{TUI_CHAT} is not installed (make test installs it)"
    terminal.start(
        f"{TUI_CHAT} --temperature 0 --max-tokens 400",
        {"TUI_CHAT_HOME": str(home), "TERM": "xterm-256color"},
    )
    terminal.wait_for(lambda s: " ready" in s, "the model to load")
    app_pid = int(terminal.pane("pane_pid"))
    processes = descendants(app_pid)
    assert processes, "no worker process under the app"

    # Type a question the way a person does, then Enter.
    question = "What is the capital of France?"
    terminal.type(question)
    terminal.keys("Enter")
    # The question in the log and the reply's words under it (a long reply may scroll
    # the question away later: looked for as soon as the reply shows).
    terminal.wait_for(lambda s: reply_words(s, question), "the reply under the question")
    terminal.wait_for(lambda s: "· reply " in status_line(s), "the reply to finish")

    # A bracketed paste keeps its lines; Enter sends all of them.
    terminal.paste("Line one of the paste\nLine two of the paste")
    screen = terminal.wait_for(lambda s: "Line two of the paste" in s, "the paste")
    before = status_line(screen)
    terminal.keys("Enter")
    terminal.wait_for(
        lambda s: "Line one of the paste" in log_text(s) and "Line two of the paste" in log_text(s),
        "both lines sent",
    )
    # Done when the status says ready again with a new context size.
    terminal.wait_for(
        lambda s: " ready" in status_line(s) and status_line(s) != before,
        "the second reply to finish",
    )

    # Esc stops a long reply: it is marked stopped and nothing more is added.
    terminal.keys("C-l")
    terminal.wait_for(lambda s: question not in s, "the chat to clear")
    terminal.type("Write a long story about a dragon who learns to sail.")
    terminal.keys("Enter")
    terminal.wait_for(lambda s: "generating" in s, "generation")
    terminal.keys("Escape")
    stopped = terminal.wait_for(lambda s: "[stopped]" in s and "· stopped ·" in s, "the stop")
    # A key typed after the stop, and drawn: a late token would have been drawn with it.
    terminal.type("z")
    after = terminal.wait_for(lambda s: "│ z" in s or "│z" in s, "the typed key")
    assert log_area(after) == log_area(stopped)

    terminal.keys("C-q")
    assert terminal.exit_status() == "status 0"
    wait_until_sync(lambda: all(pid_gone(p) for p in processes), message="no process left")
    assert "Traceback" not in terminal.screen()
    assert "llama" not in terminal.screen(), "llama.cpp wrote to the terminal"


def test_translate_a_bracketed_paste_in_a_real_terminal(terminal: Terminal, home: Path) -> None:
    terminal.start(f"{TUI_CHAT}", {"TUI_CHAT_HOME": str(home), "TERM": "xterm-256color"})
    terminal.wait_for(lambda s: " ready" in s, "the model to load")
    processes = descendants(int(terminal.pane("pane_pid")))
    terminal.keys("C-t")
    terminal.wait_for(lambda s: "Auto-detect" in s, "the Translate view")
    terminal.paste("The first line of the pasted text.\nThe second line of it.")
    screen = terminal.wait_for(lambda s: "The second line of it." in s, "the paste")
    source_rows = [row for row in screen.splitlines() if "line of" in row]
    assert any("The first line" in row for row in source_rows)
    # Back from the source pane to the "other language" field, and the language typed
    # straight after it in one burst: every letter lands in the field.
    terminal.keys("BTab", "French")
    terminal.wait_for(lambda s: "French" in s, "the language")
    terminal.keys("C-g")
    screen = terminal.wait_for(lambda s: "Done (1 chunk)" in s, "the translation", timeout=60)
    width = len(max(screen.splitlines(), key=len))
    right = "\n".join(row[width // 2 :] for row in screen.splitlines()[5:-4])
    assert "The translation appears here." not in right
    assert any(ch.isalpha() for ch in right), f"nothing in the output pane:\n{screen}"
    terminal.keys("C-q")
    assert terminal.exit_status() == "status 0"
    wait_until_sync(lambda: all(pid_gone(p) for p in processes), message="no process left")


def test_kill_9_mid_reply_then_continue_shows_the_message_and_the_partial_reply(
    terminal: Terminal, home: Path
) -> None:
    env = {"TUI_CHAT_HOME": str(home), "TERM": "xterm-256color"}
    terminal.start(f"{TUI_CHAT} --temperature 0 --max-tokens 2000", env)
    terminal.wait_for(lambda s: " ready" in s, "the model to load")
    app_pid = int(terminal.pane("pane_pid"))
    workers = descendants(app_pid)
    terminal.type("Write a long story about a dragon who learns to sail.")
    terminal.keys("Enter")
    terminal.wait_for(lambda s: len(reply_words(s, "learns to sail.")) >= 10, "ten words")
    # The reply is saved as it streams: once ten words of it are on disk, kill the app.
    store = sqlite3.connect(home / "data" / "conversations.db")
    try:
        wait_until_sync(lambda: len(_saved_reply(store).split()) >= 10, message="ten saved")
        saved = _saved_reply(store)
    finally:
        store.close()
    os.kill(app_pid, signal.SIGKILL)
    wait_until_sync(lambda: all(pid_gone(p) for p in workers), message="the worker to go")

    exported = subprocess.run(
        [str(TUI_CHAT), "export", "1", "--format", "json"],
        capture_output=True, text=True, env={**os.environ, **env}, check=True,
    )  # fmt: skip
    messages = json.loads(exported.stdout)["messages"]
    assert messages[0]["text"] == "Write a long story about a dragon who learns to sail."
    assert messages[1]["status"] == "interrupted"
    partial = messages[1]["text"]
    assert partial.startswith(saved), "what was saved before the kill was lost"

    terminal.tmux("kill-server")
    terminal.start(f"{TUI_CHAT} --continue", env)
    screen = terminal.wait_for(lambda s: "[interrupted" in s, "the reopened conversation")
    assert "Write a long story about a dragon" in screen
    # Its last word, as Markdown shows it (without the marks around it).
    last_word = re.findall(r"[^\W\d_]{3,}", partial)[-1]
    assert last_word in screen, "the partial reply is not on screen"


def test_ask_again_choose_a_version_go_on_from_it_and_find_it_again_with_continue(
    terminal: Terminal, home: Path
) -> None:
    """Ctrl+G writes a second version of a reply, Alt+Left shows the first again, the next
    turn builds on the one shown, and `tui-chat --continue` opens it as it was left."""
    env = {"TUI_CHAT_HOME": str(home), "TERM": "xterm-256color"}
    terminal.start(f"{TUI_CHAT} --max-tokens 40", env)
    terminal.wait_for(lambda s: " ready" in s, "the model to load")
    terminal.type("Name a colour.")
    terminal.keys("Enter")
    terminal.wait_for(lambda s: "^g Again" in s, "the reply to finish")
    terminal.keys("C-g")
    terminal.wait_for(lambda s: "◀ 2/2 ▶" in s, "the second version")
    terminal.keys("M-Left")
    terminal.wait_for(lambda s: "◀ 1/2 ▶" in s, "the first version again")
    store = sqlite3.connect(home / "data" / "conversations.db")
    try:
        first = store.execute("SELECT text FROM messages WHERE role = 'assistant'").fetchone()[0]
        terminal.type("Another one.")
        terminal.keys("Enter")
        wait_until_sync(
            lambda: (
                store.execute(
                    "SELECT count(*) FROM messages WHERE status NOT IN ('streaming')"
                ).fetchone()[0]
                == 4
            ),
            message="the next turn saved, its reply ended",
        )
    finally:
        store.close()
    exported = subprocess.run(
        [str(TUI_CHAT), "export", "1", "--format", "json"],
        capture_output=True, text=True, env={**os.environ, **env}, check=True,
    )  # fmt: skip
    document = json.loads(exported.stdout)
    messages = document["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    assert (messages[1]["text"], messages[1]["version"], messages[1]["versions"]) == (first, 1, 2)
    assert messages[2]["text"] == "Another one."
    (second,) = document["other_versions"]
    assert (second["at"], second["version"], len(second["messages"])) == (1, 2, 1)

    terminal.keys("C-q")
    assert terminal.exit_status() == "status 0"
    terminal.tmux("kill-server")
    terminal.start(f"{TUI_CHAT} --continue", env)
    terminal.wait_for(
        lambda s: "Another one." in s and "◀ 1/2 ▶" in s, "the conversation, on version 1"
    )


def _saved_reply(store: sqlite3.Connection) -> str:
    """The reply's text as the store holds it now ("" before it is saved)."""
    row = store.execute("SELECT text FROM messages WHERE role = 'assistant'").fetchone()
    return row[0] if row else ""


def test_what_is_typed_at_launch_before_the_first_frame_is_kept(
    terminal: Terminal, home: Path
) -> None:
    terminal.start(f"{TUI_CHAT}", {"TUI_CHAT_HOME": str(home), "TERM": "xterm-256color"})
    terminal.type("typed at once")  # while Python is still starting
    # In the input box: not the terminal's own echo of it, before tui-chat took over.
    screen = terminal.wait_for(
        lambda s: any(row.startswith("│ typed at once ") for row in s.splitlines()), "the text"
    )
    assert screen.count("typed at once") == 1
    terminal.keys("C-q")
    assert terminal.exit_status() == "status 0"
