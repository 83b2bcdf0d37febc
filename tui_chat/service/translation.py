"""A translation job: chunk the text, then translate the chunks in order, streaming.

The app's Translate view and the ``tui-chat translate`` command both run this, on the
same service and worker as the chat.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from tui_chat.core.chunking import Chunk, plan_chunks
from tui_chat.core.protocol import Done, DoneReason, Error, Token, Usage
from tui_chat.core.thinking import ThinkingFilter
from tui_chat.core.translation import (
    MAX_CHUNK_TOKENS,
    MIN_CHUNK_TOKENS,
    TRANSLATION_SAMPLING,
    TranslationRequest,
    chunk_budget,
    looping,
    reply_budget,
)
from tui_chat.service.events import RequestEvent
from tui_chat.service.llm_service import LlmService, RequestFailedError, ServiceUnavailableError


@dataclass(slots=True)
class TranslationResult:
    """How a translation job ended."""

    reason: DoneReason
    """FINISHED, STOPPED, INTERRUPTED (the worker crashed) or ERROR."""
    chunks: list[Chunk] = field(default_factory=list)
    """The chunks the text was split into."""
    outputs: list[str] = field(default_factory=list)
    """The translation of each chunk done so far, white space around it included."""
    usages: list[Usage] = field(default_factory=list)
    """Counts and timings of each chunk's generation."""
    failed: list[ChunkFailure] = field(default_factory=list)
    """Chunks the model did not translate (it looped: their output is their source) or
    not whole (cut at the length limit)."""
    error: str = ""
    """What went wrong, for ERROR and INTERRUPTED."""

    @property
    def text(self) -> str:
        """The whole translation so far."""
        return "".join(self.outputs)


@dataclass(frozen=True, slots=True)
class ChunkFailure:
    """A chunk not translated, or not whole, and why."""

    number: int
    """Its place, from 1."""
    why: str
    """What the model did, for a person."""
    source_kept: bool = True
    """Its output is its source, as it was (the model looped); False: the translation
    so far (cut at the length limit)."""


class _StoppedError(Exception):
    """The job was stopped while the text was being split."""


class _Trim:
    """Streams a chunk's translation without the white space the model puts around it
    (the source's own white space around the chunk is kept instead)."""

    def __init__(self, emit: Callable[[str], None]) -> None:
        self._emit = emit
        self._started = False
        self._held = ""
        self.text = ""

    def feed(self, text: str) -> None:
        if not self._started:
            text = text.lstrip()
            if not text:
                return
            self._started = True
        body = text.rstrip()
        if body:
            out = self._held + body
            self._held = text[len(body) :]
            self.text += out
            self._emit(out)
        else:
            self._held += text


