"""The benchmark's plan and its figures measured on the real model through the whole app:
decode speed and first token (against the raw library in the same run, in interleaved
rounds), stop latency, multi-turn reuse and crash recovery.

The UI's cost per token, measured with a scripted model, is in ``ui_cost``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import time
from dataclasses import dataclass, replace

from tui_chat.bench import big_store, long_figures
from tui_chat.bench.harness import (
    Raw,
    Timeline,
    ready,
    reply_ended,
    running_app,
    send,
    wait_for,
)
from tui_chat.bench.model_list import models_figure
from tui_chat.bench.report import Figure, median_figure, p95_figure
from tui_chat.bench.startup import startup_figures
from tui_chat.bench.stream_figures import server_delivery, stream_figures
from tui_chat.bench.ui_cost import ui_cost_per_token
from tui_chat.core.paths import UserPaths
from tui_chat.core.protocol import ChatMessage, Done, DoneReason, PromptProgress, Token
from tui_chat.core.settings import Settings
from tui_chat.service.events import ServiceState

STORY = "Write a long story about a dragon who learns to sail."
STOP_NOTE = "Esc (Pilot) to the worker's stop report in the UI"
STOPPABLE_TOKENS = 512
"""Most tokens of a reply that the stop-latency figure stops (it never gets that far)."""


@dataclass(frozen=True, slots=True)
class Plan:
    """How much to measure."""

    rounds: int
    """Interleaved A/B rounds for the decode-speed comparison."""
    decode_tokens: int
    """Tokens per reply for the decode-speed comparison."""
    first_token_rounds: int
    """Interleaved rounds for the time to first token."""
    stops_decoding: int
    """Stops measured while generating."""
    stops_prompt: int
    """Stops measured while reading a long prompt."""
    replay_tokens: int
    """Length of the replayed Markdown reply."""
    turns: int
    """Turns of the multi-turn conversation."""
    startups: int
    """Launches of the app (and of a bare Textual app) for start-up time."""
    crashes: int
    """Worker kills for crash recovery."""
    conversations: int
    """Conversations of ``turns`` turns for the multi-turn figure."""
    stored: int
    """Conversations of 50 messages in the store of the long-conversation figures."""
    long_messages: int
    """Messages of the long conversation."""
    long_ctx: int
    """Context size for the first token after a history far longer than it."""
    resume_exchanges: int
    """Exchanges of the conversation that is resumed after a restart."""
    resumes: int
    """Restarts measured for it."""
    streamed: int
    """Replies whose screen updates are timed."""

    @classmethod
    def full(cls) -> Plan:
        return cls(9, 256, 80, 20, 10, 10_000, 10, 11, 3, 3, 10_000, 10_000, 4096, 8, 7, 5)

    @classmethod
    def quick(cls) -> Plan:
        return cls(2, 32, 3, 3, 2, 2_000, 3, 2, 1, 1, 100, 2_000, 1024, 2, 1, 1)


async def _settle(pilot: object) -> None:
    """Let the screen finish what the last step started, so it does not disturb the
    next measurement (the machine has two cores and the model wants both)."""
    await pilot.pause(0.3)  # type: ignore[attr-defined]


async def throughput_and_first_token(
    settings: Settings, paths: UserPaths, raw: Raw, plan: Plan
) -> list[Figure]:
    """Figures 1 and 2. Decode speed through the whole app (headless app, service, worker
    process, pipe, Markdown rendering) over a bare ``Llama.generate`` loop, each app round
    compared with the raw rounds just before and after it; and the time to first token
    the app adds, from the key press to the first token handled by the UI. Greedy, the
    same prompt and threads on both sides, a fresh context each time."""
    prompt = [ChatMessage("user", STORY)]
    raw_tps: list[float] = []
    raw_perf: list[float] = []
    app_tps: list[float] = []
    async with running_app(settings, paths) as (app, pilot, timeline):
        await ready(app)
        # Decode speed: raw, app, raw, app, …, raw (round 0 warms both sides up).
        raw_tps.append((await asyncio.to_thread(raw.generate, prompt, plan.decode_tokens))["tps"])
        for round_ in range(plan.rounds + 1):
            await app.main.chat.action_new()
            await _settle(pilot)
            await send(app, pilot, STORY, timeline)
            done = await reply_ended(pilot, timeline)
            first, finished = timeline.first(Token), timeline.first(Done)
            assert first is not None
            assert finished is not None
            await _settle(pilot)
            result = await asyncio.to_thread(raw.generate, prompt, plan.decode_tokens)
            if round_ == 0:
                raw_tps = [result["tps"]]
                continue
            app_tps.append((done.usage.completion_tokens - 1) / (finished - first))
            raw_tps.append(result["tps"])
            raw_perf.append(result["tps_perf"])
        # Time to first token: one-token replies, raw, app, raw, app, …, raw; each app
        # round is compared with the raw rounds on either side of it (the machine's speed
        # drifts by more than the figure over a run).
        app.service.settings = replace(app.service.settings, max_tokens=1)
        app_ttft: list[float] = []
        raw_ttft = [(await asyncio.to_thread(raw.generate, prompt, 1))["ttft"] * 1000]
        for _ in range(plan.first_token_rounds):
            await app.main.chat.action_new()
            await _settle(pilot)
            pressed = await send(app, pilot, STORY, timeline)
            await reply_ended(pilot, timeline)
            first = timeline.first(Token)
            assert first is not None
            app_ttft.append((first - pressed) * 1000)
            await _settle(pilot)
            raw_ttft.append((await asyncio.to_thread(raw.generate, prompt, 1))["ttft"] * 1000)
    ratios = [a / ((raw_tps[i] + raw_tps[i + 1]) / 2) for i, a in enumerate(app_tps)]
    throughput = median_figure(
        "decode speed, app / raw llama-cpp-python",
        ratios,
        "ratio",
        0.97,
        at_most=False,
        note=f"{plan.decode_tokens}-token greedy replies, {settings.n_threads} threads",
    )
    throughput.details.update(
        app_tokens_per_second=statistics.median(app_tps),
        raw_tokens_per_second=statistics.median(raw_tps),
        raw_llama_perf_tokens_per_second=statistics.median(raw_perf),
    )
    overheads = [a - (raw_ttft[i] + raw_ttft[i + 1]) / 2 for i, a in enumerate(app_ttft)]
    first_token = median_figure(
        "time to first token, app minus raw",
        overheads,
        "ms",
        15.0,
        note="key press to first token in the chat view, minus raw, fresh context, paired",
    )
    first_token.details.update(
        app_first_token_ms=statistics.median(app_ttft),
        raw_first_token_ms=statistics.median(raw_ttft),
    )
    return [throughput, first_token]


async def stop_latency(settings: Settings, paths: UserPaths, plan: Plan) -> list[Figure]:
    """Figure 3: from the Esc key press to the worker's report of the stop, while
    decoding and while reading a ~2,000-token prompt; no token may show after Esc."""
    decoding: list[float] = []
    prompt: list[float] = []
    long_prompt = "The tide came in over the sand and the boats rose with it. " * 150
    # Replies long enough to be stopped: a quick plan's 32 tokens can run out before Esc
    # lands on a busy machine (seen in CI: "a stop ended as length").
    settings = replace(settings, max_tokens=max(settings.max_tokens, STOPPABLE_TOKENS))
    async with running_app(settings, paths) as (app, pilot, timeline):
        await ready(app)
        for n in range(plan.stops_decoding + plan.stops_prompt):
            in_prompt = n >= plan.stops_decoding
            await app.main.chat.action_new()
            await _settle(pilot)
            # A different start each time, so no prompt comes from the cache.
            text = f"{n}. {long_prompt if in_prompt else STORY}"
            await send(app, pilot, text, timeline)
            kind = PromptProgress if in_prompt else Token
            await wait_for(lambda k=kind: timeline.first(k) is not None, timeout=120)
            if not in_prompt:
                await asyncio.sleep(0.2)  # well into decoding
            shown = len(app.main.chat.conversation.turns[-1].parts)
            pressed = time.perf_counter()
            await pilot.press("escape")
            done = await reply_ended(pilot, timeline)
            stopped_at = timeline.first(Done)
            assert stopped_at is not None
            if done.reason is not DoneReason.STOPPED:
                raise RuntimeError(f"a stop ended as {done.reason}")
            if len(app.main.chat.conversation.turns[-1].parts) != shown:
                raise RuntimeError("a token was shown after Esc")
            (prompt if in_prompt else decoding).append((stopped_at - pressed) * 1000)
            await _settle(pilot)
    return [
        p95_figure("stop latency while decoding", decoding, 50.0, STOP_NOTE),
        p95_figure("stop latency while reading a 2,000-token prompt", prompt, 100.0, STOP_NOTE),
    ]


async def multi_turn(settings: Settings, paths: UserPaths, plan: Plan) -> list[Figure]:
    """Figure 6: time to first token of the last turns over that of the first ones, user
    messages of equal length: only the new turn is read, the rest comes from the prompt
    cache. Several conversations: one turn's time to first token varies too much to
    compare on its own."""
    early: list[float] = []
    late: list[float] = []
    cached: list[int] = []
    async with running_app(settings, paths) as (app, pilot, timeline):
        await ready(app)
        for _ in range(plan.conversations):
            await app.main.chat.action_new()
            ttft: list[float] = []
            for turn in range(1, plan.turns + 1):
                await _settle(pilot)
                pressed = await send(
                    app, pilot, f"Question {turn:02d}: name one animal of the sea.", timeline
                )
                done = await reply_ended(pilot, timeline)
                first = timeline.first(Token)
                assert first is not None
                ttft.append((first - pressed) * 1000)
                cached.append(done.usage.cached_tokens)
            # Turns 2 to 4 and the last three (turn 1 reads the system prompt too).
            early += ttft[1:4]
            late += ttft[-3:]
    return [
        Figure(
            f"time to first token, turn {plan.turns} / turn 2",
            statistics.median(late) / statistics.median(early),
            "ratio",
            1.3,
            samples=len(late),
            note=(
                f"medians of the last three turns and of turns 2 to 4 of {plan.conversations}"
                " conversations, equal-length messages"
            ),
            details={
                "turns_2_to_4_ms": statistics.median(early),
                "last_turns_ms": statistics.median(late),
                f"turn_{plan.turns}_reused_tokens": float(cached[-1]),
            },
        )
    ]


async def crash_recovery(settings: Settings, paths: UserPaths, plan: Plan) -> list[Figure]:
    """Figure 7: worker SIGKILL to the model ready again, minus the cold start of a
    worker (spawn to model loaded, measured when the app starts, in the same run)."""
    async with running_app(replace(settings, crash_limit=100), paths) as (app, pilot, _):
        await ready(app)
        cold = app.service.start_seconds[0] * 1000
        overheads: list[float] = []
        for _ in range(plan.crashes):
            await _settle(pilot)
            pid = app.service.worker_pid
            assert pid is not None
            killed = time.perf_counter()
            os.kill(pid, signal.SIGKILL)
            await wait_for(lambda p=pid: app.service.worker_pid not in (None, p), timeout=30)
            await wait_for(lambda: app.service.state is ServiceState.READY, timeout=60)
            recovered = (time.perf_counter() - killed) * 1000
            overheads.append(recovered - cold)
    return [
        median_figure(
            "crash recovery minus cold worker start",
            overheads,
            "ms",
            300.0,
            note=f"cold worker start {cold:.0f} ms",
        )
    ]


async def all_figures(
    settings: Settings, paths: UserPaths, raw: Raw, plan: Plan, say: object
) -> list[Figure]:
    """Every figure, one after the other."""
    results: list[Figure] = []
    steps = [
        (
            "decode speed and first token",
            lambda: throughput_and_first_token(settings, paths, raw, plan),
        ),
        ("stop latency", lambda: stop_latency(settings, paths, plan)),
        ("UI cost per token", lambda: ui_cost_per_token(settings, paths, plan)),
        ("screen updates while streaming", lambda: stream_figures(settings, paths, plan.streamed)),
        ("streaming through a server", lambda: server_delivery(settings, paths, plan.streamed)),
        ("multi-turn", lambda: multi_turn(replace(settings, max_tokens=24), paths, plan)),
        ("crash recovery", lambda: crash_recovery(settings, paths, plan)),
    ]
    for label, step in steps:
        say(f"measuring {label}…")  # type: ignore[operator]
        results += await step()
    say("measuring start-up…")  # type: ignore[operator]
    results += await asyncio.to_thread(startup_figures, plan.startups, paths)
    say("measuring tui-chat models…")  # type: ignore[operator]
    results += await asyncio.to_thread(models_figure, settings.model, plan.startups)
    results += await long_conversations(settings, paths, plan, say)
    return results


async def long_conversations(
    settings: Settings, paths: UserPaths, plan: Plan, say: object
) -> list[Figure]:
    """The figures of long conversations and big stores, on a store written for them."""
    say(f"writing a store of {plan.stored * 50 + plan.long_messages:,} messages…")  # type: ignore[operator]
    paths.data.mkdir(parents=True, exist_ok=True)
    store = await asyncio.to_thread(
        big_store.build, paths.store, plan.stored, 50, plan.long_messages, plan.resume_exchanges
    )
    say("measuring opening a long conversation…")  # type: ignore[operator]
    results = await asyncio.to_thread(long_figures.open_figures, store, plan.startups)
    say("measuring scrolling, F2 and search…")  # type: ignore[operator]
    results += await long_figures.browse_figures(paths, store, plan.startups)
    say("measuring the first token after a long history…")  # type: ignore[operator]
    long_settings = replace(settings, n_ctx=plan.long_ctx)
    results.append(await long_figures.long_history_figure(long_settings, paths, store))
    say("measuring going on after a restart…")  # type: ignore[operator]
    results.append(await long_figures.resume_figure(settings, paths, store, plan.resumes))
    return results


__all__ = ["Plan", "Timeline", "all_figures"]
