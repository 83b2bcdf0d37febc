"""The benchmark runs and reports every figure (its targets are checked by `make bench`,
not here: test machines are noisy)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.model

TUI_CHAT = str(Path(sys.executable).with_name("tui-chat"))
FIGURES = [
    "decode speed, app / raw llama-cpp-python",
    "time to first token, app minus raw",
    "stop latency while decoding, p95",
    "stop latency while reading a 2,000-token prompt, p95",
    "UI CPU per token, last / first tenth of a long reply",
    "sustained UI rate",
    "time between screen updates of a streaming reply, p50",
    "time between screen updates of a streaming reply, p95",
    "UI CPU per screen update of a streaming reply, p95",
    "UI CPU per token of a streaming reply",
    "tokens per second on screen / the server's, through a server",
    "start-up to the input ready",
    "start-up, tui-chat / bare Textual app",
    "UI process resident memory",
    "tui-chat models, five tools' folders",
]


@pytest.mark.timeout(300)  # the quick bench runs every figure once: about two minutes
def test_quick_bench_reports_every_figure(tmp_path: Path) -> None:
    report = tmp_path / "bench.json"
    result = subprocess.run(
        [TUI_CHAT, "bench", "--quick", "--json", str(report)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(report.read_text())
    names = [f["name"] for f in document["figures"]]
    for name in FIGURES:
        assert name in names, name
    assert any(n.startswith("time to first token, turn ") for n in names)
    assert "crash recovery minus cold worker start" in names
    for figure in document["figures"]:
        assert math.isfinite(figure["value"]), f"{figure['name']} is not a number"
        assert figure["target"] is not None
    for name in FIGURES:
        assert name in result.stdout, "the table lacks a figure"
