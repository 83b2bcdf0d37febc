"""The model's memory of conversations left, on disk: going on with one restores its
state instead of reading its whole prompt again (as llama-server's --slot-save-path does).

An entry is the state file llama.cpp writes and, beside it, the tokens that state holds.
Entries are kept by model (the file's identity and the context size); the one sharing the
longest prefix with a new prompt is restored, and the rest of the prompt read as usual.
The folder keeps to a byte budget, the least recently used entries going first (a file's
modification time says when it was last saved or restored).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import time
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tui_chat.core.paths import private_dir
from tui_chat.worker.results import common_prefix_length

log = logging.getLogger(__name__)

MIN_TOKENS = 64
"""Fewer tokens than this are read again sooner than a state is written or restored."""

STATE, TOKENS = ".state", ".tokens"

STALE_PARTIAL_SECONDS = 3600
"""A file half written this long ago was left by a tui-chat killed while writing it
(another one may be writing one now)."""


@dataclass(frozen=True, slots=True)
class Entry:
    """A saved state that a prompt can start from."""

    path: Path
    """The state file."""
    shared: int
    """Tokens at the start of the prompt that the state holds."""


def model_key(model: Path, n_ctx: int) -> str:
    """Who may use an entry: the model file (path, size, modification time: a file
    downloaded again is another model) and the context size."""
    st = model.stat()
    said = f"{model.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\0{n_ctx}"
    return hashlib.sha256(said.encode()).hexdigest()[:24]


def _tokens_bytes(tokens: Sequence[int]) -> bytes:
    return array("i", tokens).tobytes()


def _read_tokens(path: Path) -> array[int]:
    tokens = array("i")
    tokens.frombytes(path.read_bytes())
    return tokens


class ResumeCache:
    """One model's entries, in a folder shared with other models' under one budget."""

    def __init__(self, root: Path, budget: int, key: str) -> None:
        """
        Args:
            root: The folder of every model's entries.
            budget: Most bytes the folder may hold.
            key: This model's ``model_key``.
        """
        self._root = root
        self._folder = root / key
        self._budget = budget

    def best(self, prompt: Sequence[int]) -> Entry | None:
        """The entry that holds the longest start of ``prompt`` (at least
        ``MIN_TOKENS``); None if there is none."""
        best: Entry | None = None
        for tokens_file in self._folder.glob(f"*{TOKENS}"):
            state = tokens_file.with_suffix(STATE)
            try:
                shared = common_prefix_length(_read_tokens(tokens_file), prompt)
            except (OSError, ValueError):
                continue  # half written by a tui-chat killed meanwhile, or being evicted
            if shared >= MIN_TOKENS and (best is None or shared > best.shared) and state.exists():
                best = Entry(state, shared)
        return best

    def used(self, entry: Entry) -> None:
        """Mark ``entry`` as just used (the last to be evicted)."""
        with contextlib.suppress(OSError):
            os.utime(entry.path)
            os.utime(entry.path.with_suffix(TOKENS))

    def save(self, tokens: Sequence[int], write: Callable[[Path], bool]) -> None:
        """Keep the state that holds ``tokens``, written by ``write(path)`` (False: it
        could not be). Entries whose tokens start these are dropped: this one serves
        every prompt they served. Failures are logged, never raised: a cache."""
        if len(tokens) < MIN_TOKENS or self._budget <= 0:
            return
        data = _tokens_bytes(tokens)
        name = hashlib.sha256(data).hexdigest()[:32]
        state = self._folder / f"{name}{STATE}"
        try:
            private_dir(self._folder)
            if state.exists():
                self.used(Entry(state, len(tokens)))
                return
            partial = state.with_suffix(".partial")
            if not write(partial):
                partial.unlink(missing_ok=True)
                log.warning("llama.cpp could not save the model's state to %s", partial)
                return
            os.replace(partial, state)
            partial_tokens = state.with_suffix(".partial-tokens")
            partial_tokens.write_bytes(data)
            os.replace(partial_tokens, state.with_suffix(TOKENS))
            self._drop_prefixes_of(tokens, keep=state)
            self._evict()
        except OSError:
            log.exception("the model's state could not be kept in %s", self._folder)

    def _drop_prefixes_of(self, tokens: Sequence[int], keep: Path) -> None:
        for tokens_file in self._folder.glob(f"*{TOKENS}"):
            state = tokens_file.with_suffix(STATE)
            if state == keep:
                continue
            with contextlib.suppress(OSError, ValueError):
                held = _read_tokens(tokens_file)
                if len(held) <= len(tokens) and common_prefix_length(held, tokens) == len(held):
                    _remove(state)

    def _evict(self) -> None:
        """Remove the least recently used entries (of every model) beyond the budget, and
        what a tui-chat killed while writing left behind."""
        stale = time.time() - STALE_PARTIAL_SECONDS
        for partial in self._root.glob("*/*.partial*"):
            with contextlib.suppress(OSError):
                if partial.stat().st_mtime < stale:
                    partial.unlink()
        entries = []
        for state in self._root.glob(f"*/*{STATE}"):
            with contextlib.suppress(OSError):
                st = state.stat()
                size = st.st_size + state.with_suffix(TOKENS).stat().st_size
                entries.append((st.st_mtime_ns, size, state))
        total = sum(size for _, size, _ in entries)
        for _, size, state in sorted(entries):
            if total <= self._budget:
                break
            _remove(state)
            total -= size


def _remove(state: Path) -> None:
    """Remove an entry: its tokens first, so that nobody picks a state on its way out."""
    with contextlib.suppress(OSError):
        state.with_suffix(TOKENS).unlink(missing_ok=True)
        state.unlink(missing_ok=True)
