"""A scripted model: what the worker plays instead of a model, for tests and the benchmark.

A real model's words change with the CPU (AVX2 or AVX-512), the llama.cpp build and the
thread count, and it cannot be made to crash at a chosen moment. A script says the words,
the timing and the failures. It is data, sent to the worker with the load command; the
worker plays it through the same pipe, outbox and stop switch as a model, so the service,
the crash breaker, the store and the UI all run for real on it.

No command-line option, settings-file key or dialog chooses a script: only code that
builds ``Settings`` itself (the tests and ``tui-chat bench``) can.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from tui_chat.core.protocol import DoneReason

FAULT_EXIT_STATUS = 3
"""Exit status of a worker that plays ``Fault.EXIT``."""

_TOKEN = re.compile(r"\s*\w+|\s*[^\w\s]|\s+")
"""The script's tokens: a word or a sign, with the white space before it."""


def tokens(text: str) -> list[str]:
    """``text`` cut the way the scripted model counts tokens; they join back to ``text``."""
    return _TOKEN.findall(text)


class Fault(StrEnum):
    """How a scripted model fails."""

    EXIT = "exit"
    """The worker process exits by itself with ``FAULT_EXIT_STATUS``, as native code that
    calls ``exit()`` would."""
    SEGFAULT = "segfault"
    """The worker reads address 0 from native code: a real SIGSEGV."""
    HANG = "hang"
    """The worker stops answering for good, a stop included, as native code stuck in a
    loop would."""
    ERROR = "error"
    """The request fails with an error reply (at load: the model cannot be loaded); the
    worker goes on."""


@dataclass(frozen=True, slots=True)
class Read:
    """The model reads the prompt: ``batches`` batches of ``seconds`` each, with progress
    after each one. A stop lands at once, as llama.cpp's abort callback does."""

    batches: int = 1
    """How many progress reports."""
    seconds: float = 0.0
    """How long each batch takes."""


@dataclass(frozen=True, slots=True)
class Say:
    """Pieces of the reply, one token each: the first at once, then one every ``every``
    seconds (on a schedule, so that a long reply keeps its rate)."""

    pieces: tuple[str, ...]
    """The text, piece by piece."""
    every: float = 0.0
    """Seconds between pieces."""

    @classmethod
    def text(cls, text: str, every: float = 0.0) -> Say:
        """``text`` cut into the script's tokens."""
        return cls(tuple(tokens(text)), every)


@dataclass(frozen=True, slots=True)
class Echo:
    """Says the newest message back, as ``Say`` would: all of it, or what follows the last
    ``after`` in it (a translation prompt's text, after its instruction)."""

    after: str = ""
    """Where the part to say back begins; empty: the whole message."""
    every: float = 0.0
    """Seconds between pieces."""

    def say(self, message: str) -> Say:
        """The ``Say`` this echo is for ``message``."""
        text = message.rpartition(self.after)[2] if self.after else message
        return Say.text(text, self.every)


@dataclass(frozen=True, slots=True)
class Vary:
    """Says one of ``texts``, as ``Say`` would: the one a request's seed picks (its
    remainder divided by their number; without a seed, the first), as a sampling model
    gives another reply for another seed."""

    texts: tuple[str, ...]
    """What it may say."""

    def say(self, seed: int | None) -> Say:
        """The ``Say`` for a request with ``seed``."""
        return Say.text(self.texts[(seed or 0) % len(self.texts)])


@dataclass(frozen=True, slots=True)
class Hold:
    """The reply waits, unfinished, until it is stopped."""


@dataclass(frozen=True, slots=True)
class Fail:
    """The model fails here."""

    fault: Fault
    """How."""
    message: str = "The scripted model failed"
    """What an ``ERROR`` fault says."""


@dataclass(frozen=True, slots=True)
class End:
    """The reply ends here, for this reason (a reply whose steps run out has finished)."""

    reason: DoneReason = DoneReason.FINISHED
    """``FINISHED`` or ``LENGTH``."""


Step = Read | Say | Echo | Vary | Hold | Fail | End


@dataclass(frozen=True, slots=True)
class Script:
    """What a scripted model does: its replies, and how it loads."""

    replies: tuple[tuple[str, tuple[Step, ...]], ...] = ()
    """(trigger, steps): a request whose newest message holds the trigger plays those steps;
    the first that matches wins. The choice depends only on the request, so a worker
    started after a crash plays the same part as the one before it."""
    default: tuple[Step, ...] = (Say(("Hello", "!")),)
    """The steps for a request that no trigger matches."""
    load_seconds: float = 0.0
    """How long loading takes, reported in five steps of progress."""
    load_fault: Fail | None = None
    """How loading fails, if it does (after ``load_seconds``)."""
    name: str = "scripted-model"
    """The model's name, as the status line shows it."""
    n_ctx_train: int = 8192
    """The context size the model says it was trained with (used when ``ctx`` is 0)."""
    placement: str = ""
    """Where it says it runs, as a real model's load reports it ("GPU 12/31 layers")."""
    load_note: str = ""
    """What it says about its load, as a real one does when fewer GPU layers loaded."""

    def steps_for(self, message: str) -> tuple[Step, ...]:
        """The steps that answer ``message``."""
        return next((steps for trigger, steps in self.replies if trigger in message), self.default)


def says(text: str, every: float = 0.0) -> tuple[Step, ...]:
    """A reply that says ``text`` and finishes."""
    return (Say.text(text, every),)
