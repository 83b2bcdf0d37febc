"""F2 on a big store (Pilot, scripted model): read a page at a time, filtered as the
person types, searched through every message, a found message opened in place."""

from __future__ import annotations

import re
from collections.abc import Callable

from rich.text import Text
from textual.widgets import Input, OptionList

from tests.helpers import (
    SIZE,
    in_log,
    loaded,
    put_and_send,
    reply_finished,
    status_text,
    wait_until,
)
from tui_chat.core.paths import UserPaths
from tui_chat.core.script import Script, says
from tui_chat.core.store import Store
from tui_chat.ui.app import ChatApp
from tui_chat.ui.screens.conversations import PAGE, ConversationsScreen
from tui_chat.ui.widgets.chat_log import UserMessage
from tui_chat.ui.widgets.earlier_reply import EarlierReply

SCRIPT = Script(default=says("Hello there."))
MakeApp = Callable[..., ChatApp]


def _store(paths: UserPaths, conversations: int, messages: int, filler: str = "") -> list[int]:
    """``conversations`` saved ones, "Trip n" or "Recipe n" in turn, each of ``messages``
    messages ("Question n?" and "Answer n." and ``filler``, the third answer about a
    harbour)."""
    paths.data.mkdir(parents=True, exist_ok=True)
    store = Store.open(paths.store)
    ids = []
    for c in range(conversations):
        conversation = store.create_conversation("model")
        for n in range(messages // 2):
            store.add_message(conversation, "user", f"Question {n}?", "complete")
            answer = f"Answer {n}.\n\nThe harbour of Trip {c}." if n == 3 else f"Answer {n}."
            answer += filler
            store.add_message(conversation, "assistant", answer, "complete")
        store.rename(conversation, f"Trip {c}" if c % 2 else f"Recipe {c}")
        ids.append(conversation)
    store.close()
    return ids


async def _open_list(app: ChatApp, pilot: object) -> OptionList:
    await pilot.press("f2")  # type: ignore[attr-defined]
    await wait_until(lambda: isinstance(app.screen, ConversationsScreen), message="F2")
    options = app.screen.query_one(OptionList)
    await wait_until(lambda: options.option_count > 0, message="the list")
    return options


def _shown(options: OptionList) -> list[str]:
    return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]


async def test_the_list_reads_a_page_at_a_time_as_the_highlight_goes_down(
    make_app: MakeApp, paths: UserPaths
) -> None:
    ids = _store(paths, PAGE * 2 + 5, 2)
    app = make_app(script=SCRIPT)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        options = await _open_list(app, pilot)
        assert options.option_count == PAGE, "one page, not every conversation"
        assert f"Recipe {len(ids) - 1}  (" in _shown(options)[0], "the newest first"
        for _ in range(len(ids)):  # a person holding PageDown
            if options.highlighted == len(ids) - 1:
                break
            await pilot.press("pagedown")
        await wait_until(lambda: options.option_count == len(ids), message="every page")
        assert options.highlighted == len(ids) - 1
        assert "Recipe 0" in _shown(options)[-1]


async def test_typing_filters_titles_then_finds_messages_and_enter_opens_at_the_one_found(
    make_app: MakeApp, paths: UserPaths
) -> None:
    _store(paths, 6, 60)
    app = make_app(script=SCRIPT)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        options = await _open_list(app, pilot)
        await pilot.press(*"trip")
        await wait_until(lambda: app.screen.query_one(Input).value == "trip")
        await wait_until(lambda: options.option_count == 3 + 6, message="titles, then hits")
        shown = _shown(options)
        assert [line.split("  ")[1] for line in shown[:3]] == ["Trip 5", "Trip 3", "Trip 1"]
        assert shown[3].split("\n")[1].strip() == "The harbour of Trip 5."
        await pilot.press(*" 4")  # "trip 4": no title holds both words; one message does
        await wait_until(lambda: options.option_count == 1, message="the one hit")
        (hit,) = _shown(options)
        assert "Recipe 4  (model)" in hit
        prompt = options.get_option_at_index(0).prompt
        assert isinstance(prompt, Text)
        matched = [prompt.plain[s.start : s.end] for s in prompt.spans if s.style == "reverse"]
        assert matched == ["Trip", "4"]
        await pilot.press("enter")
        chat = app.main.chat
        await wait_until(lambda: chat.conversation.id == 5, message="the conversation opened")
        log = chat.chat_log
        await wait_until(lambda: log.query(".found"), message="the message found, marked")
        found = log.query_one(".found")
        entries = log.entries
        assert isinstance(found, EarlierReply)
        assert found is entries[0], "built back to it, no further"
        assert str(entries[1].render()) == "Question 4?"
        await pilot.pause()
        assert log.region.y <= found.region.y < log.region.bottom, "and in view"
        questions = [str(w.render()) for w in in_log(app, UserMessage)]
        assert questions[0] == "Question 4?"
        assert questions[-1] == "Question 29?"


async def test_esc_clears_the_filter_then_closes_and_no_match_says_so(
    make_app: MakeApp, paths: UserPaths
) -> None:
    _store(paths, 2, 2)
    app = make_app(script=SCRIPT)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        options = await _open_list(app, pilot)
        await pilot.press(*"volcano")
        await wait_until(lambda: "No title or message holds “volcano”" in _shown(options)[0])
        await pilot.press("enter")  # nothing to open: the list stays
        await pilot.press("escape")
        await wait_until(lambda: options.option_count == 2, message="the whole list again")
        assert isinstance(app.screen, ConversationsScreen)
        await pilot.press("escape")
        await wait_until(lambda: not isinstance(app.screen, ConversationsScreen))


async def test_a_history_far_longer_than_the_context_is_read_only_as_far_as_it_could_go(
    make_app: MakeApp, paths: UserPaths
) -> None:
    """Opened with a 512-token context, 300 messages since ``context_start`` 0: only the
    newest that such a context could take are read from the store and counted; the status
    line says the oldest are left out; after a reply, the kept window is counted as usual."""
    (conversation,) = _store(paths, 1, 300, " More words." * 10)
    app = make_app(script=SCRIPT, n_ctx=512, open_conversation=conversation)
    counted: list[int] = []
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        count_tokens = app.service.count_tokens

        async def spy(*args: object, **kwargs: object) -> object:
            counted.append(sum(len(p) for p in kwargs.get("prompts", ())))  # type: ignore[arg-type]
            return await count_tokens(*args, **kwargs)  # type: ignore[arg-type]

        app.service.count_tokens = spy  # type: ignore[method-assign]
        chat = app.main.chat
        assert 0 < chat.conversation.first == chat.conversation.context_start
        assert len(chat.conversation.turns) < 60, "not the whole history"
        chat.count_context()
        status = app.main.status
        await wait_until(lambda: status.context_over, message="said full")
        assert "context full: the oldest messages are left out" in status_text(app)
        assert 0 < counted[0] < 60
        await put_and_send(app, pilot, "And now?")
        await reply_finished(app)
        assert chat.conversation.context_start > chat.conversation.first
        await wait_until(lambda: not status.context_over, message="the reply's counts")
        assert status.context_tokens is not None
        chat.count_context()
        await wait_until(lambda: len(counted) > 1, message="counted")
        assert not status.context_over
        assert re.search(r"context \d+/512", status_text(app))
