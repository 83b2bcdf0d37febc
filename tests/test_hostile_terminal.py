"""Escape sequences from a paste or a model, in a real terminal (tmux): the terminal's
title, screen mode and clipboard stay as they were and the app's frame stays whole."""

from __future__ import annotations

import base64
import os
import signal
import sys
from pathlib import Path

import pytest

from tests.helpers import descendants, pid_gone, wait_until_sync
from tests.test_hostile_text import HOSTILE
from tests.tmux import TUI_CHAT, Terminal, status_line
from tui_chat.core.paths import user_paths
from tui_chat.core.store import Store

pytestmark = [pytest.mark.terminal, pytest.mark.model]

# Sequences tmux obeys and shows the effect of: a new window title, an OSC 52 clipboard
# write (with set-clipboard on it becomes a tmux buffer) and leaving the alternate screen.
TITLE = "\x1b]2;PWNED-TITLE\x07"
CLIPBOARD = "\x1b]52;c;" + base64.b64encode(b"PWNED-CLIPBOARD").decode() + "\x07"
PAYLOAD = TITLE + CLIPBOARD + HOSTILE


def start(term: Terminal, home: Path, *args: str) -> None:
    term.start(
        f"{TUI_CHAT} --temperature 0 --max-tokens 60 {' '.join(args)}",
        {"TUI_CHAT_HOME": str(home), "TERM": "xterm-256color"},
    )
    term.tmux("set-option", "-s", "set-clipboard", "on")
    term.wait_for(lambda s: " ready" in s, "the model to load")


def assert_terminal_intact(term: Terminal) -> None:
    assert "PWNED" not in term.pane("pane_title")
    assert term.pane("alternate_on") == "1", "the app's screen was left"
    buffers = term.tmux("list-buffers", "-F", "#{buffer_sample}")
    assert "PWNED" not in buffers, "a clipboard write reached the terminal"
    screen = term.screen()
    lines = screen.splitlines()
    assert "Chat" in lines[0], f"the top line is gone:\n{screen}"
    assert any(line.startswith("╭") for line in lines), f"the input is gone:\n{screen}"
    assert any(line.startswith("╰") for line in lines), f"the input is gone:\n{screen}"
    assert "SmolLM2" in lines[-2], f"the status line is gone:\n{screen}"
    assert "f1 Keys" in lines[-1], f"the footer is gone:\n{screen}"


def test_a_pasted_escape_laden_message_cannot_act_on_the_terminal(
    terminal: Terminal,
    home: Path,
) -> None:
    start(terminal, home)
    before = status_line(terminal.screen())
    terminal.paste(PAYLOAD)
    terminal.wait_for(lambda s: "␛]2;PWNED-TITLE␇" in s, "the paste, shown visibly")
    assert_terminal_intact(terminal)
    terminal.keys("Enter")
    terminal.wait_for(
        lambda s: " ready" in status_line(s) and status_line(s) != before, "the reply"
    )
    assert_terminal_intact(terminal)
    assert "[@click=app.quit]quit[/]" in terminal.screen()


def test_a_saved_reply_full_of_escapes_is_shown_literally(
    terminal: Terminal,
    home: Path,
) -> None:
    paths = user_paths()
    paths.data.mkdir(parents=True, exist_ok=True)
    store = Store.open(paths.store)
    conversation = store.create_conversation("model")
    store.add_message(conversation, "user", "Say something odd.", "complete")
    store.add_message(conversation, "assistant", PAYLOAD, "complete")
    store.close()
    start(terminal, home, "--continue")
    terminal.wait_for(lambda s: "␛[2J" in s, "the saved reply")
    assert_terminal_intact(terminal)


# tui-chat, but the F1 key raises: an exception escapes a handler in the UI.
FAILING_UI = """
import sys
from tui_chat.cli import main
from tui_chat.ui.app import ChatApp

def fail(self):
    raise RuntimeError("boom [bold]not markup[/]")

ChatApp.action_help = fail
if __name__ == "__main__":
    sys.exit(main())
"""


