"""How a streaming reply looks and what each screen update of it costs: the real model at
its own speed, the chat's log full of earlier exchanges and kept at its end.

A frame counts when it carries new text of the reply (frames of the status line, the
cursor's blink and the like do not): the time between two such frames is how often a
person sees the reply grow, and the UI process's CPU time between them is what one
update costs, the token messages that fed it included.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

from tui_chat.bench.harness import ready, reply_ended, running_app, send
from tui_chat.bench.report import Figure, p95_figure
from tui_chat.core.paths import UserPaths
from tui_chat.core.settings import Settings
from tui_chat.core.store import Store
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


async def stream_figures(settings: Settings, paths: UserPaths, replies: int) -> list[Figure]:
    """The time between two frames that show more of a reply (p50 and p95), and the UI's
    CPU time per such frame (p95), over ``replies`` replies of the real model with the
    settings' own CPU budget for streaming."""
    conversation = await asyncio.to_thread(_filled_conversation, paths)
    intervals: list[float] = []
    costs: list[float] = []
    seen: dict[int, tuple[int, float, float]] = {}
    """By reply: characters shown, wall and CPU time of the last frame that showed more."""
    settings = replace(settings, max_tokens=STREAMED_TOKENS)
    async with running_app(settings, paths, open_conversation=conversation) as (app, pilot, tl):
        log = app.main.chat.chat_log

        def frame() -> None:
            streaming = [w for w in log.children if isinstance(w, Reply) and not w.finished]
            if not streaming:
                return
            reply = streaming[-1]
            chars, now, cpu = reply.shown_chars, time.perf_counter(), time.process_time()
            if not chars:
                return  # the model still reads the prompt: not an update of the reply
            last = seen.get(id(reply))
            if last is not None and chars > last[0]:
                intervals.append((now - last[1]) * 1000)
                costs.append((cpu - last[2]) * 1000)
            if last is None or chars > last[0]:
                seen[id(reply)] = (chars, now, cpu)

        after_each_frame(app.main, frame)
        await ready(app)
        for _ in range(replies):
            await pilot.pause(0.3)  # the last reply's screen work done
            await send(app, pilot, QUESTION, tl)
            await reply_ended(pilot, tl)
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
    return [median, updates, cost]
