"""F2: the saved conversations, a page at a time, newest first; typing filters them by
title and searches every message. Open, rename, delete, start a new one."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, OptionList
from textual.widgets.option_list import Option

from tui_chat.core.store_records import MATCH_END, MATCH_START, ConversationInfo, Found
from tui_chat.core.visible import visible
from tui_chat.service.store_worker import StoreWorker
from tui_chat.ui.screens.dialogs import AskText, Confirm

PAGE = 50
"""Rows read from the store at a time; the next page is read as the highlight nears the
end of those shown."""

Row = ConversationInfo | Found


@dataclass(frozen=True, slots=True)
class Choice:
    """What the person chose in the list."""

    conversation_id: int | None
    """The conversation to open; None for a new one."""
    message_id: int | None = None
    """The message to show (one a search found); None for the conversation's end."""


class ConversationsScreen(ModalScreen[Choice | None]):
    """Every saved conversation, the most recent first; typing filters and searches."""

    BINDINGS = [  # noqa: RUF012 (Textual's own declaration style)
        Binding("escape", "back", "Close"),
        Binding("enter", "open", "Open", priority=True),
        Binding("ctrl+e", "rename", "Rename", priority=True),
        Binding("ctrl+d", "delete", "Delete", priority=True),
        Binding("ctrl+n", "new", "New", priority=True),
        Binding("up", "move('cursor_up')", show=False, priority=True),
        Binding("down", "move('cursor_down')", show=False, priority=True),
        Binding("pageup", "move('page_up')", show=False, priority=True),
        Binding("pagedown", "move('page_down')", show=False, priority=True),
    ]

    def __init__(
        self,
        store: StoreWorker,
        current: int | None,
        deleted: Callable[[int], Awaitable[None]],
    ) -> None:
        """
        Args:
            store: The conversation store.
            current: The open conversation, if it is saved.
            deleted: Hears of each conversation deleted here.
        """
        super().__init__(classes="dialog-screen")
        self._store = store
        self._current = current
        self._deleted = deleted
        self._rows: list[Row] = []
        self._words = ""
        """The filter the rows were read for."""
        self._titles_done = self._messages_done = False
        self._reading = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="conversations"):
            yield Label("Conversations", classes="dialog-title")
            yield Input(placeholder="Type to filter by title and search every message")
            yield OptionList(id="conversation-list")
        yield Footer()

    def on_mount(self) -> None:
        self.options.can_focus = False  # typing goes to the filter; arrows move the list
        self.query_one(Input).focus()
        self.reload()

    @property
    def options(self) -> OptionList:
        """The list widget."""
        return self.query_one(OptionList)

    # Reading ----------------------------------------------------------------------------

    @work(exclusive=True, group="rows")
    async def reload(self, keep: int | None = None) -> None:
        """Read the first page again for the filter as it is now, keeping the highlight
        on conversation ``keep`` (or the open one) when it is there."""
        words = self.query_one(Input).value.strip()
        self._titles_done = self._messages_done = False
        self._reading = True
        try:
            rows = await self._next_page(words, [])
        finally:
            self._reading = False
        self._words, self._rows = words, rows
        options = self.options
        options.clear_options()
        if not rows:
            options.add_option(Option(Text(self._nothing(words), style="dim"), disabled=True))
            return
        options.add_options([Option(self._line(row)) for row in rows])
        target = self._current if keep is None else keep
        ids = [row.id if isinstance(row, ConversationInfo) else None for row in rows]
        options.highlighted = ids.index(target) if target in ids else 0

    async def _next_page(self, words: str, rows: list[Row]) -> list[Row]:
        """The rows after ``rows`` for ``words``: conversations whose title matches, then
        (with words) messages that hold them; at least a page, unless that is all."""
        found: list[Row] = []
        while len(found) < PAGE and not (self._titles_done and self._messages_done):
            so_far = rows + found
            if not self._titles_done:
                after = next((r for r in reversed(so_far) if isinstance(r, ConversationInfo)), None)
                titles = await self._store.call(
                    lambda s, after=after: s.list_conversations(PAGE, after=after, title=words)
                )
                self._titles_done = len(titles) < PAGE
                self._messages_done = self._titles_done and not words
                found += titles
            else:
                last = next((r for r in reversed(so_far) if isinstance(r, Found)), None)
                before = None if last is None else last.message_id
                hits = await self._store.call(lambda s, b=before: s.search(words, PAGE, before=b))
                self._messages_done = len(hits) < PAGE
                found += hits
        return found

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_index >= len(self._rows) - 10:
            self._read_more()

    @work(group="more")
    async def _read_more(self) -> None:
        if self._reading or (self._titles_done and self._messages_done) or not self._rows:
            return
        words, rows = self._words, self._rows
        self._reading = True
        try:
            more = await self._next_page(words, rows)
        finally:
            self._reading = False
        if rows is self._rows and more:  # the filter has not changed meanwhile
            self._rows = rows + more
            self.options.add_options([Option(self._line(row)) for row in more])

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.reload()

    # What a row shows -------------------------------------------------------------------

    @staticmethod
    def _nothing(words: str) -> str:
        if words:
            return f"No title or message holds “{visible(words)}”."
        return "No saved conversations yet. Press Ctrl+N for a new one."

    def _line(self, row: Row) -> Text:
        if isinstance(row, Found):
            return _found_line(row)
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(row.updated))
        line = Text()
        line.append(f"{when}  ", style="dim")
        line.append(visible(row.title or "(untitled)"))
        line.append(f"  ({row.message_count} messages)", style="dim")
        if row.id == self._current:
            line.append("  ← open now", style="bold")
        return line

    # Actions ----------------------------------------------------------------------------

    def _highlighted(self) -> Row | None:
        index = self.options.highlighted
        if index is None or index >= len(self._rows):
            return None
        return self._rows[index]

    def action_move(self, how: str) -> None:
        """Move the highlight (the list never takes the focus from the filter)."""
        getattr(self.options, f"action_{how}")()

    def action_open(self) -> None:
        """Open the highlighted conversation (at the found message, for a search hit)."""
        chosen = self._highlighted()
        if isinstance(chosen, Found):
            self.dismiss(Choice(chosen.conversation_id, chosen.message_id))
        elif chosen is not None:
            self.dismiss(Choice(chosen.id))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_open()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_open()

    def action_new(self) -> None:
        """Start a new conversation."""
        self.dismiss(Choice(None))

    def action_back(self) -> None:
        """Clear the filter; with none, close the list (nothing changes)."""
        field = self.query_one(Input)
        if field.value:
            field.value = ""
        else:
            self.dismiss(None)

    async def _chosen_info(self) -> ConversationInfo | None:
        chosen = self._highlighted()
        if isinstance(chosen, Found):
            found = chosen
            return await self._store.call(lambda s: s.info(found.conversation_id))
        return chosen

    @work
    async def action_rename(self) -> None:
        """Give the highlighted conversation another title."""
        chosen = await self._chosen_info()
        if chosen is None:
            return
        title = await self.app.push_screen_wait(AskText("New title:", chosen.title))
        if title is None or not title.strip():
            return
        await self._store.call(lambda s: s.rename(chosen.id, title))
        self.reload(keep=chosen.id)

    @work
    async def action_delete(self) -> None:
        """Delete the highlighted conversation, after asking."""
        chosen = await self._chosen_info()
        if chosen is None:
            return
        title = _short(chosen.title or "(untitled)")
        count = chosen.message_count
        messages = "message" if count == 1 else "messages"
        if not await self.app.push_screen_wait(
            Confirm(f"Delete the conversation “{title}” and its {count} {messages}?")
        ):
            return
        await self._store.call(lambda s: s.delete(chosen.id))
        await self._deleted(chosen.id)
        if chosen.id == self._current:
            self._current = None
        self.notify(f"Deleted “{title}”.", markup=False)
        self.reload()


def _found_line(found: Found) -> Text:
    """A search hit on two lines: when and where, then the matching line with each match
    in reverse."""
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(found.created))
    who = "you" if found.role == "user" else "model"
    line = Text()
    line.append(f"{when}  ", style="dim")
    line.append(visible(found.title or "(untitled)"))
    line.append(f"  ({who})\n  ", style="dim")
    for n, part in enumerate(found.line.replace(MATCH_END, MATCH_START).split(MATCH_START)):
        line.append(visible(part), style="reverse" if n % 2 else "")
    return line


def _short(title: str, most: int = 60) -> str:
    """A title cut to ``most`` characters, with an ellipsis where it was cut."""
    return title if len(title) <= most else title[: most - 1].rstrip() + "…"
