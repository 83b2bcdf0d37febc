"""The typed protocol between the UI process and the model worker process.

Commands travel from the service to the worker, responses from the worker back.
Both are small frozen dataclasses, pickled over a ``multiprocessing`` pipe. Every
response that belongs to a generation names the request id it answers, so a late
token from a stopped reply can never land in the next one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from tui_chat.core.script import Script

PROTOCOL_VERSION = 2
"""Raised whenever a message changes: the worker says it at the ready handshake, and a
service of another version refuses it (tui-chat upgraded while it ran)."""

STREAM_UPDATE_SECONDS = 1 / 12
"""Shortest time between two screen updates of a streaming reply: the worker sends a
reply's tokens at most this often (with the next token after it: ~0.1 s apart on
average), and the UI draws them at most as often. Ten a second look like flowing text;
more would cost CPU the model needs."""

EXIT_SERVER_LOST = 75
"""Exit status of a worker that cannot reach its server (at load, or during a reply)."""

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One message of a conversation as the model's chat template sees it."""

    role: Role
    """Who said it."""
    content: str
    """What was said, verbatim."""


@dataclass(frozen=True, slots=True)
class Sampling:
    """How the next token is chosen."""

    temperature: float = 0.2
    """0 means greedy decoding: the same prompt always gives the same reply."""
    top_p: float = 0.9
    """Nucleus sampling threshold (ignored when greedy)."""
    top_k: int = 40
    """Only the k most likely tokens are candidates (ignored when greedy)."""
    repeat_penalty: float = 1.1
    """Penalty for tokens seen in the last 64 tokens; 1.0 turns it off."""
    seed: int | None = None
    """The random seed for this reply (None: the model's, as loaded): a reply asked for
    again gets another, so that it can differ."""


# Commands: service -> worker.


@dataclass(frozen=True, slots=True)
class LoadModel:
    """Load a GGUF model; the worker answers ``ModelLoaded`` or ``Error``."""

    path: str
    """Path of the GGUF file."""
    n_ctx: int
    """Context size in tokens; 0 means the model's training context."""
    n_threads: int
    """CPU threads for decoding and prompt processing."""
    seed: int = 0
    """Random seed for sampling."""
    server: str = ""
    """Base address of an OpenAI-compatible server to use instead of ``path``; empty:
    the local model."""
    server_model: str = ""
    """The server's model to use; empty: the first it lists."""
    api_key_env: str = ""
    """Name of the environment variable that holds the server's API key (the key itself
    never goes through the pipe)."""
    script: Script | None = None
    """A scripted model to play instead of loading one (tests and the benchmark only)."""
    resume_cache: str = ""
    """Folder for the model's state of conversations left, restored when one goes on;
    empty: none is kept."""
    resume_cache_bytes: int = 0
    """Most bytes that folder may hold."""
    gpu_layers: int = -1
    """Layers to offload to the GPU, where llama.cpp was built for one: -1 all, 0 none."""
    flash_attn: bool = False
    """Use flash attention."""
    cache_type: str = "f16"
    """The KV cache's type: f16, q8_0 or q4_0."""


@dataclass(frozen=True, slots=True)
class Generate:
    """Generate a reply to a conversation."""

    request_id: int
    """Chosen by the service; every response to this request names it."""
    messages: tuple[ChatMessage, ...]
    """The conversation so far, ending with the user's newest message (or the reply to
    go on with, see ``continues``)."""
    max_tokens: int
    """Most new tokens for this reply; the worker counts them."""
    sampling: Sampling = field(default_factory=Sampling)
    """How to choose tokens."""
    keep: int = 0
    """Leading messages that are never left out to fit the context (the system prompt)."""
    continues: bool = False
    """The newest message is the start of the model's reply (cut at the token limit or
    stopped), which it goes on writing, instead of one of the person's."""


@dataclass(frozen=True, slots=True)
class Stop:
    """Stop a generation, whether it is processing the prompt or decoding."""

    request_id: int
    """The request to stop; a stop for any other request is ignored."""


@dataclass(frozen=True, slots=True)
class CountTokens:
    """Count tokens with the model's own tokenizer; the worker answers ``TokenCounts``."""

    request_id: int
    """Chosen by the service; the answer names it."""
    texts: tuple[str, ...] = ()
    """Plain texts, counted without special tokens."""
    prompts: tuple[tuple[ChatMessage, ...], ...] = ()
    """Conversations, counted as whole prompts: chat template and generation prompt included."""


@dataclass(frozen=True, slots=True)
class Prepare:
    """A conversation was opened: make ready for its next reply by restoring the model's
    state of it kept on disk, if there is one (nothing is answered)."""

    messages: tuple[ChatMessage, ...]
    """The conversation as the model would get it."""
    max_tokens: int
    """Most new tokens of a reply (the prompt is fitted with room for them)."""
    keep: int = 0
    """Leading messages never left out (as in ``Generate``)."""


@dataclass(frozen=True, slots=True)
class ClearContext:
    """Forget the model context (the KV cache); the next prompt is evaluated afresh."""


@dataclass(frozen=True, slots=True)
class Shutdown:
    """Free the model and exit."""


