"""Imports point one way: UI -> service -> core; the worker imports llama_cpp and the core.

Each check runs in a fresh interpreter, because this test process imports everything.
"""

from __future__ import annotations

import subprocess
import sys

import pytest


def modules_after_import(*modules: str) -> set[str]:
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in modules)
        + "print('\\n'.join(sorted(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return {line.split(".")[0] for line in result.stdout.split()}


@pytest.mark.parametrize(
    "module",
    [
        "tui_chat.core.protocol",
        "tui_chat.core.conversation",
        "tui_chat.core.models",
        "tui_chat.core.settings",
        "tui_chat.core.breaker",
        "tui_chat.core.paths",
        "tui_chat.core.script",
    ],
)
def test_core_imports_neither_textual_nor_llama_cpp(module: str) -> None:
    loaded = modules_after_import(module)
    assert "textual" not in loaded
    assert "llama_cpp" not in loaded


def test_ui_process_never_imports_llama_cpp() -> None:
    loaded = modules_after_import(
        "tui_chat.cli", "tui_chat.ui.app", "tui_chat.__main__", "tui_chat.bench.command"
    )
    assert "textual" in loaded
    assert "llama_cpp" not in loaded


def test_service_does_not_import_textual() -> None:
    loaded = modules_after_import("tui_chat.service.llm_service")
    assert "textual" not in loaded
    assert "llama_cpp" not in loaded


def test_the_scripted_model_imports_neither_llama_cpp_nor_textual() -> None:
    loaded = modules_after_import("tui_chat.worker.scripted")
    assert "llama_cpp" not in loaded
    assert "textual" not in loaded


def test_worker_imports_llama_cpp_and_core_but_never_textual() -> None:
    loaded = modules_after_import("tui_chat.worker.main", "tui_chat.worker.engine")
    assert "llama_cpp" in loaded
    assert "textual" not in loaded


def test_cli_module_stays_light_for_the_spawned_worker() -> None:
    # The worker is spawned, so it re-imports the parent's main module (the tui-chat
    # script imports tui_chat.cli): that import must not drag Textual into the worker.
    loaded = modules_after_import("tui_chat.cli")
    assert "textual" not in loaded
    assert "llama_cpp" not in loaded
