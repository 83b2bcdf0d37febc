"""The worker's third backend: a scripted model (``core.script``), for tests and the
benchmark. It has the local engine's interface and plays a script instead of computing.

Its tokens are the script's (a word or a sign); its prompt is the conversation in ChatML,
so that the context fills, is trimmed and is reused from one turn to the next as a real
model's is. The timings it reports are the ones the script declares, not the clock's, so
that what the screen shows of them is the same on every machine.
"""

from __future__ import annotations

import ctypes
import os
import threading
import time
from collections.abc import Callable, Sequence

from tui_chat.core.protocol import (
    ChatMessage,
    DoneReason,
    Generate,
    LoadModel,
    ModelLoaded,
    Prepare,
    Usage,
)
from tui_chat.core.script import (
    FAULT_EXIT_STATUS,
    Echo,
    End,
    Fail,
    Fault,
    Hold,
    Read,
    Say,
    Script,
    Step,
    Vary,
    tokens,
)
from tui_chat.core.thinking import ThinkingCount
from tui_chat.worker.fitting import fit_messages
from tui_chat.worker.outbox import TOKEN_BATCH_SECONDS
from tui_chat.worker.results import (
    GenerationResult,
    LoadError,
    RequestError,
    common_prefix_length,
)

LOAD_STEPS = 5
"""Progress reports while a script loads."""


def _fail(fail: Fail, error: type[Exception]) -> None:
    """Fail as ``fail`` says; ``error`` is what an ``ERROR`` fault raises."""
    match fail.fault:
        case Fault.EXIT:
            os._exit(FAULT_EXIT_STATUS)
        case Fault.SEGFAULT:
            ctypes.string_at(0)
        case Fault.HANG:
            while True:  # deaf to everything: only a signal ends it
                time.sleep(3600)
        case Fault.ERROR:
            raise error(fail.message)


def prompt_tokens(messages: Sequence[ChatMessage]) -> list[str]:
    """The conversation in ChatML, in the script's tokens."""
    rendered = "".join(f"<|im_start|>{m.role}\n{m.content}<|im_end|>\n" for m in messages)
    return tokens(rendered + "<|im_start|>assistant\n")


def _after(steps: Sequence[Step], said: int) -> list[Step]:
    """``steps`` without the pieces of their first ``said`` characters (a reply that goes
    on from where it was cut says the rest)."""
    rest: list[Step] = []
    going_on = False
    """Past what was said: the steps from here on are played as they are."""
    for step in steps:
        if isinstance(step, Say) and not going_on:
            pieces = list(step.pieces)
            while pieces and said > 0:
                said -= len(pieces.pop(0))
            if pieces:
                rest.append(Say(tuple(pieces), step.every))
                going_on = True
        elif going_on or not isinstance(step, Hold | End):
            rest.append(step)  # (a hold or an end before the rest: where it was cut)
    return rest


class _Stopped(Exception):
    """The reply was stopped."""


