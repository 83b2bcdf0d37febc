"""The Chat view: the conversation log and the message editor, and which conversation
is open (new, listed, opened, saved as Markdown). Sending and replies: ``chat_replies``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.widget import Widget

from tui_chat.core.conversation import Conversation, Turn, TurnStatus
from tui_chat.core.options import CONVERSATION_KEYS, Value
from tui_chat.core.settings import Settings
from tui_chat.service.llm_service import LlmService
from tui_chat.service.recorder import ConversationRecorder
from tui_chat.service.store_worker import StoreWorker
from tui_chat.ui.chat_replies import ChatReplies
from tui_chat.ui.clipboard import copy_text
from tui_chat.ui.messages import StoreFailed, StoreRecovered
from tui_chat.ui.prompt_history import EDITING, PromptHistory
from tui_chat.ui.read_back import ReadBack, entry
from tui_chat.ui.widgets.chat_input import ChatInput
from tui_chat.ui.widgets.chat_log import (
    SHOWN_AT_MOST,
    ChatLog,
    EarlierReply,
    Reply,
    UserMessage,
    message_source,
)
from tui_chat.ui.widgets.versions import CopyAsked, VersionAsked, ask_version


def screenful(turns: list[Turn], size: Size) -> int:
    """How many of the last ``turns`` fill a screen of ``size`` (or so it looks before
    layout: wrapped lines plus margins), at least 2 and at most
    ``SHOWN_AT_MOST``; the log builds more by itself if they fall short."""
    width = max(20, size.width - 10)
    lines = 0
    for n, turn in enumerate(reversed(turns), 1):
        lines += 2 + sum(1 + len(line) // width for line in turn.text.splitlines())
        if n >= SHOWN_AT_MOST or (n >= 2 and lines >= size.height):
            return n
    return len(turns)


SURELY_OVER = 8
"""Characters per token above which a conversation is taken to be longer than the
context without counting (text averages three to five)."""

ASSUMED_CTX = 131_072
"""A model's context before it has loaded, when the settings leave it to the model."""

REVEAL_PAGE = 50
"""Entries built at a time while going back to a message a search found."""


