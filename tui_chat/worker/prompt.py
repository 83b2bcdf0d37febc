"""How a conversation becomes prompt tokens: the model's own chat template (ChatML when
it has none), rendered under a time limit, then tokenized.

Only the engine imports this module, in the worker process: it imports llama_cpp.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence

import llama_cpp
import llama_cpp.llama_cpp as llama_lib
from llama_cpp.llama_chat_format import Jinja2ChatFormatter, format_chatml

from tui_chat.core.protocol import ChatMessage
from tui_chat.core.thinking import opened_by
from tui_chat.worker.results import RequestError

TEMPLATE_SECONDS = 10.0
"""Longest a model's chat template may take to render a conversation."""


class _TemplateTimeout(Exception):
    pass


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Interrupt the Python code inside after ``seconds`` (main thread only: elsewhere
    there is no limit, and a stop that is not answered ends the worker instead)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(_signum: int, _frame: object) -> None:
        raise _TemplateTimeout

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class ChatPrompt:
    """A loaded model's chat template, turning conversations into prompt tokens."""

    def __init__(self, llm: llama_cpp.Llama, vocab: llama_lib.llama_vocab_p) -> None:
        self._llm = llm
        self._vocab = vocab
        self._formatter, self.template_name = self._make_formatter()
        """The formatter, and which template it is, in words for the worker's log."""

    def _make_formatter(self) -> tuple[Callable[..., object], str]:
        template = self._llm.metadata.get("tokenizer.chat_template")
        if not template:
            return format_chatml, "chatml (fallback: the model has no chat template)"
        eos = self._llm.token_eos()
        bos = self._llm.token_bos()
        formatter = Jinja2ChatFormatter(
            template=template,
            eos_token=self._token_text(eos),
            bos_token=self._token_text(bos),
            stop_token_ids=[eos],
        )
        return formatter, "gguf (the model's own chat template)"

    def _token_text(self, token: int) -> str:
        if token == -1:
            return ""
        return llama_lib.llama_vocab_get_text(self._vocab, token).decode("utf-8", "replace")

    def tokens(self, messages: Sequence[ChatMessage], continues: bool = False) -> list[int]:
        """Render the conversation with the chat template and tokenize it; with
        ``continues``, its last message is the start of the reply, which the prompt
        ends with (the template renders the rest, up to where a reply begins).

        Raises:
            RequestError: The template failed or ran out of time; the model cannot chat.
        """
        # The template comes with the model file, from anywhere: llama-cpp-python runs it
        # in Jinja's sandbox; whatever goes wrong in it refuses the request, and a
        # template that runs away is stopped.
        started = ""
        if continues:
            messages, started = messages[:-1], messages[-1].content
        try:
            with _time_limit(TEMPLATE_SECONDS):
                rendered = self._formatter(
                    messages=[{"role": m.role, "content": m.content} for m in messages]
                )
        except _TemplateTimeout:
            raise RequestError(
                f"The model's chat template ran for more than {TEMPLATE_SECONDS:g} s and "
                "was stopped: this model cannot be used for chat. Choose another model."
            ) from None
        except Exception as e:
            raise RequestError(
                f"The model's chat template failed ({type(e).__name__}: {e}): this model "
                "cannot be used for chat. Choose another model."
            ) from None
        prompt: str = rendered.prompt  # type: ignore[attr-defined]
        if started:
            # A template that opens the thinking has it in the prompt already (and the
            # reply's text has it too, see the engine).
            opened = opened_by(prompt[-32:])
            if opened and started.lstrip().startswith(opened):
                started = started.lstrip()[len(opened) :]
            prompt += started
        return self._llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)

    def control_tokens(self, texts: Iterable[str]) -> frozenset[int]:
        """The control tokens among those ``texts`` are written with (a reasoning model's
        markers, gpt-oss's channels): llama.cpp leaves control tokens out of a reply's
        text, where the engine must write these."""
        control = llama_lib.LLAMA_TOKEN_ATTR_CONTROL
        return frozenset(
            token
            for text in texts
            for token in self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)
            if llama_lib.llama_vocab_get_attr(self._vocab, token) & control
        )
