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
from tui_chat.core.translation import (
    MAX_CHUNK_TOKENS,
    TRANSLATION_SAMPLING,
    TranslationRequest,
    chunk_budget,
    reply_budget,
)
from tui_chat.service.events import RequestEvent
from tui_chat.service.llm_service import LlmService, RequestFailedError, ServiceUnavailableError

MIN_CHUNK_TOKENS = 16
"""Below this the context is too small to translate anything sensible."""


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
    cut_off: int = 0
    """Chunks whose translation reached the token limit."""
    error: str = ""
    """What went wrong, for ERROR and INTERRUPTED."""

    @property
    def text(self) -> str:
        """The whole translation so far."""
        return "".join(self.outputs)


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
    ) -> None:
        """
        Args:
            service: The model service (already started).
            text: What to translate.
            request: Target language, source language and instruction.
            on_text: Called with each piece of the translation, in order.
            on_progress: Called with (chunk number, number of chunks) as each chunk starts.
            max_chunk_tokens: Largest chunk, in tokens.
        """
        self._service = service
        self._text = text
        self._request = request
        self._on_text = on_text
        self._on_progress = on_progress or (lambda _n, _total: None)
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
            done = await self._translate(chunk)
            if done.reason is DoneReason.LENGTH:
                result.cut_off += 1
            elif done.reason is not DoneReason.FINISHED:
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

    async def _translate(self, chunk: Chunk) -> Done:
        result = self.result
        output = [chunk.lead]
        self._on_text(chunk.lead)
        if chunk.verbatim:
            self._on_text(chunk.body)
            output.append(chunk.body)
            done = Done(-1, DoneReason.FINISHED)
        else:
            done = await self._generate(chunk, output)
        self._on_text(chunk.trail)
        output.append(chunk.trail)
        result.outputs.append("".join(output))
        result.usages.append(done.usage)
        return done

    async def _generate(self, chunk: Chunk, output: list[str]) -> Done:
        finished: asyncio.Future[Done] = asyncio.get_running_loop().create_future()

        def emit(text: str) -> None:
            output.append(text)
            self._on_text(text)

        trim = _Trim(emit)

        def listen(event: RequestEvent) -> None:
            match event:
                case Token(text=text):
                    trim.feed(text)
                case Error(message=message):
                    self.result.error = message
                case Done():
                    if not finished.done():
                        finished.set_result(event)

        try:
            self._service.generate(
                self._request.messages(chunk.body),
                max_tokens=reply_budget(chunk.tokens),
                sampling=TRANSLATION_SAMPLING,
                listener=listen,
            )
        except ServiceUnavailableError as e:
            self.result.error = str(e)
            return Done(-1, DoneReason.ERROR)
        done = await finished
        if done.reason is DoneReason.INTERRUPTED and not self.result.error:
            self.result.error = "The model worker crashed during the translation."
        return done