class ChatView(ChatReplies):
    """Where the person chats with the model."""

    BINDINGS = [  # noqa: RUF012 (Textual's own declaration style)
        # In the tabs' line ("Ctrl+T switches"), not the footer: room for the chat's keys.
        Binding("ctrl+t", "screen.switch_view", "Translate", show=False),
        Binding("ctrl+n", "new", "New"),
        Binding("f2", "list", "Chats"),
        Binding("ctrl+l", "new", "Clear", show=False),
        Binding("ctrl+s", "save_markdown", "Save", show=False),
        Binding("ctrl+g", "regenerate", "Again"),
        Binding("ctrl+f", "continue_reply", "Continue"),
        Binding("ctrl+o", "copy_message", "Copy"),
        Binding("alt+left", "version(-1)", "Version before", show=False),
        Binding("alt+right", "version(1)", "Version after", show=False),
    ]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # In the footer when there is a reply to act on, not one being written. Redrawing
        # the footer costs the model CPU: the app redraws it once a reply has ended, never
        # as one starts (while it streams, the footer may still show the keys of the one
        # before: they do nothing until it ends).
        if action in ("regenerate", "continue_reply", "copy_message"):
            turns = self.conversation.turns
            last = turns[-1] if turns else None
            if last is None or last.role != "assistant" or last.status is TurnStatus.STREAMING:
                return False
            if action == "copy_message":
                return True
            may_go_on = action != "continue_reply" or (
                last.status.may_go_on and not self.service.settings.server
            )
            return self.service.accepts_requests and may_go_on
        return True

    async def action_continue_reply(self) -> None:
        """Have the last reply go on where it was cut (Ctrl+F), in the same reply."""
        await self.continue_reply()

    async def action_regenerate(self) -> None:
        """Ask for the last reply again (Ctrl+G), the one before kept as a version."""
        await self.regenerate()

    def action_version(self, step: int) -> None:
        """Show the version before or after (Alt+← / Alt+→) of the newest message that
        has versions."""
        for turn in reversed(self.conversation.turns):
            widget = self._widgets.get(id(turn))
            if turn.versions > 1 and widget is not None:
                ask_version(widget, (turn.version, turn.versions), step)
                return
        self.notify("No message here has other versions: Ctrl+G asks for a reply again.")

    def action_copy_message(self) -> None:
        """Copy the selected message (while the log has the focus) or the last reply,
        as Markdown (Ctrl+O)."""
        log = self.chat_log
        widget = log.selected if log.has_focus else None
        if widget is None:
            widget = next(
                (w for w in reversed(log.entries) if isinstance(w, Reply | EarlierReply)), None
            )
        text = message_source(widget)
        if not text:
            self.notify("There is no reply to copy yet.")
            return
        copy_text(self, text, "your message" if isinstance(widget, UserMessage) else "the reply")

    @on(CopyAsked)
    def copy_asked(self, message: CopyAsked) -> None:
        copy_text(self, message.text, message.what)

    @on(ChatLog.EditAsked)
    def edit_asked(self, message: ChatLog.EditAsked) -> None:
        """``e`` on a message in the log: it goes back to the input, to be sent in its
        place."""
        turn = self._turn_of(message.widget)
        if turn is None:
            self.notify("Only the newer messages of a long conversation can be edited here.")
            return
        self.history.leave()
        self.editing = turn
        self.input.recall(turn.text, EDITING)
        self.input.focus()

    def _turn_of(self, widget: Widget) -> Turn | None:
        """The open conversation's turn that ``widget`` shows (None: one read back from
        the store only)."""
        return next(
            (t for t in self.conversation.turns if self._widgets.get(id(t)) is widget), None
        )

    async def action_edit_last(self) -> None:
        """Put the last message sent back in the input, to edit and send in its place."""
        self.input.focus()
        self.history.leave()
        if self.input.text:
            self.notify("Empty the input first: what is in it would be lost.")
            return
        await self._recall(self.input, -1)
        if self.editing is None:  # another conversation's: not this one's to edit
            self.input.recall(None)
            self.history.leave()
            self.notify("There is no message of yours in this conversation to edit.")

    @on(ChatInput.HistoryAsked)
    async def recall(self, message: ChatInput.HistoryAsked) -> None:
        """↑ / ↓ in the input: a message sent before (the last one, to edit)."""
        await self._recall(message.chat_input, message.step)

    async def _recall(self, chat_input: ChatInput, step: int) -> None:
        recalled = await self.history.step(self.conversation, step)
        self.editing = recalled.edits if recalled else None
        chat_input.recall(recalled.text if recalled else None, recalled.title if recalled else "")

    def leave_history(self) -> None:
        self.history.leave()
        self.editing = None

    def leave_recalled(self) -> bool:
        """Esc on a message recalled (with ↑, or ``e``): the input empty again; False
        if there was none."""
        if self.input.recalled is None:
            return False
        self.input.recall(None)
        self.leave_history()
        return True

    @on(ChatInput.Submitted)
    def _history_done(self) -> None:
        self.history.leave()

    @on(VersionAsked)
    async def show_version(self, message: VersionAsked) -> None:
        """Show another version of the conversation from a message on (the one shown is
        kept)."""
        conversation, conversation_id = self.conversation, self.conversation.id
        if conversation_id is None:
            return
        if self.replying:
            self.notify("A reply is still being written. Press Esc to stop it first.")
            return
        turn = self._turn_of(message.widget)
        if turn is not None:
            position: int | None = conversation.position(turn)
        else:
            message_id = self.read_back.message_of(message.widget)
            if message_id is None:
                return
            position = await self.store.call(lambda s: s.position(conversation_id, message_id))
        if position is None or conversation is not self.conversation:
            return
        at, version = position, message.version
        if await self.store.call(lambda s: s.show_version(conversation_id, at, version)):
            await self.show_stored(conversation_id)
            self.tell_model()

    def action_toggle_thinking(self) -> None:
        """Unfold the newest reply's thinking, or fold it again."""
        if not self.chat_log.action_toggle_thinking():
            self.notify("No reply here thought before it answered.")

    class Cleared(Message):
        """A new, empty conversation is open."""

    class ContextUsed(Message):
        """How many tokens of the context the open conversation takes."""

        def __init__(self, tokens: int | None, *, over: bool = False) -> None:
            super().__init__()
            self.tokens = tokens
            self.over = over
            """It takes more than the context: the oldest messages are left out."""

    def __init__(
        self,
        service: LlmService,
        store: StoreWorker,
        busy_elsewhere: Callable[[], str],
        *,
        id: str | None = None,
    ) -> None:
        """
        Args:
            service: The model service.
            store: The conversation store.
            busy_elsewhere: Why the model cannot take a chat message now ("" if it can).
            id: The widget id.
        """
        super().__init__(busy_elsewhere, id=id)
        self.service = service
        self.store = store
        self.recorder = ConversationRecorder(
            store,
            lambda text: self.post_message(StoreFailed(text)),
            lambda: self.post_message(StoreRecovered()),
        )
        self.conversation = self._fresh()
        self.history = PromptHistory(store)
        self.read_back = ReadBack(
            store, lambda: self.chat_log, self._widgets, self._mark_memory_start
        )

    def compose(self) -> ComposeResult:
        log = ChatLog(id="log")
        log.hide_thinking = self.service.settings.show_thinking == "hide"
        yield log
        yield ChatInput(id="input")

    def _removed(self, widgets: list[Widget]) -> None:
        self.read_back.forget(widgets)

    def own_settings(self) -> dict[str, Value]:
        """The open conversation's system prompt and settings in effect, as F3 shows
        them."""
        in_effect = self.settings_for(self.conversation).values()
        return {
            "system_prompt": self.conversation.system_prompt,
            **{key: in_effect[key] for key in CONVERSATION_KEYS},
        }

    def set_own_settings(
        self, shown: dict[str, Value], edited: dict[str, Value], defaults: Settings
    ) -> str:
        """Give the open conversation what the person changed in F3's fields for it
        (``shown`` before, ``edited`` after), the rest following ``defaults``; saved
        with it. Says what changed, in words ("" if nothing did)."""
        conversation = self.conversation
        default_values = defaults.values()
        for key in CONVERSATION_KEYS:
            if edited[key] == shown[key]:
                continue
            if edited[key] == default_values[key]:
                conversation.settings.pop(key, None)
            else:
                conversation.settings[key] = edited[key]
        prompt = str(edited["system_prompt"])
        if prompt != shown["system_prompt"]:
            conversation.system_prompt = prompt
        elif not conversation.turns:  # not begun: it follows the defaults
            conversation.system_prompt = defaults.system_prompt
        if edited == shown:
            return ""
        self.recorder.save_settings(conversation)
        return " This conversation's own settings apply from its next message."

    def _fresh(self) -> Conversation:
        return Conversation(system_prompt=self.service.settings.system_prompt)

    @property
    def input(self) -> ChatInput:
        """The message editor."""
        return self.query_one(ChatInput)

    # Conversations --------------------------------------------------------------------

    async def action_new(self) -> None:
        """Start a new conversation (Ctrl+N, Ctrl+L); the old one stays in the list."""
        had_messages = bool(self.conversation.turns)
        await self.show(self._fresh())
        if had_messages:
            self.notify("New conversation. The last one is kept (F2 lists them).", timeout=3)

    async def show(self, conversation: Conversation) -> None:
        """Make ``conversation`` the open one: its messages in the log, a fresh model
        context (its prompt is read again with the next message)."""
        self.end_replies()
        self.service.clear_context()
        self.conversation = conversation
        self.last_reason = None
        self._widgets.clear()
        log = self.chat_log
        await log.clear()
        turns = conversation.turns
        shown = turns[len(turns) - screenful(turns, self.app.size) :]
        # Built as pages read back are: one widget a reply, drawn by Rich (Textual's
        # Markdown would cost its stylesheet and a widget per block before they show).
        widgets = log.build_earlier([entry(t) for t in shown])
        await log.put_earlier(widgets)
        self.read_back.start(conversation, shown, widgets)
        await self._mark_memory_start()
        log.scroll_end(animate=False)
        log.call_after_refresh(log.fill)
        log.prepare()
        self.screen.refresh_bindings()  # the footer's keys follow the replies shown
        self.post_message(self.Cleared())

    async def open(self, conversation_id: int, at: int | None = None) -> bool:
        """Open a saved conversation (showing message ``at``, if given, at the top of the
        log); False if there is no such conversation."""
        if not await self.show_stored(conversation_id):
            return False
        self.tell_model()
        if at is not None:
            await self.reveal(at)
        return True

    async def show_stored(self, conversation_id: int) -> bool:
        """Read a saved conversation's last messages and show them; False if there is no
        such conversation. The model is not told of it: ``tell_model`` does that."""
        model = self.service.model
        n_ctx = model.n_ctx if model else self.service.settings.n_ctx or ASSUMED_CTX
        stored = await self.store.call(
            lambda s: s.load(conversation_id, tail=SHOWN_AT_MOST, most_chars=SURELY_OVER * n_ctx)
        )
        if stored is None:
            return False
        await self.show(Conversation.from_stored(stored))
        return True

    async def drawn(self) -> None:
        """Wait until the log's entries are laid out and on the screen."""
        log = self.chat_log
        while True:
            refreshed = asyncio.Event()
            log.call_after_refresh(refreshed.set)
            await refreshed.wait()
            # A refresh can come before the layout that places newly mounted entries.
            shown = [entry for entry in log.entries if entry.display]
            if not shown or shown[-1].region:
                return

    def tell_model(self) -> None:
        """Have the model make ready for the conversation shown (restore the state kept
        of it) and count how much of the context it takes."""
        conversation = self.conversation
        self.service.prepare(conversation.messages_for(), keep=conversation.kept)
        self.count_context()

    async def reveal(self, message_id: int) -> None:
        """Build the log back to a message of the open conversation (a page at a time),
        scroll it to the top and mark it."""
        conversation, log = self.conversation, self.chat_log
        if conversation.id is None:
            return
        conversation_id = conversation.id
        index = await self.store.call(lambda s: s.position(conversation_id, message_id))
        if index is None or conversation is not self.conversation:
            return
        read_back = self.read_back
        if read_back.built_from - index > REVEAL_PAGE:
            self.notify(f"Going back {read_back.built_from - index:,} messages…", timeout=3)
        while read_back.built_from > index and conversation is self.conversation:
            await read_back.build_earlier(min(REVEAL_PAGE, read_back.built_from - index))
            log.set_earlier(read_back.built_from, read_back.build_earlier)
        for old in log.query(".found"):
            old.remove_class("found")
        widget = read_back.widget(message_id)
        if widget is not None:
            widget.display = True
            widget.add_class("found")
            log.call_after_refresh(lambda: log.scroll_to_widget(widget, top=True, animate=False))

    @work(exclusive=True, group="context-count")
    async def count_context(self) -> None:
        """Tell the status line how much of the context the open conversation takes."""
        messages = self.conversation.messages_for()
        if len(messages) <= self.conversation.kept:
            self.post_message(self.ContextUsed(None))
            return
        model = self.service.model
        if model and sum(len(m.content) for m in messages) > SURELY_OVER * model.n_ctx:
            # Counting it would have the worker render and tokenize all of it: seconds
            # for a long history, to learn what the length says already.
            self.post_message(self.ContextUsed(None, over=True))
            return
        try:
            counts = await self.service.count_tokens(prompts=[messages])
        except Exception:  # the model is down: how much it would take is not known
            self.post_message(self.ContextUsed(None))
            return
        tokens = counts.prompts[0]
        self.post_message(self.ContextUsed(tokens, over=bool(model) and tokens > model.n_ctx))

    @work
    async def action_list(self) -> None:
        """Show the saved conversations (F2)."""
        from tui_chat.ui.screens.conversations import Choice, ConversationsScreen

        choice: Choice | None = await self.app.push_screen_wait(
            ConversationsScreen(self.store, self.conversation.id, self._deleted)
        )
        if choice is not None and choice.conversation_id is None:
            await self.action_new()
        elif choice is not None and choice.conversation_id != self.conversation.id:
            await self.open(choice.conversation_id, choice.message_id)
        elif choice is not None and choice.message_id is not None:
            await self.reveal(choice.message_id)
        elif self.conversation.id is not None:
            # The open conversation may have been renamed (or deleted elsewhere) meanwhile.
            still = await self.store.call(lambda s: s.info(self.conversation.id or 0))
            if still is None:
                await self.show(self._fresh())
            else:
                self.conversation.title = still.title

    async def _deleted(self, conversation_id: int) -> None:
        """A conversation was deleted in the list: if it is the open one, it goes from the
        screen at once and a new one takes its place."""
        if conversation_id == self.conversation.id:
            await self.show(self._fresh())

    @work
    async def action_save_markdown(self) -> None:
        """Save the open conversation to a Markdown file (Ctrl+S)."""
        from tui_chat.ui.screens.dialogs import export_markdown

        await export_markdown(self.app, self.store, self.conversation.id)

    async def add_notice(self, text: str, *, kind: str = "info") -> None:
        """Show a notice from tui-chat in the log."""
        await self.chat_log.add_notice(text, kind=kind)
