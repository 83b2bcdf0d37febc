"""Run-time settings of one tui-chat session."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui_chat.core.options import OPTIONS, Value
from tui_chat.core.protocol import LoadModel, Sampling
from tui_chat.core.translation import DEFAULT_TEMPLATE, MAX_CHUNK_TOKENS

if TYPE_CHECKING:
    from tui_chat.core.script import Script

DEFAULT_CTX = 4096
DEFAULT_MAX_TOKENS = 1024
DEFAULT_CRASH_LIMIT = 3
DEFAULT_TRANSLATION_LANGUAGE = "English"
DEFAULT_RESUME_CACHE_MB = 2048


def default_threads() -> int:
    """All cores this process may run on (llama-cpp-python's own default is half)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


DEFAULT_API_KEY_ENV = "OPENAI_API_KEY"
"""Where a server's API key is looked for, unless the settings name another variable."""


STREAM_CPU_BUDGET = 0.08
"""Share of one core the UI may use while a reply streams: ten screen updates a second
fit in it on a small machine (docs/performance.md)."""


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
    model_dirs: str = ""
    """More folders of GGUF models that ``tui-chat models`` looks in, separated by commas."""
    gpu_layers: str = "all"
    """Layers of the model on the GPU: ``all`` or a number (0: the CPU only); a build of
    llama.cpp without a GPU runs all on the CPU whatever it says."""
    flash_attn: str = "off"
    """Flash attention, ``on`` or ``off``."""
    cache_type: str = "f16"
    """What the model's memory of the context is kept in (``CACHE_TYPES``)."""
    show_thinking: str = "fold"
    """A reasoning model's thinking: ``fold`` (a line a click unfolds) or ``hide``."""
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
    stream_cpu_budget: float = STREAM_CPU_BUDGET
    """Share of one core the UI may use while a reply streams, so that it takes almost
    nothing from the model's threads; 0: no limit (ten screen updates a second)."""
    resume_cache_mb: int = DEFAULT_RESUME_CACHE_MB
    """Disk space for the model's saved memory of conversations (0: none is kept)."""
    resume_cache: Path | None = None
    """Where that memory is kept (set from the user's paths; None: nowhere)."""
    script: Script | None = None
    """A scripted model in place of ``model`` (see ``core.script``): set by the tests and
    the benchmark only; no option, settings-file key or dialog reaches it."""

    def load_command(self) -> LoadModel:
        """What a worker is told to load: the model file, or the server, or the script."""
        return LoadModel(
            str(self.model),
            self.n_ctx,
            self.n_threads,
            self.seed,
            server=self.server,
            server_model=self.server_model,
            api_key_env=self.api_key_env if self.server else "",
            script=self.script,
            resume_cache=str(self.resume_cache or "") if self.resume_cache_mb else "",
            resume_cache_bytes=self.resume_cache_mb * 1024 * 1024,
            gpu_layers=-1 if self.gpu_layers.strip().lower() == "all" else int(self.gpu_layers),
            flash_attn=self.flash_attn == "on",
            cache_type=self.cache_type,
        )

    def values(self) -> dict[str, Value]:
        """The settings as the settings file names them: every key of ``OPTIONS``."""
        return {key: _plain(_get(self, option.field)) for key, option in OPTIONS.items()}

    def with_values(self, values: Mapping[str, Value]) -> Settings:
        """These settings with ``values`` (named as in the settings file) in place."""
        changed: Settings = self
        for key, value in values.items():
            changed = _set(changed, OPTIONS[key].field, _typed(key, value))
        return changed


def settings_from(model: Path, values: Mapping[str, Value], seed: int = 0) -> Settings:
    """Settings from values named as in the settings file (missing ones: defaults)."""
    others = {key: value for key, value in values.items() if key != "model"}
    return Settings(model=model, seed=seed).with_values(others)


def _typed(key: str, value: Value) -> Any:
    if key == "model":
        return Path(str(value)).expanduser()
    if key == "gpu_layers":
        return str(value).strip().lower()
    return OPTIONS[key].kind(value)


def _plain(value: object) -> Value:
    return str(value) if isinstance(value, Path) else value  # type: ignore[return-value]


def _get(settings: Settings, field_path: str) -> Any:
    value: Any = settings
    for name in field_path.split("."):
        value = getattr(value, name)
    return value


def _set(owner: Any, field_path: str, value: object) -> Any:
    name, _, rest = field_path.partition(".")
    if rest:
        value = _set(getattr(owner, name), rest, value)
    return replace(owner, **{name: value})
