"""``tui-chat translate``, run as people run it: a real process with pipes."""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import descendants, pid_gone, translated, wait_until_sync

pytestmark = pytest.mark.model  # the command loads the bundled model

TUI_CHAT = str(Path(sys.executable).with_name("tui-chat"))
TEXT = "Good morning.\n\nThe train leaves at nine.\n"


def translate(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [TUI_CHAT, "translate", *args], input=stdin, capture_output=True, timeout=120
    )


def test_stdin_to_stdout_and_a_file_argument_give_the_same_translation(tmp_path: Path) -> None:
    piped = translate("--to", "French", stdin=TEXT.encode())
    translated(piped)
    assert piped.stdout.strip()
    source = tmp_path / "notes.txt"
    source.write_text(TEXT)
    from_file = translate("--to", "French", str(source))
    translated(from_file)
    assert from_file.stdout == piped.stdout  # greedy decoding: the same text, the same output
    dash = translate("--to", "French", "-", stdin=TEXT.encode())
    assert dash.stdout == piped.stdout


def test_stdout_holds_the_translation_and_nothing_else(tmp_path: Path) -> None:
    # Each paragraph too long to share a chunk with another in a 256-token context: the
    # white space between chunks is the source's own, whatever the model writes.
    paragraph = (
        "Line {n} of the notes is about the weather, the wind over the hills, the rain "
        "on the roofs and the long grey clouds that came in from the sea."
    )
    text = "\n\n".join(paragraph.format(n=n) for n in range(12))
    result = translate("--to", "German", "--ctx", "256", stdin=text.encode())
    translated(result)
    out, said = result.stdout.decode(), result.stderr.decode()
    assert out.strip()
    for line in said.splitlines():  # what tui-chat says (a token-limit warning) is stderr's
        assert line.strip() not in out
    assert out.count("\n\n") >= 11, "the paragraph structure of the source is gone"
    assert "Traceback" not in said


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--to", "French", "/no/such/file.txt"], None, b"cannot read /no/such/file.txt"),
        (["--to", "French"], b"", b"nothing to translate"),
        (["--to", "French"], b"  \n\t\n", b"nothing to translate"),
        (["--to", "French", "--bogus"], b"x", b"unrecognized arguments: --bogus"),
        (["--to", "French", "--chunk-tokens", "5"], b"x", b"must be 16 or more, got 5"),
        ([], b"x", b"say which language to translate into: --to LANG"),
    ],
)
def test_bad_usage_exits_2_with_a_message(
    args: list[str], stdin: bytes | None, message: bytes
) -> None:
    result = translate(*args, stdin=stdin)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == b""
    assert b"Traceback" not in result.stderr


def test_a_prompt_file_without_the_text_placeholder_is_bad_usage(tmp_path: Path) -> None:
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("Translate into {target}.")
    result = translate("--to", "French", "--prompt-file", str(prompt), stdin=b"Hello.")
    assert result.returncode == 2
    assert b"{text}" in result.stderr


def test_invalid_utf8_is_replaced_and_reported(tmp_path: Path) -> None:
    result = translate("--to", "French", stdin=b"Good \xff\xfe morning.\n")
    translated(result)
    assert b"2 bytes of the input were not valid UTF-8" in result.stderr


def test_a_model_that_fails_to_load_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + os.urandom(2048))
    result = translate("--to", "French", "--model", str(bad), stdin=b"Hello.")
    assert result.returncode == 1
    assert str(bad).encode() in result.stderr
    assert b"Traceback" not in result.stderr


def test_ctrl_c_stops_cleanly_with_status_130_and_no_worker_left() -> None:
    text = "\n\n".join(f"Paragraph {n} tells a long story about the sea." for n in range(60))
    process = subprocess.Popen(
        [TUI_CHAT, "translate", "--to", "French", "--ctx", "256"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    process.stdin.write(text.encode())
    process.stdin.close()
    try:
        assert process.stdout.read(1), "no translation came out"
        workers = descendants(process.pid)
        assert workers
        process.send_signal(signal.SIGINT)
        status = process.wait(timeout=30)
        assert status == 130
        assert process.stderr is not None
        assert b"Traceback" not in process.stderr.read()
        wait_until_sync(lambda: all(pid_gone(p) for p in workers), message="the workers")
    finally:
        process.kill()
        process.wait()


def test_strange_text_from_a_file_is_translated_without_an_exception(tmp_path: Path) -> None:
    # Emoji (with joiners), CJK, right-to-left, combining marks, an encoded lone surrogate
    # (invalid in UTF-8) and stray bytes: all in one file.
    source = tmp_path / "strange.txt"
    source.write_bytes(
        "Family 👩‍👩‍👧 says 你好 and שלום and مرحبا; café with e\u0301.\n".encode()
        + b"Broken: \xed\xa0\x80 and \xc3\x28 end.\n"
    )
    result = translate("--to", "English", str(source))
    translated(result)
    assert b"Traceback" not in result.stderr
    assert b"were not valid UTF-8 and were replaced with U+FFFD" in result.stderr
    assert result.stdout.decode("utf-8").strip()  # valid UTF-8, and something came out


@pytest.mark.parametrize(("option", "pieces"), [([], 1), (["--chunk-tokens", "16"], 3)])
def test_chunk_tokens_sizes_the_pieces(option: list[str], pieces: int) -> None:
    """Three short paragraphs: one piece by default, one each at 16 tokens. The progress
    ("chunk 2 of 3") goes to stderr when it is a terminal and stdout is not."""
    text = "\n\n".join(f"Line {n} of the notes is about the weather today." for n in range(3))
    progress, terminal = pty.openpty()
    try:
        result = subprocess.run(
            [TUI_CHAT, "translate", "--to", "French", *option],
            input=text.encode(),
            stdout=subprocess.PIPE,
            stderr=terminal,
            timeout=120,
        )
        os.close(terminal)
        said = _read_all(progress)
    finally:
        os.close(progress)
    assert result.returncode in (0, 1)
    if pieces > 1:
        assert f"chunk {pieces} of {pieces}" in said
    else:
        assert "chunk" not in said
    assert result.stdout.decode().count("\n\n") >= 2, "the breaks between the paragraphs"


def _read_all(fd: int) -> str:
    chunks = []
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:  # the other end is closed: all was read
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks).decode(errors="replace")
