"""A conversation: what the person said, what the model replied, and how each reply ended."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from tui_chat.core.options import CONVERSATION_KEYS, Value, parse
from tui_chat.core.protocol import ChatMessage, DoneReason, Role
from tui_chat.core.thinking import Split, split_reply

if TYPE_CHECKING:
    from tui_chat.core.store import StoredConversation


class TurnStatus(StrEnum):
    """The state of one message (as stored)."""

    COMPLETE = "complete"
    LENGTH = "length"
    """Complete as far as the token limit let it be: it may go on."""
    STREAMING = "streaming"
    STOPPED = "stopped"
    INTERRUPTED = "interrupted"
    FAILED = "failed"

    @classmethod
    def from_reason(cls, reason: DoneReason) -> TurnStatus:
        """The status a reply gets when it ends for ``reason``."""
        return {
            DoneReason.FINISHED: cls.COMPLETE,
            DoneReason.LENGTH: cls.LENGTH,
            DoneReason.STOPPED: cls.STOPPED,
            DoneReason.INTERRUPTED: cls.INTERRUPTED,
            DoneReason.ERROR: cls.FAILED,
        }[reason]

    @property
    def may_go_on(self) -> bool:
        """A reply with this status can be continued (it was cut, not finished)."""
        return self in (TurnStatus.LENGTH, TurnStatus.STOPPED, TurnStatus.INTERRUPTED)

    @classmethod
    def read(cls, stored: str) -> TurnStatus:
        """The status saved as ``stored``; complete if a newer tui-chat wrote one it
        does not know."""
        try:
            return cls(stored)
        except ValueError:
            return cls.COMPLETE

    @property
    def reason(self) -> DoneReason:
        """How a reply with this status ended (a saved "streaming" one was cut off)."""
        return {
            TurnStatus.COMPLETE: DoneReason.FINISHED,
            TurnStatus.LENGTH: DoneReason.LENGTH,
            TurnStatus.STREAMING: DoneReason.INTERRUPTED,
            TurnStatus.STOPPED: DoneReason.STOPPED,
            TurnStatus.INTERRUPTED: DoneReason.INTERRUPTED,
            TurnStatus.FAILED: DoneReason.ERROR,
        }[self]


@dataclass(slots=True)
class Turn:
    """One message of the conversation."""

    role: Role
    """Who said it."""
    parts: list[str] = field(default_factory=list)
    """The text, as it arrived (a reply grows piece by piece)."""
    status: TurnStatus = TurnStatus.COMPLETE
    """How far along the message is."""
    message_id: int | None = None
    """Its row in the store, once saved."""
    thinking: str | None = None
    """A reply read back: the thinking saved apart from its text, the answer (None: a
    reply as the model wrote it, thinking and answer in its text)."""
    version: int = 1
    """Its number among the versions of the conversation that begin with it."""
    versions: int = 1
    """How many versions begin with it (1: it was never asked for again or edited)."""

    @property
    def text(self) -> str:
        """The whole text so far."""
        return "".join(self.parts)

    def told_apart(self) -> Split:
        """The reply's thinking and answer (``core.thinking``)."""
        if self.thinking is not None:
            return Split(self.thinking, self.text)
        return split_reply(self.text)


def own_settings(saved: dict[str, object]) -> dict[str, Value]:
    """A conversation's own settings as saved: those it may have, each as it would be
    typed (what another tui-chat or a hand wrote otherwise is left out)."""
    own: dict[str, Value] = {}
    for key in CONVERSATION_KEYS:
        if (
            key in saved
            and isinstance(saved[key], int | float)
            and not isinstance(saved[key], bool)
        ):
            try:
                own[key] = parse(key, str(saved[key]))
            except ValueError:
                continue
    return own


