"""How a reply's Markdown is drawn: a streamed reply (Textual's Markdown) and one read back
from the store (Rich), without a guess at a code block's language."""

from __future__ import annotations

import pytest

from tui_chat.ui.widgets.earlier_reply import EarlierReply


def test_an_earlier_reply_is_one_widget_that_keeps_line_breaks_and_reads_no_markup() -> None:
    from io import StringIO

    from rich.console import Console

    reply = EarlierReply(
        "# Tides\nThe [bold]moon[/] pulls.\nSecond line.\n\n- one\n- two", "stopped"
    )
    assert not reply.children
    out = StringIO()
    Console(file=out, width=60, color_system=None).print(reply.content)
    lines = [line.rstrip() for line in out.getvalue().splitlines() if line.strip()]
    assert lines[0] == "Tides", "a heading to the left"
    assert lines[1:3] == ["The [bold]moon[/] pulls.", "Second line."]
    assert [line.strip() for line in lines[3:5]] == ["• one", "• two"]
    assert lines[-1] == "[stopped]"


def test_a_code_fence_that_names_no_language_is_not_guessed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Pygments' guess tries every lexer: tens of milliseconds per fence, again at each
    update of a streaming reply. A fence without a language is plain text."""
    import textual.highlight
    from textual.widgets.markdown import MarkdownFence

    from tui_chat.ui.widgets.chat_markdown import chat_markdown_class

    def no_guessing(*_args: object) -> str:
        raise AssertionError("guessed the language")

    monkeypatch.setattr(textual.highlight, "guess_language", no_guessing)
    fence = chat_markdown_class()().get_block_class("fence")
    assert issubclass(fence, MarkdownFence)
    assert str(fence.highlight("x = 1\nprint(x)", "")) == "x = 1\nprint(x)"
    assert str(fence.highlight("x = 1", "python")) == "x = 1"
