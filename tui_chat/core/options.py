"""Every setting, once: its key in the settings file, its type and range, the field of
``Settings`` it sets, its command-line option and its label in the settings screen (F3).

The settings file's reader and writer, ``Settings``, the command line and F3 are built
from this table; nothing else spells a setting out.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from tui_chat.core.translation import MAX_CHUNK_TOKENS, MIN_CHUNK_TOKENS, TARGET, TEXT

Value = str | int | float


@dataclass(frozen=True, slots=True)
class Option:
    """One setting."""

    kind: type
    """``str``, ``int`` or ``float`` (an integer is accepted for a float)."""
    check: Callable[[Value], str]
    """Returns what is wrong with a value ("must be 1 or more"), or "" when it is fine."""
    help: str
    """What the setting does, for the command line's help and the settings file."""
    field: str = ""
    """The ``Settings`` field it sets (``sampling.temperature`` for a nested one)."""
    flag: str = ""
    """Its command-line option of the app, if it has one."""
    metavar: str = "N"
    """What the option's value is called in the help."""
    label: str = ""
    """Its label in the settings screen, if the screen shows it."""
    default_said: str = ""
    """Its default in words, where its value would not say it (the bundled model)."""
    multiline: bool = False
    """Its text may hold several lines (an editor rather than one line in the screen)."""
    numbers_as_text: bool = False
    """A text setting that the settings file may also give as a number (``gpu_layers = 20``)."""


def at_least(low: int, meaning: str = "") -> Callable[[Value], str]:
    """A number of ``low`` or more (``meaning`` says what ``low`` stands for)."""
    said = f"must be {low}{f' ({meaning})' if meaning else ''} or more"
    return lambda v: "" if v >= low else said  # type: ignore[operator]


def between(low: float, high: float, *, open_low: bool = False) -> Callable[[Value], str]:
    """A number from ``low`` (or above it) to ``high``."""

    def check(v: Value) -> str:
        assert isinstance(v, int | float)
        ok = (low < v if open_low else low <= v) and v <= high and math.isfinite(v)
        bracket = "(" if open_low else "["
        return "" if ok else f"must be in {bracket}{low}, {high}]"

    return check


def anything(_v: Value) -> str:
    """Any text."""
    return ""


def not_blank(v: Value) -> str:
    """Text that is not empty."""
    return "" if str(v).strip() else "must not be empty"


def server_address(v: Value) -> str:
    """An http(s) address, or empty for the local model."""
    text = str(v).strip()
    if not text:
        return ""
    # Imported only when a server is set: start-up is shorter for everybody else.
    from tui_chat.core.openai_api import address_problem

    return address_problem(text)


def env_name(v: Value) -> str:
    """An environment variable's name."""
    text = str(v)
    if text and text.replace("_", "a").isalnum() and not text[0].isdigit():
        return ""
    return "must be an environment variable's name, e.g. OPENAI_API_KEY"


def gpu_layers(v: Value) -> str:
    """``all``, or a number of layers (0: none)."""
    text = str(v).strip().lower()
    if text == "all" or (text.isdigit() and text.isascii() and int(text) <= MAX_GPU_LAYERS):
        return ""
    return f"must be all or a number of layers up to {MAX_GPU_LAYERS:,} (0: the CPU only)"


MAX_GPU_LAYERS = 100_000
"""More than any model has (llama.cpp takes the count as a 32-bit integer)."""


CACHE_TYPES = ("f16", "q8_0", "q4_0")
"""The types the model's memory of the context (its KV cache) may be kept in."""


def one_of(*choices: str) -> Callable[[Value], str]:
    """One of ``choices``."""
    said = f"must be one of {', '.join(choices)}"
    return lambda v: "" if str(v) in choices else said


def template(v: Value) -> str:
    """A translation instruction with its placeholders."""
    missing = [p for p in (TARGET, TEXT) if p not in str(v)]
    return f"must contain {' and '.join(missing)}" if missing else ""


