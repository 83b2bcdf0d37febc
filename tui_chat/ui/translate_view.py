"""The Translate view: paste a text, pick a language, get the translation streamed."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Label, Select, Static, TextArea

from tui_chat.core.protocol import DoneReason
from tui_chat.core.translation import COMMON_LANGUAGES, MAX_CHUNK_TOKENS, TranslationRequest
from tui_chat.core.visible import visible
from tui_chat.service.llm_service import LlmService
from tui_chat.service.translation import TranslationJob, TranslationResult
from tui_chat.ui.batcher import TextBatcher
from tui_chat.ui.clipboard import copy_text
from tui_chat.ui.literal import literal
from tui_chat.ui.screens.dialogs import save_to_file
from tui_chat.ui.widgets.literal_text_area import LiteralTextArea

DETECT = ""
"""The source-language choice that lets the model work the language out."""


def _language_choices(first: tuple[str, str] | None = None) -> list[tuple[str, str]]:
    choices = [(name, name) for name in COMMON_LANGUAGES]
    return [first, *choices] if first else choices


class TranslateView(Vertical):
    """Where the person translates text."""

    BINDINGS = [  # noqa: RUF012 (Textual's own declaration style)
        Binding("ctrl+t", "screen.switch_view", "Chat", show=False),  # said in the tabs' line
        Binding("ctrl+g", "translate", "Translate"),
        Binding("f5", "translate", "Translate", show=False),
        Binding("ctrl+o", "copy_translation", "Copy"),
        Binding("ctrl+s", "save_translation", "Save"),
        # Tab moves on at once: as a plain binding it would reach the view only after the
        # focused widget passed it up, and keys typed right after it would land in the
        # field being left.
        Binding("tab", "app.focus_next", show=False, priority=True),
        Binding("shift+tab", "app.focus_previous", show=False, priority=True),
    ]

    def __init__(
        self,
        service: LlmService,
        template: str,
        busy_elsewhere: Callable[[], str],
        language: str = "English",
        *,
        chunk_tokens: int = MAX_CHUNK_TOKENS,
        id: str | None = None,
    ) -> None:
        """
        Args:
            service: The model service.
            template: The translation instruction.
            busy_elsewhere: Why the model cannot translate now ("" if it can).
            language: The target language to start with.
            chunk_tokens: Most tokens of text translated at once.
            id: The widget id.
        """
        super().__init__(id=id)
        self.service = service
        self._template = template
        self._chunk_tokens = chunk_tokens
        self._language = language
        self._busy_elsewhere = busy_elsewhere
        self._job: TranslationJob | None = None
        self._batcher = TextBatcher(self._write_output)
        self.last_result: TranslationResult | None = None
        """How the last translation ended."""

    def compose(self) -> ComposeResult:
        with Horizontal(id="languages"):
            yield Label("From", classes="language-label")
            yield Select(
                _language_choices(("Auto-detect", DETECT)),
                value=DETECT,
                allow_blank=False,
                id="source-language",
            )
            yield Input(placeholder="or another", id="source-other")
            yield Label("into", classes="language-label")
            yield Select(
                _language_choices(),
                value=self._language if self._language in COMMON_LANGUAGES else "English",
                allow_blank=False,
                id="target-language",
            )
            yield Input(
                "" if self._language in COMMON_LANGUAGES else self._language,
                placeholder="or another",
                id="target-other",
            )
        with Horizontal(id="panes"):
            yield LiteralTextArea(
                id="source",
                soft_wrap=True,
                show_line_numbers=False,
                placeholder="Paste or type the text to translate, then press Ctrl+G.",
            )
            yield TextArea(
                id="output",
                read_only=True,
                soft_wrap=True,
                show_line_numbers=False,
                placeholder="The translation appears here.",
            )
        yield Static(Text("Ctrl+G translates. Esc stops."), id="translate-status")

    # Parts ----------------------------------------------------------------------------

    @property
    def source(self) -> TextArea:
        """The pane with the text to translate."""
        return self.query_one("#source", TextArea)

    @property
    def output(self) -> TextArea:
        """The pane the translation streams into."""
        return self.query_one("#output", TextArea)

    @property
    def target_language(self) -> str:
        """The language to translate into: typed, else chosen from the list."""
        typed = self.query_one("#target-other", Input).value.strip()
        return typed or str(self.query_one("#target-language", Select).value)

    @property
    def source_language(self) -> str:
        """The source language, or "" to let the model work it out."""
        typed = self.query_one("#source-other", Input).value.strip()
        return typed or str(self.query_one("#source-language", Select).value)

    @property
    def running(self) -> bool:
        """True while a translation is in progress."""
        return self._job is not None

    def _say(self, message: str) -> None:
        self.query_one("#translate-status", Static).update(literal(message))

    # Actions --------------------------------------------------------------------------

    def action_translate(self) -> None:
        """Translate the source pane (Ctrl+G)."""
        text = self.source.text
        problem = (
            "A translation is running. Press Esc to stop it."
            if self.running
            else "Paste or type some text to translate first."
            if not text.strip()
            else "The model is not running. Press Ctrl+R to restart it."
            if not self.service.accepts_requests
            else self._busy_elsewhere()
        )
        if problem:
            self.notify(problem)
            return
        request = TranslationRequest(self.target_language, self.source_language, self._template)
        self._batcher.discard()
        self.output.clear()
        self._job = TranslationJob(
            self.service,
            text,
            request,
            self._on_text,
            self._on_progress,
            self._chunk_tokens,
        )
        self._say(f"Translating into {request.target}… (Esc stops)")
        self._run(self._job)

    @work(exclusive=True, group="translation")
    async def _run(self, job: TranslationJob) -> None:
        try:
            result = await job.run()
        finally:
            self._job = None
        self._batcher.flush()
        if result.failed:  # what streamed of those is not a translation: their text instead
            self.output.load_text(visible(result.text))
        self.last_result = result
        self._say(_summary(result))

    def stop(self) -> None:
        """Stop the translation; what was translated so far stays."""
        if self._job is not None:
            self._job.stop()

    def action_copy_translation(self) -> None:
        """Copy the translation to the clipboard (Ctrl+O)."""
        text = self.output.text
        if not text:
            self.notify("There is no translation to copy yet.")
            return
        copy_text(self, text, "the translation")

    @work
    async def action_save_translation(self) -> None:
        """Save the translation to a file (Ctrl+S)."""
        text = self.output.text
        if not text:
            self.notify("There is no translation to save yet.")
            return
        suggestion = Path.cwd() / f"translation-{time.strftime('%Y%m%d-%H%M%S')}.txt"
        await save_to_file(self.app, text, suggestion, "the translation")

    # Job callbacks (on the event loop) ------------------------------------------------

    def _on_text(self, text: str) -> None:
        self._batcher.add(text)

    def _write_output(self, text: str) -> None:
        output = self.output
        output.insert(visible(text), output.document.end, maintain_selection_offset=False)

    def _on_progress(self, number: int, total: int) -> None:
        if total > 1:
            self._say(f"Translating chunk {number} of {total}… (Esc stops)")


def _summary(result: TranslationResult) -> str:
    total = len(result.chunks)
    done = len(result.outputs)
    pieces = f"{total} chunks" if total > 1 else "1 chunk"
    failed = len(result.failed)
    cut = (
        f" {failed} of them not translated whole: "
        f"{'; '.join(sorted({f.why for f in result.failed}))}."
        if failed
        else ""
    )
    match result.reason:
        case DoneReason.FINISHED:
            return f"Done ({pieces}).{cut} Ctrl+O copies, Ctrl+S saves."
        case DoneReason.STOPPED:
            return f"Stopped after {done} of {total} chunks; what was translated stays."
        case DoneReason.INTERRUPTED:
            return f"Interrupted: {result.error} ({done} of {total} chunks translated)."
        case _:
            return f"Failed: {result.error}"
