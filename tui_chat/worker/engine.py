"""The model engine: one ``llama_cpp.Llama``, loaded, asked to generate and to count.

Only the worker process imports this module and the two it builds on (``prompt``, the
chat template; ``llama_hooks``, llama.cpp's callbacks): they are where llama_cpp is
imported.
"""

from __future__ import annotations

import codecs
import ctypes
import gc
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import llama_cpp
import llama_cpp.llama_cpp as llama_lib

from tui_chat.core.gguf_header import NotGguf, read_header
from tui_chat.core.protocol import (
    ChatMessage,
    DoneReason,
    Generate,
    LoadModel,
    ModelLoaded,
    Prepare,
    Usage,
)
from tui_chat.core.thinking import MARKER_TEXTS, ThinkingCount, opened_by
from tui_chat.worker.fitting import fit_messages
from tui_chat.worker.llama_hooks import AbortFlag, cpu_has_amx, load_progress, offload_report
from tui_chat.worker.offload import load_offloaded
from tui_chat.worker.prompt import ChatPrompt
from tui_chat.worker.results import (
    GenerationResult,
    LoadError,
    RequestError,
    common_prefix_length,
)
from tui_chat.worker.resume_cache import MIN_TOKENS, ResumeCache, model_key

# RequestError is re-exported: the engine raises it (from the chat template) and callers
# and tests take it from here.
__all__ = ["Engine", "GenerationResult", "LoadError", "RequestError", "Utf8Pieces"]

CACHE_TYPES = {
    "f16": llama_lib.GGML_TYPE_F16,
    "q8_0": llama_lib.GGML_TYPE_Q8_0,
    "q4_0": llama_lib.GGML_TYPE_Q4_0,
}
"""The KV cache types a person may choose (``core.options.CACHE_TYPES``), as ggml names them."""

SLOW_TOKEN_SECONDS = 0.05
"""Decoding slower than this per token keeps a Python abort callback (where the C library's
``strlen`` cannot serve) on between tokens."""


class Utf8Pieces:
    """Turns token bytes into text without ever splitting a multi-byte character.

    A token may carry half of a UTF-8 sequence (emoji and CJK often span tokens); the
    incremental decoder holds such bytes back until the character is complete.
    """

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def feed(self, data: bytes) -> str:
        """Return the complete characters that ``data`` finishes."""
        return self._decoder.decode(data)

    def flush(self) -> str:
        """Return what is left at the end of a reply (invalid leftovers become U+FFFD)."""
        return self._decoder.decode(b"", final=True)


