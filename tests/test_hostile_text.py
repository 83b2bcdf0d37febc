"""Text is only text: markup, escape sequences, control and bidi characters from a paste
or a model are shown literally and never act on the terminal or the app."""

from __future__ import annotations

import io
import time
from collections.abc import Callable

import pytest
from textual import events

from tests.helpers import SIZE, in_log, loaded, reply_finished, terminal_output, wait_until
from tui_chat.commands.translate import terminal_safe
from tui_chat.core.paths import UserPaths
from tui_chat.core.protocol import ChatMessage, DoneReason
from tui_chat.core.script import Say, Script
from tui_chat.core.store import Store
from tui_chat.core.visible import visible
from tui_chat.ui.app import ChatApp
from tui_chat.ui.paste_parser import PASTE_END, PASTE_START, PasteSafeParser
from tui_chat.ui.widgets.chat_log import Reply, UserMessage
from tui_chat.worker.scripted import prompt_tokens

CLEAR_SCREEN = "\x1b[2J\x1b[H"
LEAVE_ALT_SCREEN = "\x1b[?1049l"
OSC52_CLIPBOARD = "\x1b]52;c;aGFja2Vk\x07"
OSC8_LINK = "\x1b]8;;https://example.com\x1b\\link\x1b]8;;\x1b\\"
DCS = "\x1bPq#0;2;0;0;0\x1b\\"
C1_CSI = "\x9b2J"
BIDI_OVERRIDE = "abc\u202edcba\u202c"
MARKUP = "[bold red]x[/] [/] [@click=app.quit]quit[/] [link=https://example.com]l[/link]"

WORLD = "emoji 👩‍👩‍👧 CJK 漢字 RTL שלום عربى e\u0301"
HOSTILE = "\n".join(
    [
        "Before " + CLEAR_SCREEN + " after.",
        LEAVE_ALT_SCREEN,
        OSC52_CLIPBOARD,
        OSC8_LINK,
        DCS,
        C1_CSI,
        "bell\x07 backspace\x08 nul\x00 del\x7f",
        BIDI_OVERRIDE,
        MARKUP,
    ]
)
# What must never reach the terminal from that text.
ACTIVE = [
    "\x1b[2J",
    "\x1b[?1049l",
    "\x1b]52",
    "\x1b]8;;https://example.com",
    "\x1bP",
    "\x9b",
    "\x07",
    "\x08",
    "\x00",
    "\x7f",
    "\u202e",
]


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (CLEAR_SCREEN, "␛[2J␛[H"),
        (OSC52_CLIPBOARD, "␛]52;c;aGFja2Vk␇"),
        (DCS, "␛Pq#0;2;0;0;0␛\\"),
        (C1_CSI, "\ufffd2J"),
        (BIDI_OVERRIDE, "abcdcba"),
        ("a\r\nb\rc", "a\nb\nc"),
        ("lone \ud800 surrogate", "lone \ufffd surrogate"),
        ("tab\tand\nnewline", "tab\tand\nnewline"),
        (MARKUP, MARKUP),
        (
            "emoji 👩‍👩‍👧 CJK 漢字 RTL שלום عربى e\u0301",
            "emoji 👩‍👩‍👧 CJK 漢字 RTL שלום عربى e\u0301",
        ),
    ],
)
def test_visible_shows_controls_and_keeps_text(text: str, shown: str) -> None:
    assert visible(text) == shown


def test_visible_leaves_nothing_active() -> None:
    shown = visible(HOSTILE)
    for sequence in ACTIVE:
        assert sequence not in shown, repr(sequence)
    assert "Before ␛[2J␛[H after." in shown  # it still reads: escapes shown, not dropped


HOSTILE_REPLY = Script(default=(Say(tuple(HOSTILE[n : n + 7] for n in range(0, len(HOSTILE), 7))),))
"""A reply made of that text, in pieces that split its sequences."""

MakeApp = Callable[..., ChatApp]


