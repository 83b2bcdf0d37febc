"""The chat log: the person's messages, the model's streamed replies, and notices."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.events import Click
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Static

from tui_chat.core.protocol import DoneReason
from tui_chat.core.settings import STREAM_CPU_BUDGET
from tui_chat.ui.literal import literal
from tui_chat.ui.textual_compat import SizedOnce
from tui_chat.ui.widgets.earlier_reply import EarlierReply
from tui_chat.ui.widgets.log_folding import (
    SHOWN_AT_MOST,
    SHOWN_PER_SCROLL,
    EarlierLine,
    FoldingLog,
)
from tui_chat.ui.widgets.markdown_lines import code_blocks
from tui_chat.ui.widgets.reply import REPLY_ENDINGS, Reply
from tui_chat.ui.widgets.versions import CopyAsked, act_on_click, ask_version, version_line

__all__ = [
    "SHOWN_AT_MOST",
    "SHOWN_PER_SCROLL",
    "ChatLog",
    "EarlierReply",
    "Notice",
    "Reply",
    "UserMessage",
]

LONG_MESSAGE_CHARS = 20_000
"""A message longer than this is shown shortened in the log (it is sent whole)."""
SHOWN_OF_LONG_MESSAGE = 2_000


def _shown_message(text: str) -> Text:
    if len(text) > LONG_MESSAGE_CHARS:
        # The log lays out what it shows: a megabyte would freeze it for seconds.
        rest = text[SHOWN_OF_LONG_MESSAGE:]
        breaks = rest.count("\n")
        lines = f" on {breaks:,} more {'line' if breaks == 1 else 'lines'}" if breaks else ""
        text = (
            f"{text[:SHOWN_OF_LONG_MESSAGE]}…\n[{len(rest):,} more characters{lines}, not "
            "shown here: the message is kept whole]"
        )
    return literal(text)


MEMORY_MARKER = "The model no longer remembers the messages above (they no longer fit its context)."


Entry = tuple[str, str, DoneReason, str, tuple[int, int]]
"""A message read back: role, text (a reply's answer), how a reply ended, its thinking,
(its number, how many) among the versions that begin with it."""


def message_source(widget: Widget | None) -> str:
    """What a message in the log says, as written (a reply's Markdown)."""
    if isinstance(widget, UserMessage | Reply | EarlierReply):
        return widget.source
    return ""


class UserMessage(SizedOnce, Static):
    """What the person sent, shown literally (never parsed as markup), and which of its
    versions it is, if it was edited."""

    def __init__(self, text: str, versions: tuple[int, int] = (1, 1)) -> None:
        self._text = text
        self.versions = versions
        """(its number, how many) among the versions that begin with it."""
        super().__init__(self._shown(), classes="user")

    def _shown(self) -> Text:
        shown = _shown_message(self._text)
        line = version_line(*self.versions)
        if line:
            shown.append("\n" + line, style="dim")
        return shown

    @property
    def source(self) -> str:
        """The message as written."""
        return self._text

    def set_text(self, text: str) -> None:
        """Show ``text`` instead."""
        self._text = text
        self.update(self._shown())

    def set_versions(self, version: int, count: int) -> None:
        """Say that it is version ``version`` of ``count``."""
        self.versions = (version, count)
        self.update(self._shown())

    def on_click(self, event: Click) -> None:
        act_on_click(self, event, self.versions, self.content_size.height - 1)


class Notice(SizedOnce, Static):
    """A line from tui-chat itself: a crash, a restart, a cleared chat."""

    def __init__(self, text: str, *, kind: str = "info") -> None:
        super().__init__(literal(text), classes=f"notice {kind}")


class ChatLog(FoldingLog):
    """The scrolling conversation; stays pinned to the bottom while replies stream.
    What is folded away and built as the person scrolls: ``FoldingLog``.

    The widgets for the next message and its reply wait at the end of the log, mounted
    but hidden, from the time the model is idle: sending then only shows them. Mounting
    them (compose, styles, mount events) in the moment after Enter would take CPU from
    the model reading the prompt."""

    BINDINGS = [  # noqa: RUF012 (Textual's own declaration style)
        Binding("up", "select(-1)", "Previous message", show=False),
        Binding("down", "select(1)", "Next message", show=False),
        Binding("left", "version(-1)", "Version before", show=False),
        Binding("right", "version(1)", "Version after", show=False),
        Binding("e", "edit", "Edit"),
        Binding("b", "copy_code", "Copy code"),
        Binding("t", "toggle_thinking", "Thinking"),
    ]

    class EditAsked(Message):
        """``e`` on a message the person sent: to be edited and sent again."""

        def __init__(self, widget: UserMessage) -> None:
            super().__init__()
            self.widget = widget

    _selected: Widget | None = None
    _code_block = 0
    """Which code block of the selected message ``b`` copies next."""

    @property
    def selected(self) -> Widget | None:
        """The message ↑ and ↓ moved to while the log has the focus (None: none yet)."""
        return self._selected if self._selected in self.children else None

    def _messages(self) -> list[Widget]:
        return [
            w
            for w in self.entries
            if isinstance(w, UserMessage | Reply | EarlierReply) and w.display
        ]

    def select(self, widget: Widget | None, *, show: bool = True) -> None:
        """Make ``widget`` the selected message, and (with ``show``) scroll it into view."""
        if self._selected is not None:
            self._selected.remove_class("selected")
        before = self._keys_shown()
        self._selected, self._code_block = widget, 0
        # A footer redraw costs tens of ms of CPU (the model's, while a reply streams):
        # only when its keys change.
        if self.is_attached and self._keys_shown() != before:
            self.screen.refresh_bindings()
        if widget is not None:
            widget.add_class("selected")
            if show:
                tall = widget.size.height > self.size.height
                self.scroll_to_widget(widget, animate=False, top=tall)

    def action_select(self, step: int) -> None:
        """Select the message before or after the selected one (↑ / ↓)."""
        messages = self._messages()
        if not messages:
            return
        current = self.selected
        at = messages.index(current) + step if current in messages else len(messages) - 1
        self.select(messages[max(0, min(at, len(messages) - 1))])

    def on_focus(self) -> None:
        # Not scrolled to: focus comes with a mouse press too, and the click it begins
        # must land where the person pressed.
        messages = self._messages()
        if self.selected is None and messages:
            self.select(messages[-1], show=False)

    def on_click(self, event: Click) -> None:
        """A click on a message selects it."""
        widget = event.widget
        while widget is not None and widget.parent is not self:
            widget = widget.parent if isinstance(widget.parent, Widget) else None
        if widget in self._messages():
            self.select(widget, show=False)

    def _keys_shown(self) -> tuple[bool, bool]:
        """Whether the footer shows ``e`` and ``b`` for the selected message."""
        selected = self.selected
        return isinstance(selected, UserMessage), bool(code_blocks(message_source(selected)))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The footer shows a key for the selected message only where it does something."""
        if action == "edit":
            return self._keys_shown()[0]
        if action == "copy_code":
            return self._keys_shown()[1]
        if action == "toggle_thinking":
            return any(
                isinstance(w, Reply | EarlierReply) and w.thinking_line for w in self.children
            )
        return True

    def action_version(self, step: int) -> None:
        """The version before or after of the selected message (← / →)."""
        widget = self.selected
        versions = getattr(widget, "versions", (1, 1))
        if widget is not None and versions[1] > 1:
            ask_version(widget, versions, step)

    def action_edit(self) -> None:
        """Edit the selected message and send it again (``e``)."""
        if isinstance(self.selected, UserMessage):
            self.post_message(self.EditAsked(self.selected))
        else:
            self.notify("Select a message you sent (↑ ↓) to edit it; Ctrl+G asks a reply again.")

    def action_copy_code(self) -> None:
        """Copy a code block of the selected message (``b``; again: the next one)."""
        widget = self.selected
        blocks = code_blocks(message_source(widget)) if widget is not None else []
        if not blocks:
            self.notify("The selected message has no code block.")
            return
        n = self._code_block % len(blocks)
        self._code_block = n + 1
        what = "the code block" if len(blocks) == 1 else f"code block {n + 1} of {len(blocks)}"
        self.post_message(CopyAsked(blocks[n], what))

    hide_thinking = False
    """Replies read back show no line for a reasoning model's thinking (``show_thinking``)."""

    def action_toggle_thinking(self) -> bool:
        """Unfold the newest reply's thinking, or fold it again (``t`` while the log has
        the focus, as in a pager); False if no reply here thought first."""
        for widget in reversed(self.children):
            if isinstance(widget, Reply | EarlierReply) and widget.thinking_line:
                widget.toggle_thought()
                return True
        return False

    def compose(self) -> ComposeResult:
        yield EarlierLine("", classes="notice earlier")

    def on_mount(self) -> None:
        self.query_one(EarlierLine).display = False
        self._spare: tuple[UserMessage, Reply] | None = None
        """Hidden widgets for the next exchange (used once both are mounted)."""
        self._marker: Notice | None = None
        self.anchor()
        # Not in the first frames: start-up is measured to the input being drawn.
        self.set_timer(0.5, self.prepare)

    @property
    def entries(self) -> list[Widget]:
        """Messages, replies and notices, oldest first, folded ones included."""
        spare = self._spare or ()
        return [w for w in self.children if not isinstance(w, EarlierLine) and w not in spare]

    def build_earlier(self, entries: list[Entry]) -> list[Widget]:
        """Widgets for entries read back: (role, text, how a reply ended, its thinking),
        oldest first; replies already rendered at the width of those in the log, if it
        has any."""
        widgets: list[Widget] = [
            UserMessage(text, versions)
            if role == "user"
            else EarlierReply(
                text,
                REPLY_ENDINGS.get(reason, ""),
                "" if self.hide_thinking else thinking,
                versions,
            )
            for role, text, reason, thinking, versions in entries
        ]
        width = next(
            (w.size.width for w in self.entries if isinstance(w, EarlierReply) and w.size.width),
            0,
        )
        if width:
            for widget in widgets:
                if isinstance(widget, EarlierReply):
                    widget.render_at(width)
        return widgets

    async def put_earlier(self, widgets: list[Widget]) -> None:
        """Mount widgets built by ``build_earlier`` before the first entry in the log."""
        await self.mount_all(widgets, after=self.query_one(EarlierLine))

    async def _append(self, *widgets: Widget) -> None:
        """Mount ``widgets`` at the end of the log, before the spare exchange."""
        before = self._spare[0] if self._spare and self._spare[0].parent is self else None
        await self.mount_all(widgets, before=before)

    async def add_user(self, text: str) -> UserMessage:
        """Show a message the person sent."""
        widget = UserMessage(text)
        self.fold(room=1)
        await self._append(widget)
        return widget

    async def add_reply(self, cpu_budget: float | None = STREAM_CPU_BUDGET) -> Reply:
        """Start a reply that tokens will stream into."""
        widget = Reply(cpu_budget)
        self.fold(room=1)
        await self._append(widget)
        self.anchor()
        return widget

    def prepare(self) -> None:
        """Mount hidden widgets for the next exchange, if there are none (call it when
        the model is idle: the mount costs CPU the model would otherwise have)."""
        if self._spare is None and self.is_attached:
            message, reply = UserMessage(""), Reply()
            message.display = reply.display = False
            self._spare = message, reply
            self.call_after_refresh(self._mount_spare, message, reply)

    async def _mount_spare(self, message: UserMessage, reply: Reply) -> None:
        if self._spare == (message, reply) and self.is_attached:
            await self.mount_all([message, reply])

    def new_exchange(
        self, text: str, cpu_budget: float | None = STREAM_CPU_BUDGET
    ) -> tuple[UserMessage, Reply]:
        """The widgets for a message the person sent and the reply to it: the spare ones
        if they are mounted, else new ones."""
        if self._spare is None or not all(w.is_mounted for w in self._spare):
            return UserMessage(text), Reply(cpu_budget)
        message, reply = self._spare
        message.set_text(text)
        reply.set_cpu_budget(cpu_budget)
        return message, reply

    async def show_exchange(self, message: UserMessage, reply: Reply) -> None:
        """Put a message and its reply on screen, in one layout and one paint (an
        anchored log follows by itself; re-anchoring when it already is costs another
        full paint of the log while the model reads the prompt)."""
        scrolled_up = self.scroll_y < self.max_scroll_y
        self.fold(room=2)
        if self._spare == (message, reply):
            self._spare = None
            message.display = reply.display = True
        else:
            await self._append(message, reply)
        if scrolled_up:
            self.anchor()  # the person had scrolled up: sending brings them back down

    async def mark_memory_start(self, first: Widget | None) -> None:
        """Put the memory marker before ``first`` (None: nowhere), the oldest message
        the model still gets."""
        # The marker is kept, not queried: a query walks every entry, thousands of them
        # in a long conversation read back.
        old, self._marker = self._marker, None
        if old is not None and old.parent is self:
            if first is not None and self._index_before(old, first):
                self._marker, old.display = old, first.display  # already in place
                return
            await old.remove()
        if first is not None:
            marker = Notice(MEMORY_MARKER, kind="memory-marker")
            marker.display = first.display  # folded away with the message it stands before
            await self.mount(marker, before=first)
            self._marker = marker

    def _index_before(self, marker: Widget, first: Widget) -> bool:
        """True if ``marker`` stands right before ``first``."""
        children = self.children
        index = children.index(first)
        return index > 0 and children[index - 1] is marker

    async def add_notice(self, text: str, *, kind: str = "info") -> Notice:
        """Show a notice from tui-chat."""
        widget = Notice(text, kind=kind)
        self.fold(room=1)
        await self._append(widget)
        return widget

    async def remove_from(self, first: Widget) -> list[Widget]:
        """Remove ``first`` and every entry after it; those removed."""
        entries = self.entries
        if first not in entries:
            return []
        gone = entries[entries.index(first) :]
        if self._marker in gone:
            self._marker = None
        if self._selected in gone:
            self._selected = None
        await self.remove_children(gone)
        return gone

    async def clear(self) -> None:
        """Remove everything (the spare exchange stays)."""
        self._unbuilt, self._earlier, self._selected = 0, None, None
        await self.remove_children(self.entries)
        self._say_folded()