class Engine:
    """A loaded model, its chat template and its stop switch."""

    def __init__(self, llm: llama_cpp.Llama, command: LoadModel, load_seconds: float) -> None:
        self._llm = llm
        self._command = command
        self._load_seconds = load_seconds
        # llama.cpp polls this between graph nodes while it computes; when it is set,
        # llama_decode returns 2 (aborted).
        self._abort = AbortFlag()
        self._no_abort_callback = llama_lib.ggml_abort_callback()  # a NULL function pointer
        self._abort_watched = False
        self._vocab = llama_lib.llama_model_get_vocab(llm.model)
        self._prompt = ChatPrompt(llm, self._vocab)
        self._markers = self._prompt.control_tokens(MARKER_TEXTS)
        """Control tokens that mark a reply's thinking: written into its text."""
        self._resume: ResumeCache | None = None
        if command.resume_cache and command.resume_cache_bytes > 0:
            key = model_key(Path(command.path), llm.n_ctx())
            self._resume = ResumeCache(Path(command.resume_cache), command.resume_cache_bytes, key)
        self._unsaved = False
        """The context holds tokens that no saved state holds."""
        self.placement = "CPU"
        """Where the model runs, as llama.cpp reported it (``Offload.placement``)."""
        self.offload_note = ""
        """What to tell the person about it ("" unless fewer GPU layers loaded than asked)."""

    @classmethod
    def load(cls, command: LoadModel, on_progress: Callable[[float], None]) -> Engine:
        """Load the model named by ``command``.

        Raises:
            LoadError: The file is missing or llama.cpp cannot load it.
        """
        path = Path(command.path)
        if not path.is_file():
            raise LoadError(f"Model file not found: {path}")
        cache = CACHE_TYPES.get(command.cache_type)
        if cache is None:
            raise LoadError(f"Unknown KV cache type {command.cache_type!r}")
        if cache != llama_lib.GGML_TYPE_F16 and not command.flash_attn:
            raise LoadError(
                f"The KV cache type {command.cache_type} needs flash attention "
                "(llama.cpp quantizes that cache only with it): turn flash_attn on (F3) "
                "or run with --flash-attn on."
            )
        gpu = llama_lib.llama_supports_gpu_offload()

        def layer_count() -> int:
            try:
                return read_header(path).block_count
            except (OSError, NotGguf):
                return 0

        def load(layers: int) -> llama_cpp.Llama:
            try:
                return attempt(layers)
            except (ValueError, RuntimeError):
                # A failed attempt's buffers (on the GPU too) are held in a reference cycle
                # of llama-cpp-python's until the collector runs: free them for the next.
                gc.collect()
                raise

        def attempt(layers: int) -> llama_cpp.Llama:
            return llama_cpp.Llama(
                model_path=str(path),
                n_ctx=command.n_ctx,
                n_threads=command.n_threads,
                n_threads_batch=command.n_threads,
                seed=command.seed,
                n_gpu_layers=layers,
                flash_attn=command.flash_attn,
                type_k=cache,
                type_v=cache,
                verbose=True,
            )

        started = time.perf_counter()
        try:
            with load_progress(on_progress), offload_report() as reported:
                llm, offload = load_offloaded(
                    load, command.gpu_layers if gpu else 0, layer_count, (ValueError, RuntimeError)
                )
        except (ValueError, RuntimeError) as e:
            raise LoadError(f"llama.cpp could not load {path}") from e
        said = reported[-1] if reported else None
        engine = cls(llm, command, time.perf_counter() - started)
        engine.placement, engine.offload_note = offload.placement(said), offload.note(said)
        if not gpu and command.gpu_layers > 0:
            engine.offload_note = (
                "This llama-cpp-python was built for the CPU only: gpu_layers is ignored "
                "(the README says how to build it for a GPU)."
            )
        return engine

    @property
    def stop_event(self) -> threading.Event:
        """Set from any thread to stop the generation in progress."""
        return self._abort

    def info(self) -> ModelLoaded:
        """What the service and the UI need to know about the loaded model."""
        return ModelLoaded(
            name=Path(self._command.path).stem,
            n_ctx=self._llm.n_ctx(),
            placement=self.placement,
            note=self.offload_note,
        )

    def describe(self) -> str:
        """The loaded model in a line, for the worker's log."""
        trained = llama_lib.llama_model_n_ctx_train(self._llm.model)
        return (
            f"{self._command.path} in {self._load_seconds:.2f} s: context {self._llm.n_ctx()} "
            f"tokens (trained with {trained}), {self.placement}, {self._llm.n_threads} "
            "threads, chat template "
            f"{self._prompt.template_name}"
            + (", no weight repacking (the CPU advertises AMX)" if cpu_has_amx() else "")
        )

    def prompt_tokens(self, messages: Sequence[ChatMessage], continues: bool = False) -> list[int]:
        """Render the conversation with the chat template and tokenize it (see
        ``ChatPrompt.tokens``)."""
        return self._prompt.tokens(messages, continues)

    def count_text(self, text: str) -> int:
        """Tokens in ``text`` on its own (no start-of-text token, special tokens as text)."""
        if not text:
            return 0
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def clear(self) -> None:
        """Forget the context (kept on disk first, for when the conversation goes on):
        the next prompt is evaluated from the start, or from a state kept on disk."""
        self.keep_state()
        self._llm.reset()

    def close(self) -> None:
        """Free the model (the context kept on disk first)."""
        self.keep_state()
        self._llm.close()

    def prepare(self, command: Prepare) -> None:
        """Restore the kept state of a conversation just opened, if there is one, so that
        its next reply reads only the new message."""
        if self._resume is None or len(command.messages) <= command.keep:
            return
        request = Generate(0, command.messages, command.max_tokens, keep=command.keep)
        try:
            tokens, _ = self.fit(request)
        except RequestError:
            return
        self._restore(tokens, self._held(tokens))

    def _held(self, tokens: list[int]) -> int:
        """How many of ``tokens``, from the start, the context holds already."""
        llm = self._llm
        return common_prefix_length(llm.input_ids[: llm.n_tokens].tolist(), tokens)

    def keep_state(self) -> None:
        """Save what the context holds to the resume cache, unless it is there already."""
        llm = self._llm
        if self._resume is None or not self._unsaved or llm.n_tokens < MIN_TOKENS:
            return
        n = llm.n_tokens
        tokens = [int(t) for t in llm.input_ids[:n]]
        held = (llama_lib.llama_token * n)(*tokens)
        self._resume.save(
            tokens, lambda path: llama_lib.llama_state_save_file(llm.ctx, bytes(path), held, n)
        )
        self._unsaved = False

    def _restore(self, prompt: list[int], cached: int) -> None:
        """Restore the kept state that holds the most of ``prompt``, if it holds more of
        it than the context (by ``MIN_TOKENS`` at least)."""
        if self._resume is None:
            return
        entry = self._resume.best(prompt)
        if entry is None or entry.shared < cached + MIN_TOKENS:
            return
        llm = self._llm
        capacity = llm.n_ctx()
        held = (llama_lib.llama_token * capacity)()
        count = ctypes.c_size_t(0)
        if not llama_lib.llama_state_load_file(
            llm.ctx, bytes(entry.path), held, capacity, ctypes.byref(count)
        ):
            llm.reset()  # whatever half of it was read is not to be trusted
            return
        n = count.value
        llm.input_ids[:n] = held[:n]
        llm.n_tokens = n
        self._resume.used(entry)

    def _set_abort_callback(self, enabled: bool) -> None:
        if enabled is self._abort_watched:
            return
        self._abort_watched = enabled
        if enabled:
            llama_lib.llama_set_abort_callback(
                self._llm.ctx, self._abort.callback, self._abort.data
            )
        else:
            llama_lib.llama_set_abort_callback(self._llm.ctx, self._no_abort_callback, None)

    def fit(self, request: Generate) -> tuple[list[int], int]:
        """The prompt tokens for ``request`` and how many of its oldest messages were left
        out so that the prompt fits the context with room for the reply (see
        ``fit_messages``).

        Raises:
            RequestError: Even the newest message alone does not fit; with both numbers.
        """
        tokens: list[int] = []

        def measure(messages: Sequence[ChatMessage]) -> int:
            nonlocal tokens
            tokens = self.prompt_tokens(messages, request.continues)
            return len(tokens)

        _, dropped = fit_messages(request, self._llm.n_ctx(), measure)
        return tokens, dropped  # the last measured are the messages kept

    def generate(
        self,
        request: Generate,
        emit: Callable[[str], None],
        on_prompt_progress: Callable[[int, int], None],
        on_trimmed: Callable[[int], None] = lambda _dropped: None,
    ) -> GenerationResult:
        """Generate a reply, calling ``emit`` with each piece of text.

        The stop event (``stop_event``) is honoured between tokens and, through llama.cpp's
        abort callback, inside prompt processing. ``on_trimmed`` hears how many of the
        oldest messages were left out to make the prompt fit (before any token).

        Raises:
            RequestError: The newest message alone does not fit the context.
        """
        llm = self._llm
        started = time.perf_counter()
        tokens, dropped = self.fit(request)
        if dropped:
            on_trimmed(dropped)
        n_prompt = len(tokens)
        n_ctx = llm.n_ctx()
        room = n_ctx - n_prompt
        cached = self._held(tokens)
        if cached < n_prompt - MIN_TOKENS:
            self._restore(tokens, cached)
            cached = self._held(tokens)
        # At least the last prompt token is evaluated: its logits choose the first reply token.
        cached = min(cached, n_prompt - 1)
        usage = Usage(prompt_tokens=n_prompt, cached_tokens=cached)
        pieces = Utf8Pieces()
        markers = self._markers
        # A template that opens the thinking itself: the reply's text says so too, as if
        # the model had written it, for everything that tells its thinking apart.
        opened = opened_by(llm.detokenize(tokens[-8:], special=True).decode("utf-8", "ignore"))
        if request.continues:  # the reply so far is in the prompt: the count goes on from it
            count, opened = ThinkingCount(request.messages[-1].content), ""
        else:
            count = ThinkingCount(opened)
        first_at = last_at = 0.0
        reason = DoneReason.LENGTH
        self._set_abort_callback(True)
        self._unsaved = True
        try:
            llm.n_tokens = cached
            for start in range(cached, n_prompt, llm.n_batch):
                if self._abort.is_set():
                    break
                llm.eval(tokens[start : start + llm.n_batch])
                on_prompt_progress(min(start + llm.n_batch, n_prompt) - cached, n_prompt - cached)
            if self._abort.is_set():
                return GenerationResult(DoneReason.STOPPED, usage)
            sampling = request.sampling
            # Each reply's sampler is built with the seed set last (None: the load's).
            seed = self._command.seed if sampling.seed is None else sampling.seed
            llm.set_seed(seed or llama_lib.LLAMA_DEFAULT_SEED)
            generator = llm.generate(
                tokens,
                temp=sampling.temperature,
                top_p=sampling.top_p,
                top_k=sampling.top_k,
                repeat_penalty=sampling.repeat_penalty,
            )
            try:
                for token in generator:
                    now = time.perf_counter()
                    if count.tokens == 0:
                        first_at = now
                    elif not self._abort.native:
                        # A Python abort callback costs a call per graph node, a share of
                        # the decoding speed: only worth it when a single token takes long
                        # enough for a stop to wait on it.
                        self._set_abort_callback(now - last_at > SLOW_TOKEN_SECONDS)
                    last_at = now
                    if self._abort.is_set():
                        reason = DoneReason.STOPPED
                        break
                    if llama_lib.llama_vocab_is_eog(self._vocab, token):
                        reason = DoneReason.FINISHED
                        break
                    text = pieces.feed(llm.detokenize([token], special=token in markers))
                    if opened and count.tokens == 0:
                        text = opened + text
                    count.add(text)
                    if text:
                        emit(text)
                    if count.answer >= request.max_tokens or count.tokens >= room:
                        reason = DoneReason.LENGTH
                        break
            finally:
                generator.close()
        except RuntimeError:
            # llama_decode returned 2: the abort callback fired. Anything else is a real error.
            if not self._abort.is_set():
                raise
            reason = DoneReason.STOPPED
        finally:
            self._set_abort_callback(False)
            tail = pieces.flush()
            if tail:
                emit(tail)
        ended = time.perf_counter()
        first = first_at or ended
        return GenerationResult(
            reason,
            Usage(
                prompt_tokens=n_prompt,
                cached_tokens=cached,
                completion_tokens=count.tokens,
                prompt_seconds=first - started,
                decode_seconds=ended - first if count.tokens else 0.0,
                thinking_tokens=count.thinking,
            ),
        )
