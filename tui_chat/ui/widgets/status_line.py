"""The status line: model, state, speed and token counts of the last reply, and how much
of the context the open conversation takes."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from tui_chat.core.protocol import Usage
from tui_chat.ui.literal import literal


class StatusLine(Static):
    """One line under the input that says what the model is doing."""

    model_name: reactive[str] = reactive("")
    """The model's name, once loaded."""
    placement: reactive[str] = reactive("")
    """Where the model runs, as llama.cpp reported it ("CPU", "GPU 31/31 layers")."""
    state: reactive[str] = reactive("starting")
    """loading 40% / ready / reading prompt 512 of 1500 / generating / stopped / crashed …"""
    usage: reactive[Usage | None] = reactive(None)
    """Counts and timings of the last reply."""
    n_ctx: reactive[int] = reactive(0)
    """The model's context size, once loaded."""
    context_tokens: reactive[int | None] = reactive(None)
    """Tokens the open conversation takes in the context (None: not known)."""
    context_over: reactive[bool] = reactive(False)
    """The open conversation is longer than the context: its oldest messages are left out."""
    estimated: reactive[bool] = reactive(False)
    """Token counts are estimates (a server's model that does not report them)."""

    def render(self) -> Text:
        parts = [self.model_name or "no model yet", *([self.placement] * bool(self.placement))]
        parts.append(self.state)
        if self.usage is not None:
            u = self.usage
            if u.tokens_per_second:
                parts.append(f"{u.tokens_per_second:.1f} tok/s")
            parts.append(f"reply {u.completion_tokens} tokens")
        if self.context_over:
            parts.append("context full: the oldest messages are left out")
        elif self.context_tokens is not None and self.n_ctx:
            about = "~" if self.estimated else ""
            parts.append(f"context {about}{self.context_tokens}/{self.n_ctx}")
            if self.estimated:
                parts.append("token counts estimated")
        return literal(" · ".join(parts))
