"""`tui-chat bench [--model PATH] [--quick] [--check] [--json FILE]`."""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from tui_chat.bench import figures
from tui_chat.bench.harness import Raw
from tui_chat.bench.report import Figure, table, write_json
from tui_chat.commands.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, whole_number
from tui_chat.core.paths import user_paths
from tui_chat.core.protocol import Sampling

GREEDY = Sampling(temperature=0.0, top_p=1.0, top_k=1, repeat_penalty=1.0)


def build_parser() -> argparse.ArgumentParser:
    """The ``tui-chat bench`` command line."""
    parser = argparse.ArgumentParser(
        prog="tui-chat bench",
        description=(
            "Measure tui-chat against llama-cpp-python itself on the same model, in one "
            "run: decode speed, time to first token, stop latency, UI cost per token, "
            "start-up, multi-turn prompt reuse and crash recovery."
        ),
    )
    parser.add_argument("--model", metavar="PATH", help="GGUF model (default: the bundled one)")
    parser.add_argument(
        "--threads", type=whole_number, metavar="N", help="CPU threads (default: all)"
    )
    parser.add_argument("--quick", action="store_true", help="fewer rounds: under a minute")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    return parser


async def measure(plan: figures.Plan, settings_model: Path, threads: int | None) -> list[Figure]:
    """Every figure, in one run, with user files in a temporary folder."""
    from tui_chat.core.settings import Settings, default_threads

    settings = Settings(
        model=settings_model,
        n_ctx=4096,
        n_threads=threads or default_threads(),
        sampling=GREEDY,
        max_tokens=plan.decode_tokens,
    )
    with tempfile.TemporaryDirectory(prefix="tui-chat-bench-") as home:
        os.environ["TUI_CHAT_HOME"] = home
        paths = user_paths()
        paths.logs.mkdir(parents=True, exist_ok=True)
        raw = await asyncio.to_thread(Raw, settings.model, settings.n_ctx, settings.n_threads)
        try:
            results = await figures.all_figures(
                settings, paths, raw, plan, lambda text: print(text, file=sys.stderr)
            )
        finally:
            raw.close()
    return results


def run_bench(argv: Sequence[str]) -> int:
    """Entry point; returns the exit status."""
    from tui_chat.core.models import (
        ModelFileError,
        ModelNotFoundError,
        check_model_file,
        resolve_model,
    )

    args = build_parser().parse_args(argv)
    try:
        choice = resolve_model(args.model)
        check_model_file(choice.path)
    except (ModelNotFoundError, ModelFileError) as e:
        print(f"tui-chat bench: {e}", file=sys.stderr)
        return EXIT_USAGE
    plan = figures.Plan.quick() if args.quick else figures.Plan.full()
    print(f"tui-chat bench on {choice.path.name} ({'quick' if args.quick else 'full'} run)…",
          file=sys.stderr)  # fmt: skip
    results = asyncio.run(measure(plan, choice.path, args.threads))
    print(table(results))
    if args.json:
        context = {
            "model": str(choice.path),
            "plan": replace(plan).__dict__ if hasattr(plan, "__dict__") else str(plan),
            "machine": platform.platform(),
            "cpus": os.cpu_count(),
        }
        write_json(results, Path(args.json), context)
    missed = [f for f in results if f.met is False]
    return EXIT_FAILED if args.check and missed else EXIT_OK
