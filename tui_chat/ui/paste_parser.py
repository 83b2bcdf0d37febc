"""Terminal input where a bracketed paste is only ever text.

Textual's input parser (8.2.8; docs/upstream.md) treats an escape character inside a
bracketed paste as the start of a key sequence: the characters after it leave the paste
and arrive as key presses. A pasted escape sequence followed by a line break then presses Enter (the
message is sent half-pasted), and a pasted ESC followed by Ctrl+Q quits. This parser
takes everything between the paste's start and end markers as the paste's text, as the
bracketed-paste protocol means it, and leaves the rest to Textual's parser.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from textual import events
from textual.message import Message

from tui_chat.ui.textual_compat import TerminalInputParser, use_input_parser

PASTE_START = "\x1b[200~"
PASTE_END = "\x1b[201~"
ESCAPE_DELAY = 0.02
"""How long an ESC at the end of a read waits for the rest of a paste marker before it
is taken as the Escape key."""


def _partial_marker(data: str, marker: str) -> int:
    """Length of the longest end of ``data`` that begins ``marker`` (a marker split
    between two reads)."""
    for size in range(min(len(marker) - 1, len(data)), 0, -1):
        if marker.startswith(data[-size:]):
            return size
    return 0


class PasteSafeParser(TerminalInputParser):
    """Textual's parser, with bracketed pastes taken whole before it sees them."""

    def __init__(self, debug: bool = False) -> None:
        super().__init__(debug)
        self._pasted: list[str] | None = None
        """The text of the paste being read, or None outside a paste."""
        self._held = ""
        """The end of the last read, if it may be the start of a paste marker."""
        self._held_at = 0.0

    def tick(self) -> Iterable[Message]:
        if self._pasted is None and self._held and time.monotonic() - self._held_at >= ESCAPE_DELAY:
            held, self._held = self._held, ""
            if held == "\x1b":
                yield events.Key("escape", held)  # nothing followed: the Escape key
            else:
                yield from super().feed(held)
        yield from super().tick()

    def feed(self, data: str) -> Iterable[Message]:
        if not data:
            yield from super().feed(data)
            return
        data, self._held = self._held + data, ""
        while data:
            if self._pasted is None:
                start = data.find(PASTE_START)
                if start < 0:
                    held = _partial_marker(data, PASTE_START)
                    if held:
                        # Perhaps a split marker; a lone ESC is the Escape key if
                        # nothing follows it soon (see tick).
                        data, self._held = data[:-held], data[-held:]
                        self._held_at = time.monotonic()
                    if data:
                        yield from super().feed(data)
                    return
                if start:
                    yield from super().feed(data[:start])
                self._pasted = []
                data = data[start + len(PASTE_START) :]
            else:
                end = data.find(PASTE_END)
                if end < 0:
                    held = _partial_marker(data, PASTE_END)
                    if held:
                        data, self._held = data[:-held], data[-held:]
                    self._pasted.append(data)
                    return
                self._pasted.append(data[:end])
                yield events.Paste("".join(self._pasted))
                self._pasted = None
                data = data[end + len(PASTE_END) :]


def install() -> None:
    """Make Textual's Linux/macOS driver read input with ``PasteSafeParser``."""
    use_input_parser(PasteSafeParser)
