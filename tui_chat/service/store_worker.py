"""The conversation store on a thread of its own, so that the UI never waits on the disk.

Every call runs on one thread, in the order it was made (SQLite connections belong to
the thread that opened them). ``call`` returns an awaitable result; ``submit`` is fire
and forget, its failures reported once through ``on_error``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from tui_chat.core.store import Store
    from tui_chat.core.store_files import OpenedStore

T = TypeVar("T")
log = logging.getLogger(__name__)


class StoreWorker:
    """Owns the ``Store`` and the thread it runs on."""

    def __init__(self, path: Path | None, on_error: Callable[[str], None]) -> None:
        """
        Args:
            path: The store's file; None keeps the store in memory.
            on_error: Hears, on the store's thread, the first failure of a write (and
                the first after one that worked again).
        """
        self._path = path
        self._on_error = on_error
        self._executor: ThreadPoolExecutor | None = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="store"
        )
        self._opened: Future[OpenedStore] = self._executor.submit(self._open)
        self._failed = False

    def _open(self) -> OpenedStore:
        # Imported here, on the store's thread: sqlite3 and the schema are not needed
        # to draw the first frame.
        from tui_chat.core.store import Store
        from tui_chat.core.store_files import OpenedStore, open_store

        if self._path is None:
            return OpenedStore(Store.in_memory())
        return open_store(self._path)

    @property
    def is_open(self) -> bool:
        """True once opening the store has ended (``opened`` then answers at once)."""
        return self._opened.done()

    async def opened(self) -> OpenedStore:
        """The store, once open, and what went wrong opening it ("" if nothing)."""
        return await asyncio.wrap_future(self._opened)

    async def call(self, work: Callable[[Store], T]) -> T:
        """Run ``work(store)`` on the store's thread and wait for its result.

        Raises:
            sqlite3.Error: The work failed (the disk is full, say).
            RuntimeError: The store was closed.
        """
        if self._executor is None:
            raise RuntimeError("the conversation store is closed")
        return await asyncio.wrap_future(self._executor.submit(self._run, work))

    def submit(self, work: Callable[[Store], object]) -> None:
        """Run ``work(store)`` on the store's thread; failures go to ``on_error``."""
        if self._executor is not None:
            self._executor.submit(self._run_reporting, work)

    def _run(self, work: Callable[[Store], T]) -> T:
        return work(self._opened.result().store)

    def _run_reporting(self, work: Callable[[Store], object]) -> None:
        import sqlite3  # on the store's thread, not in the UI's start-up

        try:
            self._run(work)
        except sqlite3.Error as e:
            log.exception("store write failed")
            if not self._failed:
                self._failed = True
                self._on_error(self.failure(e))
        else:
            self._failed = False

    def failure(self, error: Exception) -> str:
        """What to tell a person when a write failed with ``error``."""
        if "FOREIGN KEY constraint failed" in str(error):
            # Its conversation is gone: deleted in another tui-chat.
            return (
                "This conversation was deleted in another tui-chat: what is written in it "
                "now is not saved. Ctrl+N starts a new conversation, which is."
            )
        where = f" {self._path}" if self._path is not None else ""
        return (
            f"Could not save to the conversation store{where}: {error}. What could not "
            "be saved is only on screen."
        )

    def close_now(self) -> None:
        """Finish queued work, close the database and stop the thread (blocking)."""
        if self._executor is None:
            return
        executor, self._executor = self._executor, None
        executor.submit(lambda: self._opened.result().store.close())
        executor.shutdown(wait=True)
