"""How a reply's Markdown is drawn, streamed and read back alike (``markdown_lines``), and
what an update of a streaming reply repaints."""

from __future__ import annotations

import re
from collections.abc import Callable
from io import StringIO
from typing import Any

import pytest
from rich.console import Console
from textual._compositor import LayoutUpdate
from textual.geometry import Region
from textual.strip import Strip

from tests.helpers import SIZE, drawn, in_log, loaded, put_and_send, reply_finished, wait_until
from tui_chat.bench.replay import markdown_reply
from tui_chat.core.protocol import Done, DoneReason, Token
from tui_chat.core.script import Say, Script, says
from tui_chat.ui.app import ChatApp
from tui_chat.ui.chat_replies import ChatReplies
from tui_chat.ui.widgets import markdown_lines
from tui_chat.ui.widgets import reply as reply_module
from tui_chat.ui.widgets.chat_log import Notice
from tui_chat.ui.widgets.earlier_reply import EarlierReply
from tui_chat.ui.widgets.markdown_lines import StreamedMarkdown, render_markdown
from tui_chat.ui.widgets.reply import GROW_STEP_LINES, Reply
from tui_chat.ui.widgets.status_line import StatusLine

MakeApp = Callable[..., ChatApp]

MIXED = (
    "".join(markdown_reply(600))
    + "\n\n---\n\nAfter a rule.\n\n1. one\n2. two\n\n> quoted\n> text\n\n# Head\n"
    + "line one\nline two [a link](https://example.org) done.\n\n```\nplain code\n```\n"
)
"""Every common kind of block, one after another."""


async def _reply_in_log(app: ChatApp) -> Reply:
    """A reply streaming into the chat's log, its text shown as it comes (no CPU budget)."""
    reply = Reply(cpu_budget=None)
    await app.main.chat.chat_log.mount(reply)
    return reply


def _console(width: int) -> tuple[Console, object]:
    console = Console(file=StringIO(), width=width, color_system=None)
    return console, console.options.update_width(width).update(highlight=False)


def _text(width: int, text: str) -> list[str]:
    console, options = _console(width)
    return [line.text.rstrip() for line in render_markdown(console, options, text)]  # type: ignore[arg-type]


def test_line_breaks_are_kept_and_markup_is_text() -> None:
    lines = [
        line
        for line in _text(60, "# Tides\nThe [bold]moon[/] pulls.\nSecond line.\n\n- one\n- two")
        if line
    ]
    assert lines[0] == "Tides", "a heading to the left"
    assert lines[1:3] == ["The [bold]moon[/] pulls.", "Second line."]
    assert [line.strip() for line in lines[3:5]] == ["• one", "• two"]


def test_lists_are_numbered_with_their_dot_and_tables_boxed_across_the_width() -> None:
    lines = [
        line for line in _text(30, "9. nine\n10. ten\n\n| a | b |\n|---|---|\n| 1 | 2 |") if line
    ]
    assert lines[:2] == ["  9. nine", " 10. ten"]
    assert lines[2] == "┌──────────────┬─────────────┐", "boxed, across the width"
    assert lines[3].split() == ["│", "a", "│", "b", "│"]


def test_a_code_fence_that_names_no_language_is_not_guessed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Pygments' guess tries every lexer: tens of milliseconds per fence."""
    from rich.syntax import Syntax

    def no_guessing(*_args: object, **_kw: object) -> str:
        raise AssertionError("guessed the language")

    monkeypatch.setattr(Syntax, "guess_lexer", no_guessing)
    assert any("x = 1" in line for line in _text(40, "```\nx = 1\nprint(x)\n```\n"))


@pytest.mark.parametrize("width", [30, 80])
def test_a_streamed_reply_ends_drawn_exactly_as_the_same_reply_read_back(width: int) -> None:
    """Blocks rendered one by one as they are finished, joined as Rich joins them: no
    jump when the reply ends, and it looks as it will when read back."""
    console, options = _console(width)
    streamed = StreamedMarkdown()
    for piece in re.findall(r"\s*\S+|\s+", MIXED):
        streamed.append(piece)
        streamed.lines(console, options, None)  # type: ignore[arg-type]
    streamed.finish()
    final = [line.text for line in streamed.lines(console, options, None)]  # type: ignore[arg-type]
    assert final == [line.text for line in render_markdown(console, options, MIXED)]  # type: ignore[arg-type]


