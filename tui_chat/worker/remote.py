"""A model behind an OpenAI-compatible server (llama.cpp's server, vLLM, Ollama, a hosted
endpoint): the worker's second backend, chosen when the model is loaded.

Replies stream from ``POST {base}/v1/chat/completions`` as server-sent events. The server
keeps no state of ours: every request carries the whole conversation. Esc closes the
stream, and the server stops generating when its client goes away.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

import httpx

from tui_chat.core.openai_api import (
    ServerError,
    address_problem,
    client,
    context_size,
    describe,
    error_message,
    hide,
    list_models,
    sse_data,
    status_error,
    transient_status,
)
from tui_chat.core.protocol import (
    ChatMessage,
    DoneReason,
    Generate,
    LoadModel,
    ModelLoaded,
    Prepare,
    Usage,
)
from tui_chat.worker.fitting import fit_messages
from tui_chat.worker.results import (
    GenerationResult,
    LoadError,
    RequestError,
    ServerLost,
    ServerUnavailable,
)

DEFAULT_SERVER_CTX = 4096
"""Context size assumed when the server does not say and none was set."""
CHARS_PER_TOKEN = 4
"""For token counts the server does not give: an estimate, about right for English."""


class _StopFlag(threading.Event):
    """Set from the command thread; also closes the open stream, so that a read waiting
    on the server returns at once."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._closing: Callable[[], None] | None = None

    def watch(self, close: Callable[[], None] | None) -> None:
        """Call ``close`` when the flag is set (None: stop watching)."""
        with self._lock:
            self._closing = close
        if close is not None and self.is_set():
            close()

    def set(self) -> None:
        super().set()
        with self._lock:
            close = self._closing
        if close is not None:
            close()


class RemoteEngine:
    """A model on an OpenAI-compatible server, with the local engine's interface."""

    def __init__(
        self,
        client: httpx.Client,
        command: LoadModel,
        model: str,
        n_ctx: int,
        seconds: float,
        key: str = "",
    ) -> None:
        self._client = client
        self._key = key
        self._command = command
        self._model = model
        self._n_ctx = n_ctx
        self._seconds = seconds
        self._stop = _StopFlag()

    @classmethod
    def load(cls, command: LoadModel, on_progress: Callable[[float], None]) -> RemoteEngine:
        """Connect to the server and choose the model.

        Raises:
            ServerUnavailable: The server cannot be reached now, or fails to answer.
            LoadError: The server refuses (a wrong key) or has no such model.
        """
        started = time.perf_counter()
        base = command.server.rstrip("/")
        key = os.environ.get(command.api_key_env, "") if command.api_key_env else ""
        problem = address_problem(base)
        if problem:
            raise LoadError(f"The server address {base!r} {problem}")
        http = client(base, key)
        try:
            try:
                models = {m.id: m for m in list_models(http, base)}
            except ServerError as e:
                raise (ServerUnavailable if e.transient else LoadError)(str(e)) from None
            if command.server_model and command.server_model not in models:
                offered = ", ".join(models) or "none"
                raise LoadError(
                    f"The server at {base} has no model {command.server_model} "
                    f"(it offers: {offered})"
                )
            model = command.server_model or next(iter(models), "")
            if not model:
                raise LoadError(f"The server at {base} lists no models")
            # The context the server runs with (llama.cpp's /props), else the model's
            # as listed (vLLM), else the setting.
            n_ctx = (
                context_size(http) or models[model].context or command.n_ctx or DEFAULT_SERVER_CTX
            )
        except LoadError:
            http.close()
            raise
        on_progress(1.0)
        return cls(http, command, model, n_ctx, time.perf_counter() - started, key)

    @property
    def stop_event(self) -> threading.Event:
        """Set from any thread to stop the reply in progress."""
        return self._stop

    def info(self) -> ModelLoaded:
        """The server's model, as the service and the UI need to know it."""
        host = urlsplit(self._command.server).netloc or self._command.server
        short = self._model.rstrip("/").rsplit("/", 1)[-1]  # some servers list file paths
        return ModelLoaded(name=f"{short} @ {host}", n_ctx=self._n_ctx, estimated=True)

    def describe(self) -> str:
        """The server's model in a line, for the worker's log."""
        return (
            f"{self._model} at {self._command.server}, which answered in "
            f"{self._seconds:.2f} s: context {self._n_ctx} tokens"
        )

    def prompt_tokens(self, messages: Sequence[ChatMessage]) -> list[int]:
        """An estimate only: the server does the tokenizing (placeholders, one per token)."""
        return [0] * sum(self.count_text(m.content) + 4 for m in messages)

    def count_text(self, text: str) -> int:
        """An estimate of the tokens in ``text`` (the server does not say)."""
        return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN

    def prepare(self, command: Prepare) -> None:
        """Nothing to restore: the server keeps its own cache."""

    def clear(self) -> None:
        """Nothing to forget: the server keeps no state of ours."""

    def close(self) -> None:
        """Close the connection."""
        self._client.close()

    def generate(
        self,
        request: Generate,
        emit: Callable[[str], None],
        on_prompt_progress: Callable[[int, int], None],
        on_trimmed: Callable[[int], None] = lambda _dropped: None,
    ) -> GenerationResult:
        """Stream a reply from the server, calling ``emit`` with each piece of text.

        Raises:
            ServerLost: The connection failed, the stream ended in the middle, or the
                server answered that it cannot serve now (5xx, 429).
            RequestError: The server refused the request or sent what is not a reply.
        """
        base = self._command.server
        sampling = request.sampling
        messages, dropped = fit_messages(
            request, self._n_ctx, lambda kept: len(self.prompt_tokens(kept))
        )
        if dropped:
            on_trimmed(dropped)
        body: dict[str, object] = {
            "model": self._model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "stream": True,
            "max_tokens": request.max_tokens,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "stream_options": {"include_usage": True},
        }
        if sampling.seed is not None:
            body["seed"] = sampling.seed
        started = time.perf_counter()
        first = 0.0
        count = 0
        reason: DoneReason | None = None  # until the server says how the reply ended
        events = 0
        usage: Usage | None = None
        thinking = _Reasoning()
        try:
            with self._client.stream("POST", "/v1/chat/completions", json=body) as response:
                self._stop.watch(response.close)
                try:
                    if response.status_code >= 400:
                        response.read()
                        lost = transient_status(response.status_code)
                        raise (ServerLost if lost else RequestError)(status_error(response))
                    for data in sse_data(response.iter_lines()):
                        events += 1
                        if self._stop.is_set():
                            reason = DoneReason.STOPPED
                            break
                        if data == "[DONE]":
                            reason = reason or DoneReason.FINISHED
                            break
                        chunk = _chunk(data, base, self._key)
                        if chunk.get("usage"):
                            usage = _usage(chunk["usage"])
                        for choice in chunk.get("choices") or ():
                            text = thinking.text(choice.get("delta") or {})
                            if text:
                                first = first or time.perf_counter()
                                count += 1
                                emit(text)
                            finish = choice.get("finish_reason")
                            if finish == "length":
                                reason = DoneReason.LENGTH
                            elif finish:  # "stop", or a server's own word for it
                                reason = DoneReason.FINISHED
                    kind = response.headers.get("content-type", "nothing")
                    if self._stop.is_set():
                        reason = DoneReason.STOPPED
                    elif not events and "event-stream" not in kind:
                        raise RequestError(
                            f"The server at {base} did not answer with a stream of events "
                            f"(it sent {kind})"
                        )
                    elif reason is None:
                        # The connection closed cleanly, but the reply had not ended.
                        raise ServerLost(
                            f"The server {urlsplit(base).netloc} ended the stream in the "
                            "middle of the reply"
                        )
                finally:
                    self._stop.watch(None)
        except (httpx.HTTPError, httpx.StreamError) as e:
            if self._stop.is_set():
                reason = DoneReason.STOPPED
            elif isinstance(e, httpx.TransportError):
                raise ServerLost(describe(e, base)) from None
            else:
                raise RequestError(describe(e, base)) from None
        ended = time.perf_counter()
        return GenerationResult(
            reason or DoneReason.STOPPED,
            Usage(
                prompt_tokens=usage.prompt_tokens if usage else len(self.prompt_tokens(messages)),
                completion_tokens=usage.completion_tokens if usage else count,
                thinking_tokens=usage.thinking_tokens if usage else thinking.pieces,
                prompt_seconds=(first or ended) - started,
                decode_seconds=ended - first if first else 0.0,
                estimated=usage is None,
            ),
        )


