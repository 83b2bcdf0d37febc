"""``tui-chat models``: the GGUF models already on this machine (``core.model_files``)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from tui_chat.commands.common import EXIT_OK, EXIT_USAGE, home_problem, load_config
from tui_chat.core.model_files import FoundModel, find_models, model_folders, size_said
from tui_chat.core.paths import user_paths
from tui_chat.core.visible import visible


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tui-chat models",
        description=(
            "List the GGUF models already on this machine: the Hugging Face cache "
            "($HF_HUB_CACHE, $HF_HOME), LM Studio, Ollama ($OLLAMA_MODELS), llama.cpp's "
            "cache ($LLAMA_CACHE), ~/models and the settings' model_dirs. Read from each "
            "file's header, without loading it. Use one with tui-chat --model PATH."
        ),
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per model")
    parser.add_argument(
        "--where", action="store_true", help="print the folders looked in, and exit"
    )
    return parser


def _row(model: FoundModel) -> list[str]:
    header = model.header
    return [
        visible(model.name),
        header.quantization or "?",
        size_said(model.size),
        f"{header.context_length:,}" if header.context_length else "?",
        "yes" if header.chat_template else "no",
        model.source,
    ]


def run_models(argv: Sequence[str]) -> int:
    """List the models found; returns the exit status."""
    args = build_parser().parse_args(argv)
    problem = home_problem()
    if problem:
        print(f"tui-chat: {problem}", file=sys.stderr)
        return EXIT_USAGE
    values = load_config(user_paths())
    if values is None:
        return EXIT_USAGE
    dirs = str(values.get("model_dirs", ""))
    if args.where:
        for source, folder in model_folders(os.environ, Path.home(), dirs):
            print(f"{source}\t{folder}")
        return EXIT_OK
    models = find_models(model_dirs=dirs)
    if args.json:
        for m in models:
            h = m.header
            print(json.dumps({
                "name": m.name, "path": str(m.path), "source": m.source, "size": m.size,
                "quantization": h.quantization, "context_length": h.context_length,
                "chat_template": h.chat_template, "architecture": h.architecture,
                "parts": h.split_count,
            }))  # fmt: skip
        return EXIT_OK
    if not models:
        print(
            "No GGUF models found (tui-chat models --where lists the folders looked in). "
            "The bundled one is always there: tui-chat runs it by default."
        )
        return EXIT_OK
    rows = [["MODEL", "QUANT", "SIZE", "CONTEXT", "TEMPLATE", "FROM"], *map(_row, models)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
        if n:
            print(f"  {visible(str(models[n - 1].path))}")
    return EXIT_OK