class ScriptedEngine:
    """A model that plays a script."""

    def __init__(self, command: LoadModel, script: Script) -> None:
        self._command = command
        self._script = script
        self._n_ctx = command.n_ctx or script.n_ctx_train
        self._stop = threading.Event()
        self._context: list[str] = []
        """The tokens the model holds from the last turn, as a real model's KV cache."""

    @classmethod
    def load(cls, command: LoadModel, on_progress: Callable[[float], None]) -> ScriptedEngine:
        """Load as the script says: progress, then the model or its load fault.

        Raises:
            LoadError: The script's load fault is an error.
        """
        script = command.script
        assert script is not None
        for step in range(1, LOAD_STEPS + 1):
            time.sleep(script.load_seconds / LOAD_STEPS)
            on_progress(step / LOAD_STEPS)
        if script.load_fault is not None:
            _fail(script.load_fault, LoadError)
        return cls(command, script)

    @property
    def stop_event(self) -> threading.Event:
        """Set from any thread to stop the reply in progress."""
        return self._stop

    def info(self) -> ModelLoaded:
        """The scripted model, as the service and the UI see a model."""
        script = self._script
        return ModelLoaded(
            name=script.name, n_ctx=self._n_ctx, placement=script.placement, note=script.load_note
        )

    def describe(self) -> str:
        """The scripted model in a line, for the worker's log."""
        return f"a test script, not a model: context {self._n_ctx} tokens"

    def prompt_tokens(self, messages: Sequence[ChatMessage]) -> list[str]:
        """The conversation as the scripted model's prompt, in its tokens."""
        return prompt_tokens(messages)

    def count_text(self, text: str) -> int:
        """Tokens in ``text`` on its own."""
        return len(tokens(text))

    def prepare(self, command: Prepare) -> None:
        """Nothing is kept between runs of a script."""

    def clear(self) -> None:
        """Forget the context."""
        self._context = []

    def close(self) -> None:
        """Nothing to free."""

    def generate(
        self,
        request: Generate,
        emit: Callable[[str], None],
        on_prompt_progress: Callable[[int, int], None],
        on_trimmed: Callable[[int], None] = lambda _dropped: None,
    ) -> GenerationResult:
        """Play the steps that answer the request's newest message.

        Raises:
            RequestError: The prompt does not fit, or the script fails with an error.
        """
        messages, dropped = fit_messages(
            request, self._n_ctx, lambda kept: len(self.prompt_tokens(kept))
        )
        if dropped:
            on_trimmed(dropped)
        prompt = self.prompt_tokens(messages)
        cached = min(common_prefix_length(self._context, prompt), len(prompt) - 1)
        self._context = prompt[:cached]
        room = self._n_ctx - len(prompt)
        said: list[str] = []
        count = ThinkingCount()

        def full() -> bool:  # as the engine: the limit is for the answer, not the thinking
            return count.answer >= request.max_tokens or count.tokens >= room

        prompt_seconds = decode_seconds = 0.0
        reason = DoneReason.FINISHED
        newest, seed = messages[-1].content, request.sampling.seed
        if request.continues:  # the person's message the reply goes on answering
            newest = next((m.content for m in reversed(messages) if m.role == "user"), "")
        steps = [
            s.say(newest) if isinstance(s, Echo) else s.say(seed) if isinstance(s, Vary) else s
            for s in self._script.steps_for(newest)
        ]
        if request.continues:
            steps = _after(steps, len(messages[-1].content))
        try:
            for n, step in enumerate(steps):
                match step:
                    case Read(batches=batches, seconds=each):
                        self._read(prompt, cached, batches, each, on_prompt_progress)
                        prompt_seconds += batches * each
                    case Say(pieces=pieces, every=every):
                        pause = any(isinstance(s, Hold | Fail) for s in steps[n + 1 : n + 2])
                        before = len(said)
                        try:
                            cut = self._say(pieces, every, said, emit, pause, count.add, full)
                        finally:
                            # The first piece of a reply comes at once: decoding is timed
                            # from it, for as many pieces as were said.
                            decode_seconds += every * max(0, len(said) - before - (before == 0))
                        if cut:
                            reason = DoneReason.LENGTH
                            break
                    case Hold():
                        self._stop.wait()
                        raise _Stopped
                    case Fail():
                        _fail(step, RequestError)
                    case End(reason=end):
                        reason = end
                        break
        except _Stopped:
            reason = DoneReason.STOPPED
        self._context = prompt + tokens("".join(said))
        return GenerationResult(
            reason,
            Usage(
                prompt_tokens=len(prompt),
                cached_tokens=cached,
                completion_tokens=len(said),
                prompt_seconds=prompt_seconds,
                decode_seconds=decode_seconds,
                thinking_tokens=count.thinking,
            ),
        )

    def _read(
        self,
        prompt: list[str],
        cached: int,
        batches: int,
        seconds: float,
        on_progress: Callable[[int, int], None],
    ) -> None:
        total = len(prompt) - cached
        for batch in range(1, batches + 1):
            if self._stop.wait(seconds):
                raise _Stopped
            on_progress(total * batch // batches, total)

    def _say(
        self,
        pieces: Sequence[str],
        every: float,
        said: list[str],
        emit: Callable[[str], None],
        before_pause: bool,
        counted: Callable[[str], None],
        full: Callable[[], bool],
    ) -> bool:
        """Emit ``pieces`` on schedule, each ``counted``, until the reply is ``full``;
        whether it is. Before a pause (a hold or a fault), the last piece comes one batch
        interval after the one before it: the worker sends what it has gathered when the
        next piece comes, and a model that pauses mid-reply has had its earlier text sent,
        while a script would otherwise leave it waiting in the batch."""
        started = time.perf_counter()
        for n, piece in enumerate(pieces):
            if full():
                return True
            due = started + n * every
            if before_pause and n == len(pieces) - 1 and said:
                due = max(due, time.perf_counter() + TOKEN_BATCH_SECONDS)
            wait = due - time.perf_counter()
            if self._stop.wait(wait) if wait > 0 else self._stop.is_set():
                raise _Stopped
            said.append(piece)
            counted(piece)
            emit(piece)
        return full()
