"""The list of saved conversations: open, rename, delete, start a new one."""

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
from textual.widgets import Footer, Label, OptionList
from textual.widgets.option_list import Option

from tui_chat.core.store import ConversationInfo, Store
from tui_chat.core.visible import visible
from tui_chat.service.store_worker import StoreWorker
from tui_chat.ui.screens.dialogs import AskText, Confirm


@dataclass(frozen=True, slots=True)
class Choice:
    """What the person chose in the list."""

    conversation_id: int | None
    """The conversation to open; None for a new one."""


class ConversationsScreen(ModalScreen[Choice | None]):
    """Every saved conversation, the most recent first."""

    BINDINGS = [  # noqa: RUF012 (Textual's own declaration style)
        Binding("escape", "dismiss_list", "Close"),
        Binding("enter", "open", "Open", show=True, priority=True),
        Binding("r", "rename", "Rename"),
        Binding("d,delete", "delete", "Delete"),
        Binding("n", "new", "New conversation"),
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
        self._conversations: list[ConversationInfo] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="conversations"):
            yield Label("Conversations", classes="dialog-title")
            yield OptionList(id="conversation-list")
        yield Footer()

    async def on_mount(self) -> None:
        await self.reload()

    @property
    def options(self) -> OptionList:
        """The list widget."""
        return self.query_one(OptionList)

    async def reload(self, keep: int | None = None) -> None:
        """Read the list from the store again, keeping the highlight where it was."""
        self._conversations = await self._store.call(Store.list_conversations)
        options = self.options
        options.clear_options()
        if not self._conversations:
            options.add_option(Option(Text("No saved conversations yet. Press n for a new one.")))
            return
        options.add_options([Option(self._line(c), id=str(c.id)) for c in self._conversations])
        ids = [c.id for c in self._conversations]
        target = keep if keep in ids else self._current
        options.highlighted = ids.index(target) if target in ids else 0
        options.focus()

    def _line(self, info: ConversationInfo) -> Text:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(info.updated))
        line = Text(f"{when}  ", style="dim")
        line.append(visible(info.title or "(untitled)"))
        line.append(f"  ({info.message_count} messages)", style="dim")
        if info.id == self._current:
            line.append("  ← open now", style="bold")
        return line

    def _highlighted(self) -> ConversationInfo | None:
        index = self.options.highlighted
        if index is None or not self._conversations:
            return None
        return self._conversations[index]

    def action_open(self) -> None:
        """Open the highlighted conversation."""
        chosen = self._highlighted()
        if chosen is not None:
            self.dismiss(Choice(chosen.id))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_open()

    def action_new(self) -> None:
        """Start a new conversation."""
        self.dismiss(Choice(None))

    def action_dismiss_list(self) -> None:
        """Close the list; nothing changes."""
        self.dismiss(None)

    @work
    async def action_rename(self) -> None:
        """Give the highlighted conversation another title."""
        chosen = self._highlighted()
        if chosen is None:
            return
        title = await self.app.push_screen_wait(AskText("New title:", chosen.title))
        if title is None or not title.strip():
            return
        await self._store.call(lambda s: s.rename(chosen.id, title))
        await self.reload(keep=chosen.id)

    @work
    async def action_delete(self) -> None:
        """Delete the highlighted conversation, after asking."""
        chosen = self._highlighted()
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
        self.notify(f"Deleted “{title}”.")
        await self.reload()


def _short(title: str, most: int = 60) -> str:
    """A title cut to ``most`` characters, with an ellipsis where it was cut."""
    return title if len(title) <= most else title[: most - 1].rstrip() + "…"
