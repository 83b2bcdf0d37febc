"""The translation instruction: the one place the prompt is written."""

from __future__ import annotations

from dataclasses import dataclass

from tui_chat.core.protocol import ChatMessage, Sampling

TARGET = "{target}"
SOURCE = "{source}"
TEXT = "{text}"

DEFAULT_TEMPLATE = f"""\
Translate the text below from {SOURCE} into {TARGET}.
Answer with the translation only: no introduction, no notes, no explanations, and no \
quotation marks around it.
Keep the line breaks, the paragraphs, the Markdown formatting, code blocks, URLs and \
numbers exactly as they are.

{TEXT}"""
"""The instruction; ``{source}``, ``{target}`` and ``{text}`` are filled in."""

AUTO_SOURCE = "the language it is written in"
"""What ``{source}`` becomes when the person did not name the source language."""

TRANSLATION_SAMPLING = Sampling(temperature=0.0, top_p=1.0, top_k=1, repeat_penalty=1.0)
"""Greedy and without a repeat penalty: a translation must repeat words when the source does."""

EXPANSION = 2.0
"""Room for a translation, in tokens per source token: translations can be longer."""

MAX_CHUNK_TOKENS = 300
"""Largest chunk by default (a paragraph or two), even when the context holds more: small
models translate short passages far better (a 135M model given 800 tokens at once wrote
the same three words to the limit), and the first words show sooner. The settings'
``translation_chunk_tokens`` and ``tui-chat translate --chunk-tokens`` change it."""

MIN_CHUNK_TOKENS = 16
"""Below this a chunk, or the context's room for one, is too small to translate."""

MIN_REPLY_TOKENS = 48
"""The least room a chunk's translation gets: a short sentence may come back with a few
words more than it had ("Bonjour, comment allez-vous ?")."""

LOOP_REPEATS = {1: 6, 2: 4, 3: 3}
"""A translation that ends with the same run of 1, 2, 3 (or more) words this many times
in a row (or 3 times for longer runs) has looped: it is cut there."""

PROMPT_MARGIN = 16
"""Tokens kept free beyond the instruction, the chunk and its translation."""


def chunk_budget(n_ctx: int, instruction_tokens: int, limit: int = MAX_CHUNK_TOKENS) -> int:
    """Most source tokens in one chunk so that the instruction, the chunk and room for
    its translation (``EXPANSION`` times as long) fit a context of ``n_ctx`` tokens."""
    room = n_ctx - instruction_tokens - PROMPT_MARGIN
    return max(0, min(limit, int(room / (1 + EXPANSION))))


REPLY_EXPANSION = 3.0
"""Most tokens a chunk's translation may take, per source token: more than ``EXPANSION``,
for languages whose words take many tokens (Russian, Hindi on an English tokenizer)."""


def reply_budget(chunk_tokens: int) -> int:
    """Most tokens the translation of a chunk may take: some times the source's, never
    so little that a short sentence is cut."""
    return max(MIN_REPLY_TOKENS, int(chunk_tokens * REPLY_EXPANSION) + PROMPT_MARGIN)


def looping(text: str, source: str = "", longest: int = 12) -> bool:
    """True when ``text`` ends with the same run of words repeated (see
    ``LOOP_REPEATS``), more often than any run of as many words repeats in ``source``: a
    model stuck in a loop, not a translation. A run without a letter or a digit (a
    table's ``| --- |``) is no loop."""
    words, source_words = _words(text), _words(source)
    for size in range(1, longest + 1):
        need = LOOP_REPEATS.get(size, 3)
        if len(words) < size * need:
            break
        if not any(ch.isalnum() for word in words[-size:] for ch in word):
            continue
        if _repeats(words, len(words), size) >= max(need, _most_repeats(source_words, size) + 1):
            return True
    return False


def _words(text: str) -> list[str]:
    """The words of ``text`` without the signs around them, in lower case ("Ha," is "ha")."""
    return [word.strip(_SIGNS).lower() for word in text.split()]


# ASCII's signs, and the quotes, ellipsis and inverted marks of other languages.
_SIGNS = (
    "".join(chr(c) for c in range(0x20, 0x7F) if not chr(c).isalnum())
    + "\u00ab\u00bb\u201c\u201d\u2018\u2019\u2026\u00bf\u00a1"
)


def _repeats(words: list[str], end: int, size: int) -> int:
    """How many times the run of ``size`` words that ends at ``end`` stands there in a row."""
    run = words[end - size : end]
    count = 0
    while (
        end - size * (count + 1) >= 0
        and words[end - size * (count + 1) : end - size * count] == run
    ):
        count += 1
    return count


def _most_repeats(words: list[str], size: int) -> int:
    """The most times any run of ``size`` words stands in a row in ``words``."""
    return max((_repeats(words, end, size) for end in range(size, len(words) + 1)), default=0)


COMMON_LANGUAGES = (
    "English",
    "Spanish",
    "French",
    "German",
    "Italian",
    "Portuguese",
    "Dutch",
    "Polish",
    "Russian",
    "Ukrainian",
    "Turkish",
    "Arabic",
    "Hebrew",
    "Hindi",
    "Chinese (Simplified)",
    "Chinese (Traditional)",
    "Japanese",
    "Korean",
    "Vietnamese",
    "Indonesian",
    "Swedish",
    "Greek",
)


class TemplateError(ValueError):
    """A translation template lacks a placeholder it needs."""


def check_template(template: str) -> None:
    """Make sure a (custom) template has the placeholders it needs.

    Raises:
        TemplateError: Naming the missing placeholders.
    """
    missing = [p for p in (TARGET, TEXT) if p not in template]
    if missing:
        raise TemplateError(
            f"the translation template must contain {' and '.join(missing)} "
            f"(and may contain {SOURCE})"
        )


@dataclass(frozen=True, slots=True)
class TranslationRequest:
    """What to translate into what."""

    target: str
    """The language to translate into, as a person names it."""
    source: str = ""
    """The source language; empty means the model works it out."""
    template: str = DEFAULT_TEMPLATE
    """The instruction, with its placeholders."""

    def messages(self, text: str) -> list[ChatMessage]:
        """The conversation that asks the model to translate ``text``.

        The text goes in last and is never formatted, so braces in it stay as they are.
        """
        before, _, after = self.template.partition(TEXT)
        before, after = (self._fill(part) for part in (before, after))
        return [ChatMessage("user", before + text + after)]

    def _fill(self, part: str) -> str:
        return part.replace(SOURCE, self.source or AUTO_SOURCE).replace(TARGET, self.target)
