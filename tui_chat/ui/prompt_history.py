"""The prompt history: ↑ and ↓ in an empty input walk through the messages the person
sent, this conversation's first, then those of the others, as a shell's history does.

The first ↑ puts the conversation's last message back to be edited: sent, it takes that
message's place, and what came after it is kept as another version.
"""

from __future__ import annotations

from dataclasses import dataclass

from tui_chat.core.conversation import Conversation, Turn
from tui_chat.service.store_worker import StoreWorker

FROM_OTHERS = 200
"""Messages of other conversations the history goes back to."""

EDITING = "Editing your message · Enter sends it in its place, the old one kept as a version · Esc"
"""The input's title while the last message is edited."""

RECALLED = "Sent before · Enter sends it again as a new message · ↑↓ · Esc"
"""The input's title while an older message is recalled."""


@dataclass(frozen=True, slots=True)
class Recalled:
    """A message of the history, put back in the input."""

    text: str
    edits: Turn | None
    """The message of the open conversation it replaces when sent (None: it is sent as
    a new message)."""

    @property
    def title(self) -> str:
        """What the input says Enter will do with it."""
        return EDITING if self.edits is not None else RECALLED


class PromptHistory:
    """Where the person is in the history of what they sent."""

    def __init__(self, store: StoreWorker) -> None:
        self._store = store
        self._entries: list[tuple[str, Turn | None]] = []
        self._at = -1
        """Index in ``_entries`` of the message shown (-1: none, the person's own)."""

    def leave(self) -> None:
        """The input is the person's own again; the next ↑ reads the history anew."""
        self._entries, self._at = [], -1

    async def step(self, conversation: Conversation, step: int) -> Recalled | None:
        """The message ``step`` older (-1) or newer (+1) than the one shown; None past
        the newest (the input empties) or when there is nothing older."""
        if self._at < 0 and step > 0:
            return None
        if self._at < 0:
            self._entries = await self._read(conversation)
        at = self._at - step
        if at >= len(self._entries):
            at = self._at  # the oldest: it stays
        if at < 0:
            self.leave()
            return None
        self._at = at
        if not self._entries:
            return None
        text, turn = self._entries[at]
        return Recalled(text, turn if at == 0 else None)

    async def _read(self, conversation: Conversation) -> list[tuple[str, Turn | None]]:
        own = [t for t in reversed(conversation.turns) if t.role == "user"]
        entries: list[tuple[str, Turn | None]] = [(t.text, t) for t in own]
        conversation_id = conversation.id
        try:
            others = await self._store.call(lambda s: s.sent_before(conversation_id, FROM_OTHERS))
        except Exception:
            others = []
        seen = {text for text, _ in entries}
        for text in others:
            if text not in seen:
                seen.add(text)
                entries.append((text, None))
        return entries
