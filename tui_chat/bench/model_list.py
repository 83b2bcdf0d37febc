"""The figure for ``tui-chat models``: a home with a model in each of the five tools'
layouts (the Hugging Face cache, LM Studio, Ollama, llama.cpp's cache, ``~/models``),
listed by the command as a person runs it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tui_chat.bench.report import Figure, median_figure


def _place(model: Path, target: Path) -> None:
    """The model at ``target``: a hard link where the file system allows it, else a copy
    (five distinct files: the command lists a file once however many paths reach it)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(model, target)
    except OSError:
        shutil.copyfile(model, target)


def five_tools(model: Path, home: Path) -> None:
    """A copy of ``model`` in each tool's layout under ``home``."""
    hub = home / ".cache/huggingface/hub/models--owner--Model-GGUF"
    _place(model, hub / "blobs/5e1f")
    snapshot = hub / "snapshots/0abc/Model-Q4_1.gguf"
    snapshot.parent.mkdir(parents=True)
    snapshot.symlink_to("../../blobs/5e1f")
    _place(model, home / ".lmstudio/models/owner/Model-GGUF/Model-Q4_1.gguf")
    ollama = home / ".ollama/models"
    digest = "7" * 64
    _place(model, ollama / "blobs" / f"sha256-{digest}")
    manifest = ollama / "manifests/registry.ollama.ai/library/model/latest"
    manifest.parent.mkdir(parents=True)
    layer = {
        "mediaType": "application/vnd.ollama.image.model",
        "digest": f"sha256:{digest}",
    }
    manifest.write_text(json.dumps({"layers": [layer]}))
    _place(model, home / ".cache/llama.cpp/owner_Model-GGUF_Model-Q4_1.gguf")
    _place(model, home / "models/Model-Q4_1.gguf")


def models_figure(model: Path, runs: int) -> list[Figure]:
    """The time ``tui-chat models`` takes to list a model in each of five layouts."""
    command = [str(Path(sys.executable).with_name("tui-chat")), "models", "--json"]
    seconds: list[float] = []
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder) / "home"
        five_tools(model, home)
        env = {**os.environ, "HOME": str(home), "TUI_CHAT_HOME": str(Path(folder) / "tui")}
        for key in ("HF_HOME", "HF_HUB_CACHE", "OLLAMA_MODELS", "LLAMA_CACHE"):
            env.pop(key, None)
        for _ in range(runs):
            started = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
            seconds.append(time.perf_counter() - started)
            listed = [json.loads(line)["source"] for line in done.stdout.splitlines()]
            if len([s for s in listed if s != "bundled"]) != 5:
                raise RuntimeError(f"tui-chat models listed {listed}, not the five layouts")
    note = "a model in each of five tools' folders, the command as run"
    return [median_figure("tui-chat models, five tools' folders", seconds, "s", 0.5, note=note)]
