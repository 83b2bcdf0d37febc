"""A conversation: what the person said, what the model replied, and how each reply ended."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from tui_chat.core.protocol import ChatMessage, DoneReason, Role


class TurnStatus(StrEnum):
    """The state of one message."""

    COMPLETE = "complete"
    STREAMING = "streaming"
    STOPPED = "stopped"
    INTERRUPTED = "interrupted"
    FAILED = "failed"

    @classmethod
    def from_reason(cls, reason: DoneReason) -> TurnStatus:
        """The status a reply gets when it ends for ``reason``."""
        return {
            DoneReason.FINISHED: cls.COMPLETE,
            DoneReason.LENGTH: cls.COMPLETE,
            DoneReason.STOPPED: cls.STOPPED,
            DoneReason.INTERRUPTED: cls.INTERRUPTED,
            DoneReason.ERROR: cls.FAILED,
        }[reason]


@dataclass(slots=True)
class Turn:
    """One message of the conversation."""

    role: Role
    """Who said it."""
    parts: list[str] = field(default_factory=list)
    """The text, as it arrived (a reply grows piece by piece)."""
    status: TurnStatus = TurnStatus.COMPLETE
    """How far along the message is."""

    @property
    def text(self) -> str:
        """The whole text so far."""
        return "".join(self.parts)


@dataclass(slots=True)
class Conversation:
    """The messages of one chat, in order."""

    turns: list[Turn] = field(default_factory=list)
    """Every message so far."""
    system_prompt: str = ""
    """Instructions sent before the first message; empty means the template's default."""

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

    def messages_for(self, reply: Turn) -> list[ChatMessage]:
        """What the model gets to write ``reply``: everything before it.

        Stopped and interrupted replies stay in: the person saw them, so the next turn
        goes on from them. A failed reply (nothing generated) is left out.
        """
        messages: list[ChatMessage] = []
        if self.system_prompt:
            messages.append(ChatMessage("system", self.system_prompt))
        for turn in self.turns:
            if turn is reply:
                break
            if turn.role == "assistant" and turn.status is TurnStatus.FAILED:
                continue
            messages.append(ChatMessage(turn.role, turn.text))
        return messages

    def clear(self) -> None:
        """Forget every message."""
        self.turns.clear()
