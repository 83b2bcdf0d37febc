"""How a streaming reply looks and what each screen update of it costs: the real model at
its own speed, the chat's log full of earlier exchanges and kept at its end; and how much
of a server's speed reaches the screen.

A frame counts when it carries new text of the reply (frames of the status line, the
cursor's blink and the like do not): the time between two such frames is how often a
person sees the reply grow, and the UI process's CPU time between them is what one
update costs, the token messages that fed it included.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from tui_chat.bench.harness import ready, reply_ended, running_app, send
from tui_chat.bench.llama_server import LlamaServer
from tui_chat.bench.report import Figure, p95_figure
from tui_chat.core.paths import UserPaths
from tui_chat.core.settings import Settings
from tui_chat.core.store import Store
from tui_chat.ui.app import ChatApp
from tui_chat.ui.textual_compat import after_each_frame
from tui_chat.ui.widgets.reply import Reply

QUESTION = "Write a long story about a dragon who learns to sail."
FILLING_EXCHANGES = 8
"""Earlier exchanges of the conversation the replies stream into: more than a screenful."""
STREAMED_TOKENS = 400
"""Tokens of each reply measured."""


def _filled_conversation(paths: UserPaths) -> int:
    paths.data.mkdir(parents=True, exist_ok=True)
    store = Store.open(paths.store)
    try:
        conversation = store.create_conversation("bench")
        for n in range(FILLING_EXCHANGES):
            store.add_message(conversation, "user", f"Question {n}: what came next?", "complete")
            answer = f"Answer {n}. " + "The boats came in with the tide, one by one. " * 20
            store.add_message(conversation, "assistant", answer, "complete")
    finally:
        store.close()
    return conversation


@dataclass
class _Growth:
    """The frames that showed more of one reply: when, and the UI's CPU time then."""

    chars: int = 0
    frames: list[tuple[float, float]] = field(default_factory=list)


def _watch(app: ChatApp) -> list[_Growth]:
    """Follow, frame by frame, how the replies of ``app``'s chat grow on screen."""
    log = app.main.chat.chat_log
    replies: dict[int, _Growth] = {}
    grown: list[_Growth] = []

    def frame() -> None:
        # The last reply that shows text, looked for from the end (the watch's own CPU
        # counts in the figures).
        reply = next(
            (w for w in reversed(log.children) if isinstance(w, Reply) and w.shown_chars), None
        )
        if reply is None:
            return  # the model still reads the prompt: not an update of the reply
        growth = replies.get(id(reply))
        if growth is None:
            growth = replies[id(reply)] = _Growth()
            grown.append(growth)
        if reply.shown_chars > growth.chars:
            growth.chars = reply.shown_chars
            growth.frames.append((time.perf_counter(), time.process_time()))

    after_each_frame(app.main, frame)
    return grown


async def stream_figures(settings: Settings, paths: UserPaths, replies: int) -> list[Figure]:
    """The time between two frames that show more of a reply (p50 and p95), the UI's
    CPU time per such frame (p95) and per token, over ``replies`` replies of the real
    model with the settings' own CPU budget for streaming."""
    conversation = await asyncio.to_thread(_filled_conversation, paths)
    settings = replace(settings, max_tokens=STREAMED_TOKENS)
    tokens = 0
    async with running_app(settings, paths, open_conversation=conversation) as (app, pilot, tl):
        grown = _watch(app)
        await ready(app)
        for _ in range(replies):
            await pilot.pause(0.3)  # the last reply's screen work done
            await send(app, pilot, QUESTION, tl)
            tokens += (await reply_ended(pilot, tl)).usage.completion_tokens - 1
    intervals = [
        (b[0] - a[0]) * 1000 for g in grown for a, b in zip(g.frames, g.frames[1:], strict=False)
    ]
    costs = [
        (b[1] - a[1]) * 1000 for g in grown for a, b in zip(g.frames, g.frames[1:], strict=False)
    ]
    if not intervals:
        raise RuntimeError("no frame showed a reply growing")
    note = f"{replies} replies of {STREAMED_TOKENS} tokens, real model, log full"
    updates = p95_figure("time between screen updates of a streaming reply", intervals, 200.0, note)
    median = Figure(
        "time between screen updates of a streaming reply, p50",
        updates.details["p50_ms"],
        "ms",
        100.0,
        samples=len(intervals),
        note=note,
    )
    cost = p95_figure("UI CPU per screen update of a streaming reply", costs, 3.0, note)
    per_token = Figure(
        "UI CPU per token of a streaming reply",
        sum(costs) / max(1, tokens),
        "ms",
        1.1,
        samples=tokens,
        note=f"{note}; from the first to the last update",
    )
    return [median, updates, cost, per_token]


async def server_delivery(settings: Settings, paths: UserPaths, replies: int) -> list[Figure]:
    """How much of a server's speed reaches the screen: tokens over the time from the
    first to the last frame that showed the reply, over the decode speed the worker saw
    in the stream (llama-cpp-python's server on the same model, the median of
    ``replies``)."""
    with tempfile.TemporaryDirectory() as folder:
        server = LlamaServer(settings.model, Path(folder) / "server.log", settings.n_threads)
        await asyncio.to_thread(server.start)
        try:
            ratios = await _delivered(replace(settings, server=server.base), paths, replies)
        finally:
            await asyncio.to_thread(server.stop)
    ratios.sort()
    figure = Figure(
        "tokens per second on screen / the server's, through a server",
        ratios[len(ratios) // 2],
        "ratio",
        0.95,
        at_most=False,
        low=ratios[0],
        high=ratios[-1],
        samples=len(ratios),
        note=f"{replies} replies of {STREAMED_TOKENS} tokens, llama-cpp-python's server, median",
    )
    return [figure]


async def _delivered(settings: Settings, paths: UserPaths, replies: int) -> list[float]:
    settings = replace(settings, max_tokens=STREAMED_TOKENS)
    ratios: list[float] = []
    async with running_app(settings, paths) as (app, pilot, tl):
        grown = _watch(app)
        await ready(app)
        for _ in range(replies):
            await pilot.pause(0.3)
            await send(app, pilot, QUESTION, tl)
            done = await reply_ended(pilot, tl)
            frames = grown[-1].frames if grown else []
            usage = done.usage
            if len(frames) < 2 or not usage.tokens_per_second:
                raise RuntimeError("the reply from the server did not stream")
            on_screen = (usage.completion_tokens - 1) / (frames[-1][0] - frames[0][0])
            ratios.append(on_screen / usage.tokens_per_second)
    return ratios
