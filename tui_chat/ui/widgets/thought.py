"""The line a reasoning model's thinking is folded into above its answer, for a reply
that streams and one read back alike, and the thinking under it once unfolded."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text

from tui_chat.ui.literal import literal


def fold_line(what: str, shown: bool) -> str:
    """``▸ Thought for 312 tokens — click to show``; ``▾ … to hide`` once unfolded."""
    fold, act = ("▾", "hide") if shown else ("▸", "show")
    return f"{fold} {what} — click to {act}"


def folded(line: str, thought: str, shown: bool, style: Style) -> Text:
    """The fold line, and the thinking under it when it is shown (both as written)."""
    text = literal(line, style=style)
    if shown and thought:
        text.append("\n" + thought, style=style)
    return text