async def test_a_hostile_paste_and_reply_are_shown_literally(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        # A paste full of escape sequences and markup: the input holds it visibly.
        chat_input = app.main.chat.input
        chat_input.focus()
        app.post_message(events.Paste(HOSTILE))
        await wait_until(lambda: "quit[/]" in chat_input.text, message="the paste")
        assert chat_input.text == visible(HOSTILE)
        # A reply streamed with the same text, in pieces that split the sequences.
        reply = Reply(cpu_budget=None)
        await app.main.chat.chat_log.mount(reply)
        for start in range(0, len(HOSTILE), 7):
            reply.append(HOSTILE[start : start + 7])
        await reply.finish(HOSTILE, DoneReason.FINISHED)
        await app.main.chat.chat_log.mount(UserMessage(HOSTILE))
        await pilot.pause()
        output = terminal_output(app)
        for sequence in ACTIVE:
            assert sequence not in output, repr(sequence)
        assert "␛[2J" in output
        assert "[@click=app.quit]quit[/]" in output  # markup shown as written
        assert app.is_running


async def test_links_in_replies_open_only_web_addresses(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app()
    opened: list[str] = []
    async with app.run_test(size=SIZE) as pilot:
        monkeypatch.setattr(app, "open_url", lambda url, **_: opened.append(url))
        reply = Reply(cpu_budget=None)
        await app.main.chat.chat_log.mount(reply)
        links = ["https://example.com/a", "file:///etc/passwd", "app.quit", "javascript:alert(1)"]
        await reply.finish(
            "\n".join(f"[link {n}]({href})" for n, href in enumerate(links)), DoneReason.FINISHED
        )
        await pilot.pause()
        for line in range(len(links)):  # a click on each (one per line), as a person would
            await pilot.click(reply, offset=(2, line))
        await pilot.pause()
        # Markdown itself refuses file: and javascript: links (shown as text); app.quit
        # is a link that is not opened, and says so.
        await wait_until(lambda: len(app._notifications) >= 1, message="the notice")
        assert opened == ["https://example.com/a"]
        assert app.is_running


async def test_a_reply_full_of_escapes_through_the_worker_is_shown_literally(
    make_app: MakeApp,
) -> None:
    """The whole path: the worker sends the text in pieces that split its sequences, the
    service merges them, the log streams and then renders them."""
    app = make_app(script=HOSTILE_REPLY)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        app.main.chat.input.load_text("Repeat after me.")
        await pilot.press("enter")
        turn = await reply_finished(app)
        assert turn.text == HOSTILE, "the reply is kept as it came"
        await pilot.pause()
        output = terminal_output(app)
        for sequence in ACTIVE:
            assert sequence not in output, repr(sequence)
        assert "␛[2J" in output
        assert "[@click=app.quit]quit[/]" in output
        assert app.is_running


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_translate_neutralises_controls_on_a_terminal_and_not_in_a_pipe() -> None:
    terminal, pipe = _Terminal(), io.StringIO()
    terminal_safe(terminal)(HOSTILE)
    terminal_safe(pipe)(HOSTILE)
    assert terminal.getvalue() == visible(HOSTILE)
    assert pipe.getvalue() == HOSTILE


PASTE = "a\x1b]2;T\x07\rb\x1b\x11c\x1b[2J\r\nd"


@pytest.mark.parametrize("split", [1, 2, 3, 5, 7, 1000])
def test_a_bracketed_paste_is_text_whatever_it_holds(split: int) -> None:
    """An ESC inside a paste must not turn the rest into key presses (Enter, Ctrl+Q)."""
    data = "x" + PASTE_START + PASTE + PASTE_END + "y\x1b[A"
    parser = PasteSafeParser()
    got: list[object] = []
    for start in range(0, len(data), split):
        got += list(parser.feed(data[start : start + split]))
    pastes = [e.text for e in got if isinstance(e, events.Paste)]
    keys = [e.key for e in got if isinstance(e, events.Key)]
    assert pastes == [PASTE]
    assert keys == ["x", "y", "up"]


def test_the_escape_key_still_arrives_on_its_own() -> None:
    parser = PasteSafeParser()
    assert list(parser.feed("\x1b")) == []  # it may be the start of a paste marker
    deadline = time.monotonic() + 2
    keys: list[str] = []
    while not keys and time.monotonic() < deadline:
        keys = [e.key for e in parser.tick() if isinstance(e, events.Key)]
    assert keys == ["escape"]


async def test_a_megabyte_paste_is_held_aside_sent_whole_and_refused_with_numbers(
    make_app: MakeApp, paths: UserPaths
) -> None:
    app = make_app()
    big = "word " * 200_000  # one line of a million characters
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        chat_input = app.main.chat.input
        chat_input.focus()
        app.post_message(events.Paste(big))
        await wait_until(lambda: chat_input.text, message="the paste")
        # The input holds a one-line placeholder, not a megabyte to re-wrap on each key.
        assert chat_input.text == "[pasted text #1: 1 lines, 1,000,000 characters]"
        await pilot.press("home", "S", "u", "m", ":", "space")
        assert chat_input.full_text == "Sum: " + big
        await pilot.press("enter")
        turn = await reply_finished(app)
        reply = in_log(app, Reply)[-1]
        assert reply.reason is DoneReason.ERROR
        size = len(prompt_tokens([ChatMessage("user", "Sum: " + big)]))
        assert reply.note == (
            f"[failed: This message is too long for the model: with the chat template it "
            f"takes {size} tokens, the context holds 4096 and 64 of them are kept for the "
            "reply. Shorten it, or start tui-chat with a larger --ctx.]"
        )
        shown = str(in_log(app, UserMessage)[-1].render())
        assert shown.endswith(
            "[998,005 more characters, not shown here: the message is kept whole]"
        ), "it says nothing that the failure below contradicts"
        assert len(shown) < 3_000
        assert turn is not None
        assert app.is_running
    app.store.close_now()
    store = Store.open(paths.store)
    try:
        saved = store.load(store.list_conversations()[0].id)
        assert saved is not None
        assert saved.messages[0].text == "Sum: " + big  # nothing of it was lost
    finally:
        store.close()
