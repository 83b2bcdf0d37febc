"""Run-time settings of one tui-chat session."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui_chat.core.protocol import Sampling
from tui_chat.core.translation import DEFAULT_TEMPLATE, MAX_CHUNK_TOKENS

if TYPE_CHECKING:
    from tui_chat.core.script import Script

DEFAULT_CTX = 4096
DEFAULT_MAX_TOKENS = 1024
DEFAULT_CRASH_LIMIT = 3
DEFAULT_TRANSLATION_LANGUAGE = "English"


def default_threads() -> int:
    """All cores this process may run on (llama-cpp-python's own default is half)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


DEFAULT_API_KEY_ENV = "OPENAI_API_KEY"
"""Where a server's API key is looked for, unless the settings name another variable."""


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
    system_prompt: str = ""
    """Instructions sent before every conversation; empty uses the chat template's own."""
    translation_language: str = DEFAULT_TRANSLATION_LANGUAGE
    """The language the Translate view starts with."""
    translation_chunk_tokens: int = MAX_CHUNK_TOKENS
    """Most tokens of text translated at once."""
    server: str = ""
    """An OpenAI-compatible server (``http://host:port``) to chat with instead of the
    local model; empty: the local model."""
    server_model: str = ""
    """The server's model; empty: the first it lists."""
    api_key_env: str = DEFAULT_API_KEY_ENV
    """The environment variable holding the server's API key (read by the worker only)."""
    stream_cpu_budget: float = 0.02
    """Share of one core the UI may use while a reply streams, so that it takes almost
    nothing from the model's threads; 0 updates the screen ten times a second."""
    script: Script | None = None
    """A scripted model in place of ``model`` (see ``core.script``): set by the tests and
    the benchmark only; no option, settings-file key or dialog reaches it."""

    def values(self) -> dict[str, str | int | float]:
        """The settings as the settings file names them."""
        return {
            "model": str(self.model),
            "ctx": self.n_ctx,
            "threads": self.n_threads,
            "system_prompt": self.system_prompt,
            "temperature": self.sampling.temperature,
            "top_p": self.sampling.top_p,
            "max_tokens": self.max_tokens,
            "crash_limit": self.crash_limit,
            "translation_language": self.translation_language,
            "translation_prompt": self.translation_template,
            "server": self.server,
            "server_model": self.server_model,
        }


def settings_from(model: Path, values: Mapping[str, str | int | float], seed: int = 0) -> Settings:
    """Settings from values named as in the settings file (missing ones: defaults)."""
    defaults = Settings(model=model)

    def get(key: str, default: object) -> Any:
        return values.get(key, default)

    return Settings(
        model=model,
        n_ctx=get("ctx", defaults.n_ctx),
        n_threads=get("threads", defaults.n_threads),
        max_tokens=get("max_tokens", defaults.max_tokens),
        sampling=Sampling(
            temperature=get("temperature", defaults.sampling.temperature),
            top_p=get("top_p", defaults.sampling.top_p),
        ),
        seed=seed,
        crash_limit=get("crash_limit", defaults.crash_limit),
        translation_template=get("translation_prompt", defaults.translation_template),
        system_prompt=get("system_prompt", defaults.system_prompt),
        translation_language=get("translation_language", defaults.translation_language),
        translation_chunk_tokens=get("translation_chunk_tokens", defaults.translation_chunk_tokens),
        server=get("server", defaults.server),
        server_model=get("server_model", defaults.server_model),
        api_key_env=get("api_key_env", defaults.api_key_env),
    )
