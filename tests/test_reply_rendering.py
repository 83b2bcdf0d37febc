"""How a reply's Markdown is drawn: a streamed reply (Textual's Markdown) and one read back
from the store (Rich), without a guess at a code block's language."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.helpers import SIZE, in_log, loaded, put_and_send, reply_finished
from tui_chat.core.script import Script, says
from tui_chat.ui.app import ChatApp
from tui_chat.ui.widgets.earlier_reply import EarlierReply
from tui_chat.ui.widgets.reply import Reply

MakeApp = Callable[..., ChatApp]


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


def test_an_earlier_reply_numbers_lists_and_boxes_tables_as_a_streamed_one_does() -> None:
    from io import StringIO

    from rich.console import Console

    reply = EarlierReply("9. nine\n10. ten\n\n| a | b |\n|---|---|\n| 1 | 2 |", "")
    out = StringIO()
    Console(file=out, width=30, color_system=None).print(reply.content)
    lines = [line.rstrip() for line in out.getvalue().splitlines() if line.strip()]
    assert lines[:2] == ["  9. nine", " 10. ten"]
    assert lines[2] == "┌──────────────┬─────────────┐", "boxed, across the width"
    assert lines[3].split() == ["│", "a", "│", "b", "│"]


async def test_a_streamed_first_level_heading_is_to_the_left(make_app: MakeApp) -> None:
    from textual.widgets._markdown import MarkdownH1

    app = make_app(script=Script(default=says("# Tides\n\nThe moon pulls.")))
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        await put_and_send(app, pilot, "Tides?")
        await reply_finished(app)
        (heading,) = in_log(app, Reply)[-1].query(MarkdownH1)
        assert heading.styles.content_align_horizontal == "left"