def test_finished_blocks_are_rendered_once_and_only_the_last_again() -> None:
    console, options = _console(60)
    streamed = StreamedMarkdown()
    streamed.append("First paragraph.\n\nSecond, still being")
    before = streamed.lines(console, options, None)  # type: ignore[arg-type]
    streamed.append(" written, and longer now")
    after = streamed.lines(console, options, None)  # type: ignore[arg-type]
    assert after[0] is before[0], "the finished paragraph is not rendered again"
    assert after[-1] is not before[-1]
    assert after[-1].text.rstrip() == "Second, still being written, and longer now"


def test_a_code_fence_is_plain_while_it_is_written_and_coloured_once_complete() -> None:
    console = Console(file=StringIO(), width=60, color_system="truecolor")
    options = console.options.update_width(60).update(highlight=False)
    streamed = StreamedMarkdown()
    streamed.append("```python\ndef sail(boat):\n    return boat\n")

    def colours() -> set[object]:
        lines = streamed.lines(console, options, None)  # type: ignore[arg-type]
        return {s.style.color for line in lines for s in line if s.style and s.style.color}

    assert len(colours()) == 1, "one colour while the fence is open"
    streamed.append("```\n")
    streamed.finish()
    assert len(colours()) > 1, "highlighted once complete"


async def test_an_update_repaints_the_lines_that_changed_without_a_layout(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A word added to the last line repaints that line, at once; only a new height
    (every few lines) lays the screen out again."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        reply = await _reply_in_log(app)
        reply.append("One paragraph.\n\nAnother that grows")
        await pilot.pause()
        painted: list[Region] = []
        laid_out: list[bool] = []
        monkeypatch.setattr(
            reply_module, "paint_now", lambda _widget, region: painted.append(region)
        )
        monkeypatch.setattr(
            reply, "refresh", lambda *_regions, layout=False, **_: laid_out.append(layout)
        )
        reply.append(" by a word")
        assert painted == [Region(0, 2, reply.content_size.width, 1)]
        assert not laid_out
        reply.append("\n" * 2 + "\n\n".join(["More."] * GROW_STEP_LINES))
        await wait_until(lambda: laid_out, message="the update")
        assert laid_out[-1], "a new height is laid out"


async def test_a_partial_update_renders_only_the_rows_it_changes(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Textual would render every line of the status line, footer and input (their clip
    is the whole screen), and of the containers behind the log, to show one new word of
    a reply."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        reply = await _reply_in_log(app)
        reply.append("A reply that grows")
        await pilot.pause()
        rendered: list[str] = []
        # The status line (its clip is the whole screen), the view the log is in (hidden
        # behind it) and the log (its padding beside the reply): none shows a change.
        for widget in (app.main.query_one(StatusLine), app.main.chat, app.main.chat.chat_log):
            name, render_lines = type(widget).__name__, widget.render_lines
            monkeypatch.setattr(
                widget,
                "render_lines",
                lambda crop, name=name, draw=render_lines: rendered.append(name) or draw(crop),
            )
        reply.append(" by a word")
        await wait_until(lambda: reply.source.endswith("word"), message="written")
        await pilot.pause()
        assert not rendered, f"drawn again: {rendered}"
        assert "A reply that grows by a word" in drawn(app)


def _cells(strip: Strip) -> list[tuple[str, object]]:
    return [(char, segment.style) for segment in strip for char in segment.text]


async def test_an_update_of_a_reply_nothing_covers_goes_out_as_the_compositor_would_send_it(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its changed rows go to the terminal as the reply draws them, cell for cell what
    the compositor would send there; a toast over the reply sends the update through
    the compositor, which draws the toast in front."""
    app = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await loaded(app)
        reply = await _reply_in_log(app)
        reply.append("A reply that grows")
        await pilot.pause()
        updates: list[object] = []
        display = app._display
        monkeypatch.setattr(
            app,
            "_display",
            lambda screen, update: updates.append(update) or display(screen, update),
        )
        reply.append(" by a word")
        await wait_until(lambda: updates, message="the update")
        assert len(updates) == 1, updates
        update = updates[0]
        assert isinstance(update, LayoutUpdate), "sent as the reply's lines"
        region = update.region
        assert (region.height, region.width) == (1, reply.outer_size.width)
        lines = [Strip.join(parts) for parts in update.strips]
        assert "A reply that grows by a word" in lines[0].text
        assert "A reply that grows by a word" in update.render_segments(app.console)
        whole = app.main._compositor.render_strips()
        assert [_cells(line) for line in lines] == [
            _cells(line.crop(region.x, region.right)) for line in whole[region.y : region.bottom]
        ]
        # Toasts (bottom right) over the reply's last lines.
        reply.append("\n\n" + "\n\n".join(f"Paragraph {n}." for n in range(40)))
        await wait_until(lambda: reply.region.height > SIZE[1], message="the log filled")
        await pilot.pause()
        for n in range(4):
            app.notify(f"Toast {n} " + "with many words " * 6, timeout=60)
        await wait_until(lambda: "Toast 3" in drawn(app), message="the toasts shown")
        await pilot.pause()
        updates.clear()
        reply.append(" and one more word")
        await wait_until(lambda: updates, message="the update")
        assert not any(isinstance(u, LayoutUpdate) for u in updates)
        shown = drawn(app)
        assert "one more word" in shown
        assert "Toast 3" in shown, "the toast stays in front"


async def test_an_update_under_a_dialog_goes_through_the_compositor(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Textual counts the screen under a dialog as current too: painted there directly,
    the reply's rows would cover the dialog."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        reply = await _reply_in_log(app)
        reply.append("A reply that grows")
        await pilot.pause()
        await pilot.press("f1")
        await wait_until(lambda: app.screen is not app.main, message="the dialog")
        await pilot.pause()
        updates: list[tuple[object, object]] = []
        display = app._display
        monkeypatch.setattr(
            app,
            "_display",
            lambda screen, update: updates.append((screen, update)) or display(screen, update),
        )
        reply.append(" under the dialog")
        await wait_until(lambda: reply.source.endswith("dialog"), message="written")
        for _ in range(3):
            await pilot.pause()
        assert not [u for screen, u in updates if screen is app.main], "nothing sent for it"


async def test_a_reply_that_grows_in_a_full_log_draws_the_scrollbar_once(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new height scrolls the log to its end: the layout draws the whole log, its
    scrollbar with it; Textual would draw the scrollbar again in the next update."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        log = app.main.chat.chat_log
        log.prepare()  # the next exchange's widgets, mounted now, not in the middle
        await wait_until(lambda: log._spare and all(w.is_mounted for w in log._spare))
        await log.mount_all([Notice(f"Earlier line {n}.") for n in range(40)])
        reply = await _reply_in_log(app)
        reply.append("A reply that grows")
        await wait_until(lambda: log.max_scroll_y and log.scroll_y == log.max_scroll_y)
        await pilot.pause()
        scrollbar = log.vertical_scrollbar
        drawn_rows: list[int] = []
        render_lines = scrollbar.render_lines
        monkeypatch.setattr(
            scrollbar,
            "render_lines",
            lambda crop: drawn_rows.append(crop.height) or render_lines(crop),
        )
        end = log.max_scroll_y
        reply.append("\n\n" + "\n\n".join(["More."] * GROW_STEP_LINES))
        await wait_until(lambda: log.scroll_y > end, message="scrolled to the new end")
        for _ in range(3):
            await pilot.pause()
        assert len(drawn_rows) == 1, f"the scrollbar was drawn {len(drawn_rows)} times"


async def test_a_streaming_reply_takes_a_new_theme_s_colours(make_app: MakeApp) -> None:
    """The reply keeps its style and background between updates (Textual computes them
    afresh at each call), and takes the new ones when a style they depend on changes."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        reply = await _reply_in_log(app)
        reply.append("Dark")
        await pilot.pause()
        before = reply.rich_style
        lines_before = _drawn_and_textual_s(reply)[0]
        app.theme = "textual-light"
        await pilot.pause()
        reply.append(" and light")
        await pilot.pause()
        assert reply.rich_style != before
        ours, textual_s = _drawn_and_textual_s(reply)
        assert ours == textual_s, "drawn on the new theme's background"
        assert ours[0] != lines_before[0]
        colours = {s.style for line in reply._lines for s in line if s.text.strip()}
        assert colours
        assert {style.color for style in colours if style} == {reply.rich_style.color}, (
            "drawn in the new theme's colour"
        )


def _drawn_and_textual_s(
    reply: Reply, crop: Region | None = None
) -> tuple[list[Strip], list[Strip]]:
    """The reply's lines in ``crop`` (all of them by default) as it draws them, and as
    Textual's styles cache draws them."""
    crop = crop or Region(0, 0, *reply.outer_size)
    ours = reply._box.lines(reply, crop)
    assert ours is not None, "the reply draws its own lines"
    reply._styles_cache.clear()
    return ours, reply._styles_cache.render_widget(reply, crop)


async def test_a_reply_draws_its_lines_as_textual_would(make_app: MakeApp) -> None:
    """Its padding, background, the app's line filters and crops, without the lookups
    Textual makes at each call."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        reply = await _reply_in_log(app)
        reply.append("".join(markdown_reply(400)))
        await pilot.pause()
        width, height = reply.outer_size
        assert height > 10
        for crop in (
            Region(0, 0, width, height),
            Region(0, 3, width, 1),
            Region(1, 2, width - 5, 4),  # in the padding to the left, not to the right
            Region(0, height - 2, width, 2),
        ):
            ours, textual_s = _drawn_and_textual_s(reply, crop)
            assert ours == textual_s, crop
        reply.styles.border = ("round", "red")  # not a plain box: Textual draws it
        await pilot.pause()
        assert reply._box.lines(reply, Region(0, 0, width, 1)) is None
        assert "╭" in drawn(app)


async def test_a_reply_removed_from_the_log_can_still_be_drawn(make_app: MakeApp) -> None:
    """A dialog draws the screen behind it from that screen's last layout, which may
    still hold a reply just removed (the open conversation deleted from F2)."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        reply = await _reply_in_log(app)
        reply.append("Gone soon.")
        await pilot.pause()
        await reply.remove()
        assert reply.render_line(0).text.startswith("Gone soon.")


async def test_a_finished_reply_loses_the_lines_kept_for_its_growth(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        reply = await _reply_in_log(app)
        reply.append("One line.")
        await pilot.pause()
        assert reply.size.height == GROW_STEP_LINES
        await reply.finish("One line.", DoneReason.STOPPED)
        await pilot.pause()
        assert reply.size.height == 2, "the line and how it ended"
        assert reply.note == "[stopped]"


async def test_a_streamed_first_level_heading_is_to_the_left(make_app: MakeApp) -> None:
    app = make_app(script=Script(default=says("# Tides\n\nThe moon pulls.")))
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        await put_and_send(app, pilot, "Tides?")
        await reply_finished(app)
        await pilot.pause()
        reply = in_log(app, Reply)[-1]
        assert reply.render_line(0).text.startswith("Tides")


async def test_an_earlier_reply_is_one_widget_with_its_ending(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        reply = EarlierReply("The [bold]moon[/] pulls.", "stopped")
        await app.main.chat.chat_log.mount(reply)
        await pilot.pause()
        assert not reply.children
        assert "The [bold]moon[/] pulls." in drawn(app)
        assert "[stopped]" in drawn(app)


async def test_replies_can_be_selected_and_copied_as_shown(make_app: MakeApp) -> None:
    from textual.selection import Selection

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        log = app.main.chat.chat_log
        earlier = EarlierReply("An earlier **reply**.", "")
        reply = Reply(cpu_budget=None)
        await log.mount_all([earlier, reply])
        text = "A reply to copy.\n\n- one\n- two"
        reply.append(text)
        await reply.finish(text, DoneReason.FINISHED)
        await pilot.pause()
        app.screen.selections = {earlier: Selection(None, None), reply: Selection(None, None)}
        await pilot.pause()
        copied = app.screen.get_selected_text() or ""
        assert "An earlier reply." in copied
        assert "A reply to copy." in copied
        assert "• one" in copied
        selected = app.screen.get_component_rich_style("screen--selection")
        assert any(s.style and s.style.bgcolor == selected.bgcolor for s in reply.render_line(0))


async def test_a_streaming_reply_is_drawn_again_at_a_new_width(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        reply = await _reply_in_log(app)
        text = "A sentence long enough to be wrapped once the terminal is narrow. " * 5
        reply.append(text)
        await pilot.pause()
        wide = reply.size.height
        await pilot.resize_terminal(40, 30)
        await pilot.pause()
        assert reply.size.height > wide, "wrapped at the new width"
        width = reply.content_size.width
        assert all(reply.render_line(y).cell_length <= width for y in range(reply.size.height))
        reply.append("And more.")
        await reply.finish(text + "And more.", DoneReason.FINISHED)
        await pilot.pause()
        assert reply.source == text + "And more."
        assert "And more." in drawn(app)


async def test_a_reply_is_drawn_again_at_a_width_the_log_had_before(make_app: MakeApp) -> None:
    """Textual keeps the log's last arrangements and reuses one for a size it had before,
    without asking the reply its height at that width: narrower and back, the reply
    still fills the wider width."""
    app = make_app()
    async with app.run_test(size=(110, 32)) as pilot:
        reply = await _reply_in_log(app)
        text = "word " * 400
        reply.append(text)
        await reply.finish(text, DoneReason.FINISHED)
        await pilot.pause()
        lines = [line.text for line in reply._lines]
        await pilot.resize_terminal(100, 32)
        await wait_until(lambda: [line.text for line in reply._lines] != lines, message="narrow")
        await pilot.resize_terminal(110, 32)
        await wait_until(
            lambda: [line.text for line in reply._lines] == lines, message="wide again"
        )
        await pilot.pause()
        width = reply.content_size.width
        assert [reply.render_line(y).text for y in range(reply.size.height)] == lines
        assert max(len(line.rstrip()) for line in lines) > width - 6


async def test_streamed_text_goes_to_the_reply_without_a_message_per_update(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once a reply shows text, what the model sends next is written into it as the
    worker's pipe delivers it: a Textual message per update, bubbling to the screen,
    cost as much as drawing the text. Text and ending arrive whole and in order."""
    pieces = tuple(f"word{n} " for n in range(8))
    app = make_app(script=Script(default=(Say(pieces, every=0.1),)))
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        chat = app.main.chat
        posted: list[object] = []
        post_message = chat.post_message
        monkeypatch.setattr(
            chat,
            "post_message",
            lambda message: posted.append(message) or post_message(message),
        )
        await put_and_send(app, pilot, "Count.")
        await reply_finished(app)
        (reply,) = in_log(app, Reply)
        assert reply.source == "".join(pieces)
        assert reply.reason is DoneReason.FINISHED
        events = [m.event for m in posted if isinstance(m, ChatReplies.ReplyEvent)]
        tokens = [e for e in events if isinstance(e, Token)]
        assert tokens, "the first text goes by message: the status line says generating"
        assert len(tokens) < len(pieces), "the text that followed went straight to the reply"
        assert isinstance(events[-1], Done)


GROWING = (
    "The boats came in with the tide, one by one; the harbourmaster counted them all.\n"
    + "A-word-longer-than-any-line-of-the-narrow-terminal-at-all and then short ones. " * 3
    + "It ends"
)


@pytest.mark.parametrize("width", [11, 37, 60])
def test_a_growing_paragraph_is_drawn_from_its_last_line_as_rich_draws_it_whole(
    width: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A paragraph of plain text being written is drawn again from the start of its last
    line only (the lines before cannot change), and looks as Rich draws it whole."""
    console = Console(file=StringIO(), width=width, color_system="truecolor")
    options = console.options.update_width(width).update(highlight=False)
    whole = [render_markdown(console, options, GROWING[:end]) for end in range(1, len(GROWING) + 1)]
    rendered: list[object] = []
    render_tokens = markdown_lines.render_tokens

    def counted(*args: Any, **named: Any) -> list[Strip]:
        if args[2]:  # the tokens (the final blocks, none yet, are rendered too)
            rendered.append(args[2])
        return render_tokens(*args, **named)

    monkeypatch.setattr(markdown_lines, "render_tokens", counted)
    by_rich: list[str] = []
    paragraph_lines = markdown_lines._paragraph_lines
    monkeypatch.setattr(
        markdown_lines,
        "_paragraph_lines",
        lambda *args: by_rich.append(args[2]) or paragraph_lines(*args),
    )
    streamed = StreamedMarkdown()
    for end, expected in enumerate(whole, start=1):
        streamed.append(GROWING[end - 1])
        lines = streamed.lines(console, options, None)  # type: ignore[arg-type]
        assert [list(line) for line in lines] == [list(line) for line in expected], (
            f"after {end} characters"
        )
    assert len(rendered) == 1, "drawn whole once, then from its last line"
    assert by_rich == ["x"], "its lines are made without a Text each (Rich asked for styles once)"


def test_a_paragraph_that_begins_as_the_one_before_it_is_drawn_as_itself() -> None:
    console, options = _console(12)
    streamed = StreamedMarkdown()
    said = "Yes, the boats came in."
    for piece in (said, f"\n\n{said} And", " with the tide."):
        streamed.append(piece)
        lines = streamed.lines(console, options, None)  # type: ignore[arg-type]
        assert [line.text.rstrip() for line in lines] == _text(12, streamed.source)


def _parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The Markdown sources ``markdown_lines`` parses from now on."""
    parser = markdown_lines.markdown_parser()
    parsed: list[str] = []

    class Counted:
        def parse(self, text: str) -> Any:
            parsed.append(text)
            return parser.parse(text)

    monkeypatch.setattr(markdown_lines, "markdown_parser", Counted)
    return parsed


def test_plain_words_added_to_a_paragraph_are_not_parsed_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Most updates of a streaming reply add words to its last paragraph: they cannot
    turn it into other Markdown, and the paragraph's text is known without a parse."""
    console, options = _console(20)
    streamed = StreamedMarkdown()
    streamed.append("First paragraph.\n\nThe")
    streamed.lines(console, options, None)  # type: ignore[arg-type]
    parsed = _parses(monkeypatch)
    for words in (" boats came", " in with the tide,", "  one by one:", ' 42 of them! "Yes"', "."):
        streamed.append(words)
        lines = streamed.lines(console, options, None)  # type: ignore[arg-type]
        assert not parsed, f"parsed again after {words!r}"
        assert [line.text.rstrip() for line in lines] == _text(20, streamed.source)
        parsed.clear()  # the whole render, for comparison


@pytest.mark.parametrize(
    ("written", "added"),
    [
        ("Some text and *em", "ph*"),  # emphasis closes
        ("Tea &amp", ";"),  # an entity ends
        ("Tea &amp;", " cakes"),  # the line is not drawn as written
        ("Cost \\", "$5"),  # an escape
        ("Trailing\u00a0", "word"),  # a space markdown-it stripped at the end
        ("A line\n+", " item"),  # a list begins
        ("A line\n1", ". one"),  # a numbered one
        ("| a |\n:", "-"),  # a table's delimiter row
    ],
)
def test_what_could_be_markdown_is_parsed_again(
    written: str, added: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    console, options = _console(30)
    streamed = StreamedMarkdown()
    streamed.append(written)
    streamed.lines(console, options, None)  # type: ignore[arg-type]
    parsed = _parses(monkeypatch)
    streamed.append(added)
    lines = streamed.lines(console, options, None)  # type: ignore[arg-type]
    assert parsed, "parsed again"
    assert [line.text.rstrip() for line in lines] == _text(30, streamed.source)


@pytest.mark.parametrize("width", [1, 2, 3, 7, 12])
def test_lines_are_wrapped_as_rich_wraps_them(width: int) -> None:
    """``rich_compat`` repeats Rich's steps for a line (the one reach into its private
    wrapping): wide characters, words longer than a line, spaces beyond the width."""
    from rich.text import Text

    from tui_chat.ui.rich_compat import wrapped_lines

    console, _ = _console(width)
    for text in (
        "The boats came in with the tide,   one by one.\nA second line",
        "日本語の文章 and ｗｉｄｅ letters, e\u0301 combined",
        "harbourmasters" * 3 + "   \u00a0\u2003 end  ",
        "",
    ):
        expected = [line.plain for line in Text(text, justify="left").wrap(console, width)]
        lines = wrapped_lines(text, width)
        assert [shown + " " * (width - cells) for _, shown, cells in lines] == expected