@dataclass(slots=True)
class Conversation:
    """The messages of one chat, in order."""

    turns: list[Turn] = field(default_factory=list)
    """Every message so far."""
    system_prompt: str = ""
    """Instructions sent before the first message; empty means the template's default."""
    id: int | None = None
    """Its id in the store, once saved."""
    title: str = ""
    """Its title in the list of conversations."""
    context_start: int = 0
    """Index (in the whole conversation) of the first turn the model still gets; older
    ones were left out to fit."""
    first: int = 0
    """Index (in the whole conversation) of ``turns[0]``: earlier turns, which the model
    no longer gets, stay in the store until someone scrolls up to them."""
    settings: dict[str, Value] = field(default_factory=dict)
    """Its own settings (``CONVERSATION_KEYS``, named as in the settings file), where
    they differ from the defaults."""

    @classmethod
    def from_stored(cls, stored: StoredConversation) -> Conversation:
        """A conversation read back from the store (its messages from ``stored.first``)."""
        first = stored.first
        turns = [
            Turn(
                m.role,  # type: ignore[arg-type]
                [m.text],
                TurnStatus.read(m.status),
                m.id,
                m.thinking if m.role == "assistant" else None,
                m.version,
                fork.count if (fork := stored.forks.get(first + n)) else 1,
            )
            for n, m in enumerate(stored.messages)
            if m.role in ("user", "assistant")
        ]
        return cls(
            turns,
            stored.system_prompt,
            stored.info.id,
            stored.info.title,
            min(max(stored.context_start, first), first + len(turns)),
            first,
            own_settings(stored.settings),
        )

    @property
    def count(self) -> int:
        """Turns in the whole conversation, those still in the store included."""
        return self.first + len(self.turns)

    def add_user(self, text: str) -> Turn:
        """Record a message from the person."""
        turn = Turn("user", [text])
        self.turns.append(turn)
        return turn

    def start_reply(self) -> Turn:
        """Record the start of a reply; text is added to it as it streams."""
        turn = Turn("assistant", status=TurnStatus.STREAMING)
        self.turns.append(turn)
        return turn

    def prompt_turns(self, reply: Turn | None = None) -> list[Turn]:
        """The turns the model gets to write ``reply`` (or a next reply, for None): from
        ``context_start`` up to it.

        Stopped and interrupted replies stay in: the person saw them, so the next turn
        goes on from them. A failed reply (nothing generated) is left out.
        """
        end = len(self.turns) if reply is None else self._position(reply)
        return [
            t
            for t in self.turns[self.context_start - self.first : end]
            if not (t.role == "assistant" and t.status is TurnStatus.FAILED)
        ]

    @property
    def kept(self) -> int:
        """Leading messages that are never left out (the system prompt)."""
        return 1 if self.system_prompt else 0

    def messages_for(self, reply: Turn | None = None) -> list[ChatMessage]:
        """What the model gets to write ``reply`` (or a next reply, for None): of its
        replies, the answers, not the thinking before them (``core.thinking``)."""
        messages = [ChatMessage("system", self.system_prompt)] if self.system_prompt else []
        return messages + [
            ChatMessage(t.role, t.told_apart().answer if t.role == "assistant" else t.text)
            for t in self.prompt_turns(reply)
        ]

    def leave_out(self, reply: Turn, dropped: int) -> None:
        """The worker left the ``dropped`` oldest messages of ``reply``'s prompt out: the
        model's memory now begins after them, for this turn and the next ones."""
        sent = self.prompt_turns(reply)
        if 0 < dropped < len(sent):
            self.context_start = self.first + self._position(sent[dropped])

    def position(self, turn: Turn) -> int:
        """Index of ``turn`` in the whole conversation."""
        return self.first + self._position(turn)

    def cut(self, turn: Turn) -> None:
        """Leave out ``turn`` and every turn after it (another version of the
        conversation begins there; the store keeps this one)."""
        del self.turns[self._position(turn) :]
        self.context_start = min(self.context_start, self.count)

    def _position(self, turn: Turn) -> int:
        """Where ``turn`` itself is in ``turns``: by identity, as two messages may have
        the same text (and comparing whole texts would cost as much as they are long)."""
        for i in range(len(self.turns) - 1, -1, -1):  # the newest are asked for most
            if self.turns[i] is turn:
                return i
        raise ValueError("the turn is not in this conversation")

    def clear(self) -> None:
        """Forget every message."""
        self.turns.clear()
        self.context_start = self.first = 0