class TranslationJob:
    """Translates one text; ``stop()`` ends the whole job, keeping what was translated."""

    def __init__(
        self,
        service: LlmService,
        text: str,
        request: TranslationRequest,
        on_text: Callable[[str], None],
        on_progress: Callable[[int, int], None] | None = None,
        max_chunk_tokens: int = MAX_CHUNK_TOKENS,
        on_chunk: Callable[[str, ChunkFailure | None], None] | None = None,
    ) -> None:
        """
        Args:
            service: The model service (already started).
            text: What to translate.
            request: Target language, source language and instruction.
            on_text: Called with each piece of the translation, in order, as it streams
                (a failed chunk's pieces too: ``on_chunk`` says it failed).
            on_progress: Called with (chunk number, number of chunks) as each chunk starts.
            max_chunk_tokens: Largest chunk, in tokens.
            on_chunk: Called as each chunk ends with its output (the source's own white
                space around it; a failed chunk's output is its source) and its failure.
        """
        self._service = service
        self._text = text
        self._request = request
        self._on_text = on_text
        self._on_progress = on_progress or (lambda _n, _total: None)
        self._on_chunk = on_chunk or (lambda _output, _failure: None)
        self._max_chunk_tokens = max_chunk_tokens
        self._stopped = False
        self.result = TranslationResult(DoneReason.FINISHED)
        """Filled in as the job goes; final when ``run`` returns."""

    def stop(self) -> None:
        """Stop the job: the chunk in progress ends now and no other chunk starts."""
        self._stopped = True
        self._service.stop()

    @property
    def stopped(self) -> bool:
        """True once ``stop`` was called."""
        return self._stopped

    async def run(self) -> TranslationResult:
        """Translate the text; never raises for model trouble (see ``result.reason``)."""
        result = self.result
        try:
            chunks = await self._plan()
        except (ServiceUnavailableError, RequestFailedError, ValueError) as e:
            result.reason, result.error = DoneReason.ERROR, str(e)
            return result
        if chunks is None:
            result.reason = DoneReason.STOPPED
            return result
        result.chunks = chunks
        # Nothing of the chat or of an earlier translation is in the context.
        self._service.clear_context()
        for number, chunk in enumerate(chunks, start=1):
            if self._stopped:
                result.reason = DoneReason.STOPPED
                break
            self._on_progress(number, len(chunks))
            done = await self._translate(number, chunk)
            if done.reason not in (DoneReason.FINISHED, DoneReason.LENGTH):
                result.reason = done.reason
                break
        return result

    async def _plan(self) -> list[Chunk] | None:
        """Split the text; None if stopped meanwhile."""
        service = self._service
        model = await service.wait_ready()
        counts = await service.count_tokens(prompts=[self._request.messages("")])
        budget = chunk_budget(model.n_ctx, counts.prompts[0], self._max_chunk_tokens)
        if budget < MIN_CHUNK_TOKENS:
            raise ValueError(
                f"The model's context ({model.n_ctx} tokens) is too small to translate in: "
                "start tui-chat with a larger --ctx."
            )
        loop = asyncio.get_running_loop()

        def count(texts: Sequence[str]) -> Sequence[int]:
            # Runs in the planning thread; the event loop does the round trip.
            if self._stopped:
                raise _StoppedError
            future = asyncio.run_coroutine_threadsafe(service.count_tokens(texts), loop)
            return future.result().texts

        # A thread: a 200 KB text takes a while to split, and the UI must keep drawing.
        try:
            chunks = await asyncio.to_thread(plan_chunks, self._text, budget, count)
        except _StoppedError:
            return None
        return None if self._stopped else chunks

    async def _translate(self, number: int, chunk: Chunk) -> Done:
        result = self.result
        output = [chunk.lead]
        self._on_text(chunk.lead)
        failure = None
        if chunk.verbatim:
            self._on_text(chunk.body)
            output.append(chunk.body)
            done = Done(-1, DoneReason.FINISHED)
        else:
            done, why, source_kept = await self._generate(chunk, output)
            if why:
                failure = ChunkFailure(number, why, source_kept)
                result.failed.append(failure)
                if source_kept:  # not a translation: the source stays in its place
                    output[1:] = [chunk.body]
        self._on_text(chunk.trail)
        output.append(chunk.trail)
        result.outputs.append("".join(output))
        result.usages.append(done.usage)
        self._on_chunk(result.outputs[-1], failure)
        return done

    async def _generate(self, chunk: Chunk, output: list[str]) -> tuple[Done, str, bool]:
        """Translate one chunk; the reply's end, why it is not a whole translation ("" if
        it is one), and whether its source is to stand in for it."""
        finished: asyncio.Future[Done] = asyncio.get_running_loop().create_future()
        looped = False

        def emit(text: str) -> None:
            nonlocal looped
            output.append(text)
            self._on_text(text)
            if not looped and looping(trim.text, chunk.body):
                looped = True
                self._service.stop()  # cut it now, not at the token limit

        trim = _Trim(emit)
        thinking = ThinkingFilter()  # a reasoning model's thinking is no translation

        def listen(event: RequestEvent) -> None:
            match event:
                case Token(text=text):
                    trim.feed(thinking.feed(text))
                case Error(message=message):
                    self.result.error = message
                case Done():
                    trim.feed(thinking.finish())
                    if not finished.done():
                        finished.set_result(event)

        budget = reply_budget(chunk.tokens)
        try:
            self._service.generate(
                self._request.messages(chunk.body),
                max_tokens=budget,
                sampling=TRANSLATION_SAMPLING,
                listener=listen,
            )
        except ServiceUnavailableError as e:
            self.result.error = str(e)
            return Done(-1, DoneReason.ERROR), "", False
        done = await finished
        if looped and not self._stopped:
            finished_done = Done(done.request_id, DoneReason.FINISHED, done.usage)
            return finished_done, "the model repeated the same words over and over", True
        if done.reason is DoneReason.LENGTH:
            why = f"cut short at the length limit, {budget} tokens for {chunk.tokens}"
            return done, why, False
        if done.reason is DoneReason.INTERRUPTED and not self.result.error:
            self.result.error = "The model worker crashed during the translation."
        return done, "", False
