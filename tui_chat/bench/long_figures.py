"""Figures of long conversations and big stores (on the store ``big_store`` writes):
opening a very long conversation, scrolling up through it, F2 and search over the whole
store, the first token after a history far longer than the context, and going on with a
conversation after a restart (its model state restored from the resume cache)."""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

from tui_chat.bench.big_store import BigStore
from tui_chat.bench.harness import ready, reply_ended, running_app, send, wait_for
from tui_chat.bench.report import Figure, median_figure, p95_figure
from tui_chat.bench.startup import READY_MARKER, launch
from tui_chat.core.paths import UserPaths
from tui_chat.core.protocol import Token
from tui_chat.core.script import Script, says
from tui_chat.core.settings import Settings
from tui_chat.core.store import Store
from tui_chat.ui.widgets.log_folding import SHOWN_PER_SCROLL

QUESTION = "Question: which of these words came first, and why?"

READING_PACE = 0.1
"""Seconds between pages scrolled up to: someone flicking through fast (the page above
is read ahead in the time between)."""


def _ratio(name: str, big: list[float], small: list[float], note: str) -> Figure:
    return Figure(
        name,
        statistics.median(big) / statistics.median(small),
        "ratio",
        1.2,
        samples=len(big),
        note=note,
    )


def open_figures(store: BigStore, launches: int) -> list[Figure]:
    """Launch to the last entries and the input on the screen, the UI's CPU until it is
    idle and its memory, opening the long conversation and the 20-message one."""
    env = {**os.environ, "TERM": "xterm-256color"}
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    command = [str(Path(sys.executable).with_name("tui-chat")), "--open"]
    last = f"Answer {store.long_messages // 2 - 1}.".encode()
    long: list[tuple[float, float, float]] = []
    short: list[tuple[float, float, float]] = []
    bare: list[tuple[float, float, float]] = []
    for _ in range(launches):
        long.append(
            launch([*command, str(store.long_id)], READY_MARKER, env, also=last, settle=True)
        )
        short.append(
            launch(
                [*command, str(store.short_id)], READY_MARKER, env, also=b"Answer 9.", settle=True
            )
        )
        bare.append(launch(command[:1], READY_MARKER, env, settle=True))
    shown, rss, cpu = ([run[i] for run in long] for i in range(3))
    shown_short, rss_short, cpu_short = ([run[i] for run in short] for i in range(3))
    started = statistics.median(run[0] for run in bare)
    opened = f"{store.long_messages:,}-message conversation"
    extra_cpu = [c - statistics.median(run[2] for run in bare) for c in cpu]
    return [
        median_figure(
            f"open a {opened}: last entries and input shown", shown, "s", 0.5,
            note="launch of tui-chat --open ID in a pseudo-terminal",
        ),
        # The issue's own reading of the bound above: start-up + 0.1 s. Taken in the same
        # run, launches interleaved, it does not move with the machine's speed that hour.
        median_figure(
            "open it, time over a start with none", [s - started for s in shown], "s", 0.1,
            note="launch to shown, minus the median launch to the input of tui-chat alone",
        ),
        _ratio("open it, time / a 20-message one", shown, shown_short, "launch to shown"),
        median_figure(
            "UI CPU for the open (over a start with none)", extra_cpu, "s", 0.3,
            note="UI process CPU until idle, minus that of a start with a new conversation",
        ),
        _ratio("open it, UI CPU / a 20-message one", cpu, cpu_short, "UI CPU until idle"),
        median_figure(f"UI memory with the {opened} open", rss, "MB", 100.0),
        _ratio("open it, UI memory / a 20-message one", rss, rss_short, "resident, when idle"),
    ]  # fmt: skip


async def _refreshed(widget: object) -> None:
    """Wait until the screen has been refreshed after what was just done."""
    done = asyncio.Event()
    widget.call_after_refresh(done.set)  # type: ignore[attr-defined]
    await done.wait()


