"""The UI's cost per token: a scripted model in the real worker replays a long Markdown
reply, so the figures measure the pipe, the service and the chat view, not a model.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from tui_chat.bench.harness import ready, reply_ended, running_app, send
from tui_chat.bench.replay import replay_script
from tui_chat.bench.report import Figure
from tui_chat.core.paths import UserPaths
from tui_chat.core.protocol import Token
from tui_chat.core.settings import Settings

if TYPE_CHECKING:
    # Only for the annotation: figures imports this module to run it.
    from tui_chat.bench.figures import Plan

STEADY_RATE = 500
"""Tokens a second the replay offers for the cost per token: five times a CPU model, and
within what the UI takes as it comes. The worker sends what it has ten times a second,
as with a model; offered faster than the UI takes them, messages pile up in the pipe and
reach the UI merged: the CPU time per token would then say how far behind the UI was,
not what a token costs."""

FLOOD_RATE = 4_000
"""Tokens a second the replay offers for the sustained rate: twice the target."""


async def _replay(
    settings: Settings, paths: UserPaths, tokens: int, rate: int
) -> list[tuple[int, float, float]]:
    """Replay a ``tokens``-token Markdown reply at ``rate`` tokens a second through the
    app (a scripted model in the real worker); returns (tokens so far, UI-process CPU
    time, wall time) at each token event the chat view handled. The screen is updated
    ten times a second here: the CPU budget that spreads updates out while a local model
    computes would hide the cost."""
    samples: list[tuple[int, float, float]] = []
    replay = replace(
        settings,
        n_ctx=tokens + 1024,
        max_tokens=tokens,
        stream_cpu_budget=0.0,
        script=replay_script(tokens, rate),
    )
    async with running_app(replay, paths) as (app, pilot, tl):
        await ready(app)
        chat = app.main.chat
        handle, heard = chat.handle, chat._heard

        def count(event: object) -> None:
            if isinstance(event, Token):
                so_far = samples[-1][0] if samples else 0
                samples.append((so_far + event.count, time.process_time(), time.perf_counter()))

        async def handled(event: object) -> None:  # a token that came as a message
            await handle(event)  # type: ignore[arg-type]
            count(event)

        def written(exchange: Any, event: object) -> None:  # one written as it came
            queued = exchange.queued
            heard(exchange, event)  # type: ignore[arg-type]
            if exchange.queued == queued:
                count(event)

        chat.handle = handled  # type: ignore[method-assign]
        chat._heard = written  # type: ignore[method-assign]
        await send(app, pilot, "Replay.", tl)
        await reply_ended(pilot, tl, timeout=600)
    return samples


async def ui_cost_per_token(settings: Settings, paths: UserPaths, plan: Plan) -> list[Figure]:
    """Figure 4: a scripted model in the real worker sends a long Markdown reply along
    a model's path (pipe, service, messages, chat view, Markdown stream). UI-process CPU
    time per token over the last tenth of the reply over that of the first tenth, offered
    at a steady ``STEADY_RATE`` (constant cost per token: ~1); and the rate at which the UI
    takes tokens in when offered ``FLOOD_RATE`` (target: at least 2,000 a second)."""
    samples = await _replay(settings, paths, plan.replay_tokens, STEADY_RATE)
    total = samples[-1][0]
    window = max(1, total // 10)

    def cost(low: int, high: int) -> float:
        """CPU seconds per token between the samples at ``low`` and ``high`` tokens."""
        start = max((s for s in samples if s[0] <= low), key=lambda s: s[0], default=samples[0])
        end = next(s for s in samples if s[0] >= high)
        return (end[1] - start[1]) / max(1, end[0] - start[0])

    first, last = cost(0, window), cost(total - window, total)
    growth = Figure(
        "UI CPU per token, last / first tenth of a long reply",
        last / first if first > 0 else float("inf"),
        "ratio",
        1.5,
        samples=len(samples),
        note=f"{total}-token Markdown replay at {STEADY_RATE:,} tok/s, 10 updates/s",
        details={"first_ms_per_token": first * 1000, "last_ms_per_token": last * 1000},
    )
    flood = await _replay(settings, paths, plan.replay_tokens, FLOOD_RATE)
    duration = flood[-1][2] - flood[0][2]
    rate = Figure(
        "sustained UI rate",
        (flood[-1][0] - flood[0][0]) / duration if duration > 0 else 0.0,
        "tok/s",
        2000.0,
        at_most=False,
        note=f"tokens taken in per second, {FLOOD_RATE:,} a second offered",
    )
    return [growth, rate]
