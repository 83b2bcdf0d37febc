"""What ``make run GPU=…`` runs (``make -n``: printed, nothing run), for machines this
one is not: a GPU build of llama-cpp-python, compiled before the app is installed."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def _dry_run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "make",
            "-n",
            "--no-print-directory",
            "-C",
            str(ROOT),
            "run",
            f"VENV={tmp_path / 'venv'}",
            *args,
        ],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    ("gpu", "cmake"),
    [
        ("cuda", "-DGGML_CUDA=on"),
        ("metal", "-DGGML_METAL=on"),
        ("vulkan", "-DGGML_VULKAN=on"),
        ("rocm", "-DGGML_HIP=on"),
    ],
)
def test_a_gpu_build_is_compiled_without_pip_s_cached_cpu_wheel(
    tmp_path: Path, gpu: str, cmake: str
) -> None:
    done = _dry_run(tmp_path, f"GPU={gpu}")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.replace("\\\n", " ").splitlines()
    pinned = next(
        d
        for d in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
        if d.startswith("llama-cpp-python==")
    )
    build = next(n for n, line in enumerate(lines) if f'CMAKE_ARGS="{cmake}"' in line)
    command = lines[build].split()
    assert {"--force-reinstall", "--no-cache-dir", "--no-deps"} <= set(command)
    assert f'"{pinned}"' in command
    app = next(n for n, line in enumerate(lines) if "pip install" in line and " -e ." in line)
    assert build < app, "the app's install finds the GPU build there"
    assert lines[-1].strip().endswith("/bin/tui-chat")


def test_without_gpu_nothing_is_compiled_for_one(tmp_path: Path) -> None:
    done = _dry_run(tmp_path)
    assert done.returncode == 0, done.stderr
    assert "CMAKE_ARGS" not in done.stdout


def test_an_unknown_gpu_is_refused_with_the_choices(tmp_path: Path) -> None:
    done = _dry_run(tmp_path, "GPU=opencl")
    assert done.returncode != 0
    assert "GPU=opencl: choose one of cuda, metal, vulkan, rocm" in done.stderr
