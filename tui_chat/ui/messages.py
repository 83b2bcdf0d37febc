"""Textual messages that carry service events into the app."""

from __future__ import annotations

from textual.message import Message

from tui_chat.service.events import ServiceEvent


class ServiceMessage(Message):
    """An event from the model service, delivered on the app's message queue."""

    def __init__(self, event: ServiceEvent) -> None:
        super().__init__()
        self.event = event
        """What the service reported."""
