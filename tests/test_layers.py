"""What only running code shows about the layers: the modules a fresh interpreter loads.

Which module may import which is checked on the source by import-linter's contracts
(pyproject.toml, run by make check and make test). These checks run in a fresh
interpreter, because this test process imports everything.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def loaded_after_import(*modules: str) -> set[str]:
    """Every module a fresh interpreter holds after importing ``modules``."""
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in modules)
        + "print('\\n'.join(sorted(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return set(result.stdout.split())


def modules_after_import(*modules: str) -> set[str]:
    """The top-level packages a fresh interpreter holds after importing ``modules``."""
    return {name.split(".")[0] for name in loaded_after_import(*modules)}


def test_ui_process_never_imports_llama_cpp() -> None:
    loaded = modules_after_import(
        "tui_chat.cli",
        "tui_chat.ui.app",
        "tui_chat.__main__",
        "tui_chat.commands.bench",
        "tui_chat.commands.chat",
    )
    assert "textual" in loaded
    assert "llama_cpp" not in loaded


def test_the_app_starts_without_importlib_metadata() -> None:
    """It brings the email, csv and zipfile modules with it: a start-up cost the
    benchmark sees (tui_chat reads versions without it)."""
    loaded = modules_after_import("tui_chat.cli", "tui_chat.commands.chat", "tui_chat.ui.app")
    assert "email" not in loaded
    assert "zipfile" not in loaded


def test_opening_a_conversation_at_start_brings_no_export_code() -> None:
    """``--open`` and ``--continue`` find the conversation with this module before the
    first frame: exporting's JSON and dates wait for ``tui-chat export``."""
    loaded = loaded_after_import("tui_chat.commands.chat", "tui_chat.commands.conversations")
    assert "tui_chat.core.store" in loaded
    assert "tui_chat.core.export" not in loaded


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


def test_textual_is_the_version_the_compat_module_was_written_for() -> None:
    """An upgrade of Textual must look again at every workaround in textual_compat."""
    from importlib.metadata import version

    from tui_chat.ui.textual_compat import WRITTEN_FOR, installed_textual

    assert version("textual") == WRITTEN_FOR
    assert installed_textual() == version("textual"), "the check at start-up reads it wrong"


PRIVATE_TEXTUAL = ("textual._", "_size_updated", "_fatal_error", "_handle_exception",
                   "XTermParser")  # fmt: skip


def test_textuals_private_api_is_reached_from_one_module_only() -> None:
    package = Path(__file__).parent.parent / "tui_chat"
    reaching = sorted(
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if path.name != "textual_compat.py"
        and any(name in path.read_text() for name in PRIVATE_TEXTUAL)
    )
    assert reaching == []
