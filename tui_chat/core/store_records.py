"""What the store hands out: a conversation, its messages, and its line in the list;
and the title a conversation takes from its first message.

Plain frozen records, read from SQLite rows in column order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tui_chat.core.store_versions import Fork

TITLE_LENGTH = 60


@dataclass(frozen=True, slots=True)
class ConversationInfo:
    """One line of the conversation list."""

    id: int
    title: str
    created: float
    updated: float
    model: str
    message_count: int


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """One message as saved."""

    id: int
    role: str
    text: str
    status: str
    prompt_tokens: int | None
    completion_tokens: int | None
    created: float
    updated: float
    thinking: str = ""
    """A reasoning model's thinking before the text, its answer ("" if none)."""
    version: int = 1
    """Its number among the versions of the conversation that begin with it."""


@dataclass(frozen=True, slots=True)
class StoredConversation:
    """A conversation, with all its messages or the newest of them."""

    info: ConversationInfo
    system_prompt: str
    context_start: int
    """Index of the first message the model still gets (older ones were left out)."""
    messages: list[StoredMessage] = field(default_factory=list)
    """Its messages, oldest first, from the one at index ``first``."""
    first: int = 0
    """Index of ``messages[0]`` in the whole conversation (0: every message is here)."""
    forks: dict[int, Fork] = field(default_factory=dict)
    """Where the conversation has versions, from ``first`` on, by message index."""
    settings: dict[str, object] = field(default_factory=dict)
    """Its own settings (``core.options`` names), where they are not the defaults."""


MATCH_START, MATCH_END = "\x02", "\x03"
"""Around each match in a ``Found.line`` (characters no message holds on screen)."""


@dataclass(frozen=True, slots=True)
class Found:
    """A message that matches a search."""

    conversation_id: int
    title: str
    message_id: int
    role: str
    created: float
    line: str
    """The matching line (a part of it, if long), each match between ``MATCH_START``
    and ``MATCH_END``."""


def title_from(text: str) -> str:
    """A title from the first user message: its first line, trimmed, at most 60 characters."""
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line if len(line) <= TITLE_LENGTH else line[: TITLE_LENGTH - 1].rstrip() + "…"


def matching_line(snippet: str) -> str:
    """The line of a snippet that holds its first match."""
    lines = snippet.splitlines() or [snippet]
    return next((line for line in lines if MATCH_START in line), lines[0]).strip()
