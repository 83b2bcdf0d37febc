"""A banner at the top of the screen for what the person must know and act on: the crash
breaker, a model that cannot load, a conversation store that cannot be used."""

from __future__ import annotations

from textual.widgets import Static

from tui_chat.ui.literal import literal


class Banner(Static):
    """Hidden while there is nothing to say; shows each current message on its own line."""

    DEFAULT_CSS = """
    Banner {
        display: none;
        background: $error;
        color: $text;
        padding: 0 1;
        height: auto;
        dock: top;
    }
    Banner.-shown { display: block; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._messages: dict[str, str] = {}

    def show(self, message: str, key: str = "model") -> None:
        """Show ``message`` (literal text, never markup) under ``key``, replacing the
        message that key had."""
        self._messages[key] = message
        self._refresh()

    def hide(self, key: str = "model") -> None:
        """Take the message of ``key`` away."""
        self._messages.pop(key, None)
        self._refresh()

    def _refresh(self) -> None:
        self.update(literal("\n".join(self._messages.values())))
        self.set_class(bool(self._messages), "-shown")

    @property
    def shown(self) -> bool:
        """True while the banner is visible."""
        return bool(self._messages)

    def message(self, key: str = "model") -> str:
        """What the banner says under ``key`` ("" if nothing)."""
        return self._messages.get(key, "")