async def browse_figures(paths: UserPaths, store: BigStore, rounds: int) -> list[Figure]:
    """Scrolling up through 1,000 earlier messages of the long conversation, page by page;
    F2 over the whole store; searches over every message. A scripted model: the figures
    are the UI's and the store's."""
    from tui_chat.ui.screens.conversations import ConversationsScreen

    settings = Settings(model=Path("scripted"), script=Script(default=says("Hello.")))
    pages: list[float] = []
    shown: list[float] = []
    async with running_app(settings, paths, open_conversation=store.long_id) as (app, pilot, _):
        chat = app.main.chat
        log = chat.chat_log
        await wait_for(lambda: len(log.entries) >= 2)
        await pilot.pause(0.5)
        start = len(log.entries)
        while len(log.entries) < start + 1_000:
            began = time.perf_counter()
            await log.show_earlier()
            await _refreshed(log)
            pages.append((time.perf_counter() - began) * 1000)
            await asyncio.sleep(READING_PACE)
        for _ in range(rounds):
            began = time.perf_counter()
            chat.action_list()
            await wait_for(
                lambda: (
                    isinstance(app.screen, ConversationsScreen)
                    and app.screen.options.option_count > 1
                )
            )
            await _refreshed(app.screen)
            shown.append((time.perf_counter() - began) * 1000)
            app.screen.dismiss(None)
            await pilot.pause(0.3)
    searches = await asyncio.to_thread(_search_times, paths.store, store.queries)
    return [
        p95_figure(
            "scrolling up through 1,000 earlier messages, a page", pages, 50.0,
            f"a page of {SHOWN_PER_SCROLL} shown, laid out and drawn, {1 / READING_PACE:.0f} "
            "pages a second (headless)",
        ),
        median_figure(
            f"F2 shown, {store.messages:,} messages in the store", shown, "ms", 300.0,
            note="F2 to its first page drawn (headless)",
        ),
        p95_figure(
            "search every message", searches, 50.0,
            f"{len(searches)} queries over {store.messages:,} messages (FTS5)",
        ),
    ]  # fmt: skip


def _search_times(path: Path, queries: tuple[str, ...]) -> list[float]:
    store = Store.open(path)
    try:
        times = []
        for query in queries:
            began = time.perf_counter()
            store.search(query)
            times.append((time.perf_counter() - began) * 1000)
        return times
    finally:
        store.close()


async def _first_token(app: object, pilot: object, timeline: object, text: str) -> float:
    pressed = await send(app, pilot, text, timeline)  # type: ignore[arg-type]
    await reply_ended(pilot, timeline)  # type: ignore[arg-type]
    first = timeline.first(Token)  # type: ignore[attr-defined]
    assert first is not None
    return (first - pressed) * 1000


async def long_history_figure(settings: Settings, paths: UserPaths, store: BigStore) -> Figure:
    """The first token of a reply in the long conversation (its whole history since
    ``context_start`` 0), over that of a conversation holding just the window the model
    gets of it: what fitting a history far longer than the context costs. No state is
    restored from the resume cache here."""
    settings = replace(settings, resume_cache=None, max_tokens=8)
    async with running_app(settings, paths, open_conversation=store.long_id) as (
        app,
        pilot,
        timeline,
    ):
        await ready(app)
        await pilot.pause(0.5)
        long = await _first_token(app, pilot, timeline, QUESTION)
        conversation = app.main.chat.conversation
        window = [
            (t.role, t.text)
            for t in conversation.turns[conversation.context_start - conversation.first : -2]
        ]
        copy = await app.main.chat.store.call(lambda s: _copy(s, window))
        await app.main.chat.open(copy)
        await pilot.pause(0.5)
        same_window = await _first_token(app, pilot, timeline, QUESTION)
        await app.main.chat.action_new()
        await pilot.pause(0.5)
        fresh = await _first_token(app, pilot, timeline, QUESTION)
    return Figure(
        "first token after a history far over the context / the window alone",
        long / same_window,
        "ratio",
        2.0,
        samples=1,
        note=f"{store.long_messages:,} messages since context_start 0, ctx {settings.n_ctx}",
        details={"long_history_ms": long, "window_alone_ms": same_window, "fresh_ms": fresh},
    )


def _copy(store: Store, messages: list[tuple[str, str]]) -> int:
    conversation = store.create_conversation("bench")
    for role, text in messages:
        store.add_message(conversation, role, text, "complete")
    return conversation


async def resume_figure(
    settings: Settings, paths: UserPaths, store: BigStore, rounds: int
) -> Figure:
    """The first token after tui-chat starts again on a conversation (its model state
    restored from the resume cache), over the first token of the next turn in the same
    session. A first session reads the conversation and leaves it, keeping its state."""
    settings = replace(settings, resume_cache=paths.resume_cache, max_tokens=8)
    resumed: list[float] = []
    next_turn: list[float] = []
    for n in range(rounds + 1):
        async with running_app(settings, paths, open_conversation=store.resume_id) as (
            app,
            pilot,
            timeline,
        ):
            await ready(app)
            await pilot.pause(1.0)  # as long as a person takes to start typing
            first = await _first_token(app, pilot, timeline, f"{n}a. {QUESTION}")
            await pilot.pause(0.3)
            then = await _first_token(app, pilot, timeline, f"{n}b. {QUESTION}")
        if n:  # the first session read the whole conversation: nothing was kept yet
            resumed.append(first)
            next_turn.append(then)
    return Figure(
        "first token after a restart / next turn in the session",
        statistics.median(resumed) / statistics.median(next_turn),
        "ratio",
        1.2,
        samples=rounds,
        note="a conversation of ~3,000 tokens, its state restored from the resume cache",
        details={
            "after_restart_ms": statistics.median(resumed),
            "next_turn_ms": statistics.median(next_turn),
        },
    )