def _chunk(data: str, base: str, key: str) -> dict[str, object]:
    try:
        chunk = json.loads(data)
        said = "an unexpected event"
    except ValueError:
        chunk, said = None, "something that is not JSON in the stream"
    if not isinstance(chunk, dict):
        raise RequestError(f"The server at {base} sent {said}: {hide(data, key)[:80]!r}")
    if "error" in chunk:
        raise RequestError(f"The server reported an error: {error_message(chunk, key)}")
    return chunk


class _Reasoning:
    """A reasoning model's thinking, which servers send apart from the answer (as
    ``reasoning_content``: llama.cpp's server, vLLM, LM Studio; as ``reasoning``: Ollama),
    written into the reply's text between ``<think>`` markers, as a local model writes it."""

    def __init__(self) -> None:
        self._open = False
        self.pieces = 0
        """Pieces of thinking that came."""

    def text(self, delta: dict[str, object]) -> str:
        """The reply's text in one piece of the stream."""
        thought = delta.get("reasoning_content") or delta.get("reasoning") or ""
        answer = delta.get("content") or ""
        text = ""
        if isinstance(thought, str) and thought:
            text, self._open = ("" if self._open else "<think>") + thought, True
            self.pieces += 1
        if isinstance(answer, str) and answer:
            text += ("</think>" if self._open else "") + answer
            self._open = False
        return text


def _usage(raw: object) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    details = raw.get("completion_tokens_details")
    thinking = details.get("reasoning_tokens") if isinstance(details, dict) else 0
    return Usage(
        prompt_tokens=int(raw.get("prompt_tokens") or 0),
        completion_tokens=int(raw.get("completion_tokens") or 0),
        thinking_tokens=int(thinking or 0),
    )