Command = LoadModel | Generate | CountTokens | Stop | Prepare | ClearContext | Shutdown


# Responses: worker -> service.


@dataclass(frozen=True, slots=True)
class WorkerReady:
    """The first message of every worker: its pipe works and it takes commands."""

    protocol: int = PROTOCOL_VERSION
    """The protocol version the worker speaks."""


@dataclass(frozen=True, slots=True)
class LoadProgress:
    """How far model loading has come."""

    fraction: float
    """From 0.0 to 1.0."""


@dataclass(frozen=True, slots=True)
class ModelLoaded:
    """The model is loaded and ready to generate."""

    name: str
    """The model file's name without ``.gguf``: what the person chose, quantisation included."""
    n_ctx: int
    """The context size in use, in tokens."""
    estimated: bool = False
    """Token counts are estimated from the text (a server that does not say them)."""
    placement: str = ""
    """Where the model runs, as llama.cpp reported it: ``CPU``, ``GPU 31/31 layers``
    (empty: a server's model)."""
    note: str = ""
    """Something the person should know about the load (fewer GPU layers than asked)."""


@dataclass(frozen=True, slots=True)
class Token:
    """A piece of reply text: whole characters only, never half a UTF-8 sequence.

    The worker sends the first token of a reply at once and gathers the ones after it
    for a few tens of milliseconds: each message wakes the UI process, whose CPU time
    on a small machine is taken from the model.
    """

    request_id: int
    """The request this text belongs to."""
    text: str
    """The text of one or more tokens."""
    count: int = 1
    """How many tokens the text holds."""


@dataclass(frozen=True, slots=True)
class PromptProgress:
    """How much of a long prompt the model has read (sent after each batch)."""

    request_id: int
    """The request whose prompt is being read."""
    done: int
    """Prompt tokens evaluated so far (not counting those reused from the last turn)."""
    total: int
    """Prompt tokens to evaluate in all."""


@dataclass(frozen=True, slots=True)
class TokenCounts:
    """The answer to ``CountTokens``, in the same order."""

    request_id: int
    """The request this answers."""
    texts: tuple[int, ...]
    """Token count of each text."""
    prompts: tuple[int, ...]
    """Token count of each whole prompt."""


@dataclass(frozen=True, slots=True)
class ContextTrimmed:
    """The conversation did not fit: its oldest messages were left out of the prompt."""

    request_id: int
    """The request whose prompt was trimmed."""
    dropped: int
    """How many messages, counted after the kept ones, were left out."""


class DoneReason(StrEnum):
    """Why a reply ended."""

    FINISHED = "finished"
    """The model ended its turn."""
    STOPPED = "stopped"
    """The person stopped it."""
    LENGTH = "length"
    """The token limit or the context size was reached."""
    INTERRUPTED = "interrupted"
    """The worker died mid-reply (set by the service, never by the worker)."""
    ERROR = "error"
    """The request failed; an ``Error`` naming it came just before."""


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts and timings of one reply."""

    prompt_tokens: int = 0
    """Tokens in the whole prompt."""
    cached_tokens: int = 0
    """Prompt tokens reused from the previous turn's context (not evaluated again)."""
    completion_tokens: int = 0
    """Tokens generated."""
    prompt_seconds: float = 0.0
    """Time from the request to the first generated token."""
    decode_seconds: float = 0.0
    """Time from the first generated token to the last."""
    estimated: bool = False
    """The token counts are estimated from the text (a server that did not give them)."""
    thinking_tokens: int = 0
    """Of the tokens generated, those a reasoning model thought with before it answered."""

    @property
    def tokens_per_second(self) -> float:
        """Decode speed; 0.0 when fewer than two tokens were generated."""
        if self.completion_tokens < 2 or self.decode_seconds <= 0:
            return 0.0
        return (self.completion_tokens - 1) / self.decode_seconds


@dataclass(frozen=True, slots=True)
class Done:
    """A reply ended; no further ``Token`` for this request follows."""

    request_id: int
    """The request that ended."""
    reason: DoneReason
    """Why it ended."""
    usage: Usage = field(default_factory=Usage)
    """Counts and timings."""


class ErrorKind(StrEnum):
    """Which step failed."""

    LOAD = "load"
    """The model could not be loaded; retrying the same file will not help."""
    GENERATE = "generate"
    """A request failed (for example the prompt does not fit the context)."""
    SERVER = "server"
    """The server cannot be reached or failed; the worker exits with
    ``EXIT_SERVER_LOST`` and is started again through the crash breaker."""
    PROTOCOL = "protocol"
    """The worker got a command it cannot handle."""


@dataclass(frozen=True, slots=True)
class Error:
    """Something failed without killing the worker."""

    kind: ErrorKind
    """Which step failed."""
    message: str
    """A sentence for a person, naming what is wrong."""
    request_id: int | None = None
    """The request that failed, if any; a ``Done`` for it follows."""


Response = (
    WorkerReady
    | LoadProgress
    | ModelLoaded
    | PromptProgress
    | ContextTrimmed
    | Token
    | TokenCounts
    | Done
    | Error
)
