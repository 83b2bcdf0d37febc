"""The line under a message that begins versions of the conversation (a reply asked for
again, a message edited): ``◀ 2/3 ▶``, a click on an arrow shows the version before or
after it."""

from __future__ import annotations

from textual.message import Message
from textual.widget import Widget


def version_line(version: int, count: int) -> str:
    """``◀ 2/3 ▶`` ("" for a message with one version)."""
    return f"◀ {version}/{count} ▶" if count > 1 else ""


def step_at(line: str, x: int) -> int:
    """-1 for a click on the line's ◀, +1 on its ▶, 0 elsewhere (a cell's slack either
    side of each)."""
    if not line or x < 0 or x >= len(line):
        return 0
    if x <= 1:
        return -1
    return 1 if x >= len(line) - 2 else 0


class VersionAsked(Message):
    """The person asked for another version of the conversation from a message on."""

    def __init__(self, widget: Widget, version: int) -> None:
        super().__init__()
        self.widget = widget
        """The message's widget in the log."""
        self.version = version
        """The version asked for."""


def ask_version(widget: Widget, versions: tuple[int, int], step: int) -> None:
    """Post a ``VersionAsked`` for the version ``step`` away, if there is one."""
    version, count = versions
    if step and 1 <= version + step <= count:
        widget.post_message(VersionAsked(widget, version + step))
