"""Reading a conversation back: the entries before the log's first one, built a page at a
time as the person scrolls up (from the turns the open conversation holds, then from the
store), the page above read ahead while the person reads, and entries found again by
their message id."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from textual.widget import Widget

from tui_chat.core.conversation import Conversation, Turn, TurnStatus
from tui_chat.service.store_worker import StoreWorker
from tui_chat.ui.widgets.chat_log import SHOWN_PER_SCROLL, ChatLog, Entry

_Page = tuple[list[tuple[int | None, int | None]], list[Widget]]
"""Entries read back: (the turn's key in the view's widgets, if the conversation holds
it; its message id), and their widgets, oldest first."""


def entry(turn: Turn) -> Entry:
    """A turn as the log builds it read back: a reply's answer, its thinking apart."""
    versions = (turn.version, turn.versions)
    if turn.role != "assistant":
        return turn.role, turn.text, turn.status.reason, "", versions
    told = turn.told_apart()
    return turn.role, told.answer, turn.status.reason, told.thinking, versions


@dataclass(frozen=True, slots=True, eq=False)
class _Ahead:
    """A page being read ahead: ``n`` entries up to index ``end`` of ``conversation``."""

    conversation: Conversation
    end: int
    n: int
    task: asyncio.Task[_Page | None]

    def is_for(self, conversation: Conversation, end: int, n: int) -> bool:
        return self.conversation is conversation and (self.end, self.n) == (end, n)


class ReadBack:
    """What of the open conversation the log has built, and builds more of it."""

    def __init__(
        self,
        store: StoreWorker,
        log: Callable[[], ChatLog],
        widgets: dict[int, Widget],
        after_page: Callable[[], Awaitable[None]],
    ) -> None:
        """
        Args:
            store: The conversation store.
            log: The view's log.
            widgets: The view's entries by ``id(turn)``, for the turns it holds.
            after_page: Called once a page is in the log (to place the memory marker).
        """
        self._store = store
        self._log = log
        self._widgets = widgets
        self._after_page = after_page
        self._conversation = Conversation()
        self.built_from = 0
        """Index (in the whole conversation) of the oldest turn in the log."""
        self._oldest: int | None = None
        """Its message id in the store."""
        self._by_message: dict[int, Widget] = {}
        self._ahead: _Ahead | None = None
        """The page above the log's first entry, being read and built ahead."""
        self._frozen = False
        """Pages read back are frozen out of the garbage collector's view."""
        self._building = asyncio.Lock()

    def start(self, conversation: Conversation, shown: list[Turn], widgets: list[Widget]) -> None:
        """``conversation`` is open, the log cleared and holding ``widgets`` for its turns
        ``shown`` (the last ones): earlier ones are built as the person scrolls up."""
        self._by_message.clear()
        self._drop_ahead()
        log = self._log()
        if self._frozen:
            # The pages read back are gone: their widgets are the collector's again, and
            # collected once the new conversation is drawn rather than in a later pause.
            gc.unfreeze()
            self._frozen = False
            log.call_after_refresh(gc.collect)
        self._conversation = conversation
        for turn, widget in zip(shown, widgets, strict=True):
            self._widgets[id(turn)] = widget
            if turn.message_id is not None:
                self._by_message[turn.message_id] = widget
        self.built_from = conversation.count - len(shown)
        self._oldest = shown[0].message_id if shown else None
        log.set_earlier(self.built_from, self.build_earlier)
        log.call_after_refresh(self._read_ahead)

    def widget(self, message_id: int) -> Widget | None:
        """The log's entry of a stored message, if it is built."""
        return self._by_message.get(message_id)

    def forget(self, widgets: list[Widget]) -> None:
        """``widgets`` left the log (another version of the conversation begins there)."""
        gone = set(map(id, widgets))
        for message_id in [m for m, w in self._by_message.items() if id(w) in gone]:
            del self._by_message[message_id]

    def message_of(self, widget: Widget) -> int | None:
        """The message id of an entry read back (None if it is not one)."""
        return next((m for m, w in self._by_message.items() if w is widget), None)

    async def build_earlier(self, n: int) -> int:
        """Put up to ``n`` entries before the oldest one in the log. Returns how many are
        left to build."""
        # One page at a time, and none asked for from where the log began before another
        # page was put in (the log filling the screen while a search goes back to its
        # message): it would land above that one, and past what was asked.
        end = self.built_from
        async with self._building:
            if self.built_from != end:
                return self.built_from
            return await self._build_earlier(n)

    async def _build_earlier(self, n: int) -> int:
        conversation, end = self._conversation, self.built_from
        ahead, self._ahead = self._ahead, None
        if ahead is not None and ahead.is_for(conversation, end, n):
            page = await ahead.task
        else:
            if ahead is not None:
                ahead.task.cancel()
            page = await self._read(conversation, end, n)
        if page is None or conversation is not self._conversation:
            return 0  # another conversation was opened meanwhile
        rows, widgets = page
        await self._log().put_earlier(widgets)
        for (key, message_id), widget in zip(rows, widgets, strict=True):
            if key is not None:
                self._widgets[key] = widget
            if message_id is not None:
                self._by_message[message_id] = widget
        self.built_from = end - len(rows)
        if rows:
            self._oldest = rows[0][1]
        await self._after_page()
        # Entries read back stay until the log is cleared: out of the collector's view,
        # its full passes do not walk them (a thousand messages read back made each such
        # pass a 130 ms pause).
        gc.freeze()
        self._frozen = True
        self._log().call_after_refresh(self._read_ahead)
        return self.built_from

    def _read_ahead(self) -> None:
        """Read and build the page above while the person reads this one: scrolling up
        then only shows it."""
        conversation, end = self._conversation, self.built_from
        if self._ahead is None and end > 0:
            task = asyncio.create_task(self._read(conversation, end, SHOWN_PER_SCROLL))
            self._ahead = _Ahead(conversation, end, SHOWN_PER_SCROLL, task)

    def _drop_ahead(self) -> None:
        if self._ahead is not None:
            self._ahead.task.cancel()
            self._ahead = None

    async def _read(self, conversation: Conversation, end: int, n: int) -> _Page | None:
        """The ``n`` entries before index ``end`` of ``conversation``, read and built (not
        mounted); None if another conversation was opened meanwhile."""
        start, first = max(0, end - n), conversation.first
        held = conversation.turns[max(0, start - first) : max(0, end - first)]
        rows: list[tuple[int | None, int | None]] = [(id(t), t.message_id) for t in held]
        entries = [entry(t) for t in held]
        missing = (end - start) - len(held)
        before = held[0].message_id if held else self._oldest
        if missing and conversation.id is not None and before is not None:
            conversation_id = conversation.id
            stored, forks = await self._store.call(
                lambda s: (
                    s.messages_before(conversation_id, before, missing),
                    s.forks(conversation_id, start, end),
                )
            )
            if conversation is not self._conversation:
                return None
            rows[:0] = [(None, m.id) for m in stored]
            entries[:0] = [
                (
                    m.role,
                    m.text,
                    TurnStatus.read(m.status).reason,
                    m.thinking,
                    (m.version, fork.count if (fork := forks.get(start + n)) else 1),
                )
                for n, m in enumerate(stored)
            ]
        return rows, self._log().build_earlier(entries)
