"""A TextArea that takes pastes as text only."""

from __future__ import annotations

from textual import events
from textual.widgets import TextArea

from tui_chat.core.visible import visible


class LiteralTextArea(TextArea):
    """A ``TextArea`` whose pastes have their control characters made visible: a paste
    carrying escape sequences shows them as ␛[… and cannot act on the terminal."""

    def _on_paste(self, event: events.Paste) -> None:
        # Textual then runs TextArea's own handler (every class's in turn), which
        # inserts the text made safe here.
        event.text = visible(event.text)