OPTIONS: dict[str, Option] = {
    "model": Option(
        str, not_blank, "GGUF model file", "model", "--model", "PATH",
        "Model file (a GGUF file; loads when saved)", "the bundled SmolLM2-135M",
    ),
    "server": Option(
        str, server_address,
        "chat with the model of an OpenAI-compatible server (llama.cpp, vLLM, Ollama) instead "
        "of a local one, e.g. http://127.0.0.1:8080; its API key is read from "
        "$OPENAI_API_KEY or the variable the settings name",
        "server", "--server", "URL",
        "Server instead of the model file (http://host:port; empty: the file)",
    ),
    "server_model": Option(
        str, anything, "the server's model", "server_model", "--server-model", "NAME",
        "The server's model (empty: the first it lists)", "the first it lists",
    ),
    "api_key_env": Option(
        str, env_name, "environment variable that holds the server's API key", "api_key_env"
    ),
    "model_dirs": Option(
        str, anything,
        "more folders of GGUF models for tui-chat models, separated by commas",
        "model_dirs",
    ),
    "ctx": Option(
        int, at_least(0, "the model's own"), "context size in tokens; 0 uses the model's own",
        "n_ctx", "--ctx", "N", "Context size in tokens (loads the model again)",
    ),
    "threads": Option(
        int, at_least(1), "CPU threads for the model", "n_threads", "--threads", "N",
        "CPU threads (loads the model again)", "all cores",
    ),
    "gpu_layers": Option(
        str, gpu_layers,
        "layers of the model to run on the GPU: all, or a number (0: the CPU only); "
        "ignored by a llama.cpp built for the CPU only",
        "gpu_layers", "--gpu-layers", "N|all",
        "GPU layers (all, or a number; loads the model again)",
        numbers_as_text=True,
    ),
    "flash_attn": Option(
        str, one_of("on", "off"),
        "flash attention: less memory and faster long contexts where the build has it",
        "flash_attn", "--flash-attn", "on|off",
        "Flash attention, on or off (loads the model again)",
    ),
    "cache_type": Option(
        str, one_of(*CACHE_TYPES),
        "what the model's memory of the context is kept in: f16, or q8_0 / q4_0 for a "
        "half / a quarter of the memory (these need flash attention)",
        "cache_type", "--cache-type", "TYPE",
        "KV cache type: f16, q8_0, q4_0 (loads the model again)",
    ),
    "show_thinking": Option(
        str, one_of("fold", "hide"),
        "a reasoning model's thinking before its answer: fold (a line; a click shows it) "
        "or hide (not shown at all)",
        "show_thinking",
    ),
    "crash_limit": Option(
        int, at_least(1),
        "consecutive model-worker crashes after which tui-chat stops restarting it",
        "crash_limit", "--crash-limit",
    ),
    "system_prompt": Option(
        str, anything, "instructions sent before every conversation", "system_prompt",
        label="System prompt (for new conversations; empty: the model's own)", multiline=True,
    ),
    "temperature": Option(
        float, between(0.0, 2.0), "sampling temperature, 0 for greedy",
        "sampling.temperature", "--temperature", "T", "Temperature (0 = greedy)",
    ),
    "top_p": Option(
        float, between(0.0, 1.0, open_low=True), "nucleus sampling threshold",
        "sampling.top_p", label="Top p",
    ),
    "max_tokens": Option(
        int, at_least(1), "most tokens in one answer (a model's thinking aside)",
        "max_tokens", "--max-tokens", "N", "Most tokens in an answer",
    ),
    "resume_cache_mb": Option(
        int, at_least(0, "off"),
        "disk space (MB) for the model's memory of conversations left, so that they go on "
        "without being read again; the least recently used go first; 0 keeps none",
        "resume_cache_mb",
    ),
    "translation_language": Option(
        str, not_blank, "the language the Translate view starts with",
        "translation_language", label="Translate into (at the next start)",
    ),
    "translation_chunk_tokens": Option(
        int, at_least(MIN_CHUNK_TOKENS), "most tokens of text translated at once",
        "translation_chunk_tokens", "--chunk-tokens",
        default_said=f"{MAX_CHUNK_TOKENS}, a paragraph or two",
    ),
    "translation_prompt": Option(
        str, template, "translation instruction with {target}, {text} (and {source})",
        "translation_template", multiline=True,
    ),
}  # fmt: skip
"""Every setting, by its key in the settings file, in the order the file lists them."""

SCREEN_ORDER = (
    "system_prompt", "temperature", "top_p", "max_tokens", "translation_language", "ctx",
    "threads", "gpu_layers", "flash_attn", "cache_type", "model", "server", "server_model",
)  # fmt: skip
"""The settings the settings screen shows, in its order."""

CONVERSATION_KEYS = ("temperature", "top_p", "max_tokens")
"""The settings a conversation may have of its own (besides its system prompt)."""


def parse(key: str, text: str) -> Value:
    """A setting's value from the words a person typed.

    Raises:
        ValueError: Not of the setting's type or out of its range, said in words
            ("must be a whole number, got 'abc'", "must be 1 or more, got 0").
    """
    option = OPTIONS[key]
    value: Value
    try:
        value = option.kind(text.strip() if not option.multiline else text)
    except ValueError:
        what = {int: "a whole number", float: "a number"}[option.kind]
        raise ValueError(f"must be {what}, got {text!r}") from None
    problem = option.check(value)
    if problem:
        raise ValueError(f"{problem}, got {value!r}")
    return value
