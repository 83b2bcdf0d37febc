"""The benchmark's figures, each measured on the real app and, where it compares, on the
raw library in the same run, in interleaved rounds."""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass

from tui_chat.bench.harness import Raw, ready, reply_ended, running_app, send
from tui_chat.bench.report import Figure, median_figure
from tui_chat.core.paths import UserPaths
from tui_chat.core.protocol import ChatMessage, Done, Token
from tui_chat.core.settings import Settings

STORY = "Write a long story about a dragon who learns to sail."


@dataclass(frozen=True, slots=True)
class Plan:
    """How much to measure."""

    rounds: int
    """Interleaved A/B rounds for comparisons."""
    decode_tokens: int
    """Tokens per reply for the throughput comparison."""
    stops_decoding: int
    """Stops measured while generating."""
    stops_prompt: int
    """Stops measured while reading a long prompt."""
    replay_tokens: int
    """Length of the replayed Markdown reply."""
    turns: int
    """Turns of the multi-turn conversation."""
    startups: int
    """Launches of the app for start-up time."""

    @classmethod
    def full(cls) -> Plan:
        return cls(5, 256, 20, 10, 10_000, 10, 5)

    @classmethod
    def quick(cls) -> Plan:
        return cls(2, 48, 3, 2, 3_000, 4, 2)


async def throughput_and_first_token(
    settings: Settings, paths: UserPaths, raw: Raw, plan: Plan
) -> list[Figure]:
    """Figures 1 and 2: decode speed through the whole app over raw ``Llama.generate``,
    and the time to first token the app adds. Fresh context on both sides each round."""
    prompt = [ChatMessage("user", STORY)]
    raw_tps: list[float] = []
    raw_ttft: list[float] = []
    raw_perf: list[float] = []
    app_tps: list[float] = []
    app_ttft: list[float] = []
    async with running_app(settings, paths) as (app, pilot, timeline):
        await ready(app)
        for round_ in range(plan.rounds + 1):  # round 0 warms both sides up
            result = await asyncio.to_thread(raw.generate, prompt, plan.decode_tokens)
            await app.main.chat.action_new()
            pressed = await send(app, pilot, STORY, timeline)
            done = await reply_ended(pilot, timeline)
            first = timeline.first(Token)
            finished = timeline.first(Done)
            assert first is not None
            assert finished is not None
            if round_ == 0:
                continue
            n = done.usage.completion_tokens
            app_tps.append((n - 1) / (finished - first))
            app_ttft.append((first - pressed) * 1000)
            raw_tps.append(result["tps"])
            raw_perf.append(result["tps_perf"])
            raw_ttft.append(result["ttft"] * 1000)
    ratios = [a / r for a, r in zip(app_tps, raw_tps, strict=True)]
    throughput = median_figure(
        "decode speed, app / raw llama-cpp-python",
        ratios,
        "ratio",
        0.97,
        at_most=False,
        note=f"{plan.decode_tokens}-token greedy replies, {settings.n_threads} threads",
    )
    overhead = [a - r for a, r in zip(app_ttft, raw_ttft, strict=True)]
    first_token = median_figure(
        "time to first token, app minus raw", overhead, "ms", 15.0, note="fresh context"
    )
    details = {
        "app_tokens_per_second": statistics.median(app_tps),
        "raw_tokens_per_second": statistics.median(raw_tps),
        "raw_llama_perf_tokens_per_second": statistics.median(raw_perf),
        "app_first_token_ms": statistics.median(app_ttft),
        "raw_first_token_ms": statistics.median(raw_ttft),
    }
    throughput.details.update(details)
    first_token.details.update(details)
    return [throughput, first_token]


async def _timed_rounds(app_round: object, raw_round: object, rounds: int) -> None:
    """Alternate the two sides (helper kept for figures that compare)."""
    for _ in range(rounds):
        await raw_round()  # type: ignore[operator]
        await app_round()  # type: ignore[operator]


def elapsed_ms(since: float) -> float:
    """Milliseconds since ``since`` (a ``perf_counter`` reading)."""
    return (time.perf_counter() - since) * 1000
