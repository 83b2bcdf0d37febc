"""Copying to the clipboard through the terminal (OSC 52), and saying what was copied."""

from __future__ import annotations

from textual.widget import Widget


def copy_text(widget: Widget, text: str, what: str) -> None:
    """Copy ``text`` (``what`` it is, in words) and say so; some terminals ignore the
    request, and the message says what to do there."""
    widget.app.copy_to_clipboard(text)
    widget.notify(
        f"Copied {what}: {len(text):,} characters. (Through the terminal: a few terminals "
        "ignore this; select the text with the mouse there.)"
    )