@pytest.mark.parametrize(
    "ending", ["quit", "an exception in the UI", "SIGTERM", "SIGHUP", "SIGINT"]
)
def test_the_terminal_is_usable_after_quitting(
    terminal: Terminal,
    home: Path,
    tmp_path: Path,
    ending: str,
) -> None:
    env = {"TUI_CHAT_HOME": str(home), "TERM": "xterm-256color", "PS1": "$ "}
    terminal.start("bash --norc --noprofile", env)
    command = str(TUI_CHAT)
    if ending == "an exception in the UI":
        script = tmp_path / "failing_ui.py"
        script.write_text(FAILING_UI)
        command = f"{sys.executable} {script}"
    # Through sh: an interactive bash whose command died of SIGINT drops the rest of the
    # line, as if Ctrl+C had been pressed at its prompt.
    terminal.type(f"sh -c '{command}; echo exit-status-$?'")
    terminal.keys("Enter")
    terminal.wait_for(lambda s: " ready" in s, "the model to load")
    assert terminal.pane("alternate_on") == "1"
    shell = int(terminal.pane("pane_pid"))
    assert len(descendants(shell)) >= 2, "tui-chat and its model worker"
    if ending == "quit":
        terminal.keys("C-q")
        terminal.wait_for(lambda s: "exit-status-0" in s, "tui-chat to quit")
    elif ending.startswith("SIG"):
        # As `kill` or a closing terminal window sends it: tui-chat ends by the signal.
        sig = signal.Signals[ending]
        running = {p: _command_line(p) for p in descendants(shell)}
        (app,) = [
            p for p, line in running.items() if line.startswith(f"{sys.executable} {TUI_CHAT}")
        ]
        os.kill(app, sig)
        terminal.wait_for(lambda s: f"exit-status-{128 + sig}" in s, "tui-chat to end")
    else:
        terminal.keys("F1")
        screen = terminal.wait_for(lambda s: "exit-status-1" in s, "tui-chat to stop")
        # Two lines that say what and where, not a traceback full of the chat's text.
        said = terminal.tmux("capture-pane", "-p", "-J", "-t", "e2e")  # lines as written
        assert "tui-chat stopped on an internal error (RuntimeError: boom [bold]not" in said
        assert f"The details are in {user_paths().app_log}" in said
        assert "tui-chat --continue opens the conversation again." in said
        assert "Traceback" not in screen
        app_log = user_paths().app_log.read_text()
        assert "Traceback" in app_log
        assert "boom" in app_log
    assert not descendants(shell), "a process was left behind"
    # Back to the shell's screen, with the modes tui-chat turned on turned off again.
    assert terminal.pane("alternate_on") == "0"
    assert terminal.pane("mouse_any_flag") == "0"
    assert terminal.pane("mouse_sgr_flag") == "0"
    assert terminal.pane("cursor_flag") == "1"
    # Line editing and echo work: the shell reads a typed line.
    terminal.type("echo typed-$((40 + 2))")
    terminal.keys("Enter")
    terminal.wait_for(lambda s: "typed-42" in s.replace("$((40 + 2))", ""), "the shell")


def test_closing_the_terminal_window_ends_tui_chat_and_keeps_the_chat(
    terminal: Terminal, home: Path
) -> None:
    """The terminal goes away for good (tmux closes the pane: SIGHUP, then no terminal
    to write to): every process ends, and what was written is saved."""
    start(terminal, home)
    terminal.tmux("new-window", "-d", "-t", "e2e", "sleep 600")  # keeps tmux running
    app = int(terminal.pane("pane_pid"))
    processes = {app, *descendants(app)}
    terminal.type("Say hello.")
    terminal.keys("Enter")
    terminal.wait_for(lambda s: "· reply " in status_line(s), "the reply")
    terminal.tmux("kill-pane", "-t", "e2e:0")
    wait_until_sync(lambda: all(pid_gone(p) for p in processes), message="every process gone")
    store = Store.open(user_paths().store)
    try:
        (saved,) = store.list_conversations()
        assert saved.message_count == 2
    finally:
        store.close()


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except OSError:
        return ""
