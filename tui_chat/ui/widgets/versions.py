"""What a click or a key on a message in the log asks for: another version of the
conversation (the line ``◀ 2/3 ▶`` under a message that begins versions: a reply asked
for again, a message edited), or a copy of it or of one of its code blocks."""

from __future__ import annotations

from textual.events import Click
from textual.message import Message
from textual.widget import Widget

from tui_chat.ui.widgets.markdown_lines import clicked_code


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


class CopyAsked(Message):
    """A message's Markdown, or one of its code blocks, to copy."""

    def __init__(self, text: str, what: str) -> None:
        super().__init__()
        self.text = text
        self.what = what
        """What it is, in words ("the reply", "the code block")."""


def act_on_click(widget: Widget, click: Click, versions: tuple[int, int], last_line: int) -> bool:
    """Ask for what a click on a message's version line (its ``last_line``) or a code
    block's copy line asks for; False if it was on neither."""
    line = version_line(*versions)
    at = click.get_content_offset(widget)  # inside the border and padding
    if line and at is not None and at.y == last_line:
        ask_version(widget, versions, step_at(line, at.x))
        return True
    code = clicked_code(click)
    if code is not None:
        widget.post_message(CopyAsked(code, "the code block"))
        return True
    return False
