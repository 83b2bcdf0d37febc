"""Run-time settings of one tui-chat session."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from tui_chat.core.protocol import Sampling
from tui_chat.core.translation import DEFAULT_TEMPLATE

DEFAULT_CTX = 4096
DEFAULT_MAX_TOKENS = 1024
DEFAULT_CRASH_LIMIT = 3


def default_threads() -> int:
    """All cores this process may run on (llama-cpp-python's own default is half)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a session needs to start the model and generate."""

    model: Path
    """The GGUF file."""
    n_ctx: int = DEFAULT_CTX
    """Context size in tokens; 0 means the model's training context."""
    n_threads: int = field(default_factory=default_threads)
    """CPU threads for the model."""
    max_tokens: int = DEFAULT_MAX_TOKENS
    """Most new tokens per reply."""
    sampling: Sampling = field(default_factory=Sampling)
    """How tokens are chosen."""
    seed: int = 0
    """Sampling seed."""
    crash_limit: int = DEFAULT_CRASH_LIMIT
    """Consecutive worker crashes after which no restart is tried."""
    translation_template: str = DEFAULT_TEMPLATE
    """The translation instruction, with ``{target}``, ``{source}`` and ``{text}``."""
