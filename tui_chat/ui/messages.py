"""Textual messages that carry what the service and the store report into the app."""

from __future__ import annotations

from textual.message import Message

from tui_chat.service.events import ServiceEvent


class ServiceMessage(Message):
    """An event from the model service, delivered on the app's message queue."""

    def __init__(self, event: ServiceEvent) -> None:
        super().__init__()
        self.event = event
        """What the service reported."""


class StoreRecovered(Message):
    """A new conversation was saved: a failure to save an earlier one is behind."""


class StoreFailed(Message):
    """The conversation store could not save something."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
