"""Chunking long texts for translation: boundaries, budgets and exact round trips.

Budgets are counted with the scripted model's tokenizer (a word or a sign a token), and
once more with the real bundled model's.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tui_chat.core.chunking import Chunk, plan_chunks, split_paragraphs
from tui_chat.core.protocol import LoadModel
from tui_chat.core.script import tokens
from tui_chat.core.translation import (
    MAX_CHUNK_TOKENS,
    MIN_REPLY_TOKENS,
    TemplateError,
    TranslationRequest,
    check_template,
    chunk_budget,
    looping,
    reply_budget,
)

if TYPE_CHECKING:
    from tui_chat.worker.engine import Engine

PROSE = (
    "The harbour was quiet that morning. Boats rocked gently! Did anyone notice the "
    "fog? Nobody did.\n\nA second paragraph follows, with a link to "
    "https://example.com/a.b/c?d=e.f and the number 3.14159 in it. It ends here.\n\n"
)
LIST = "Shopping:\n- bread and butter\n- twelve eggs\n- milk, 2 litres\n\n"
CODE = (
    "```python\ndef greet(name):\n\n    # A blank line above, inside the fence.\n"
    "    return f'Hello, {name}. Welcome!'\n```\n\n"
)
CJK = "今日は良い天気です。散歩に行きましょう！どこへ行きますか？\n\n"
LONG_WORD = "Before. " + "x-" * 450 + " after.\n"

TEXTS = {
    "prose": PROSE * 6,
    "mixed": (PROSE + LIST + CODE + CJK) * 4,
    "unclosed fence": PROSE + "```\nstill code\n\nand more code. Really.\n",
    "one long paragraph": ("Every sentence here is short. " * 120).strip(),
    "long word": LONG_WORD,
    "no trailing newline": "Just one line",
    "windows newlines": "One.\r\n\r\nTwo. Three.\r\n",
}


def count(texts: Sequence[str]) -> list[int]:
    """The scripted model's token counts."""
    return [len(tokens(t)) for t in texts]


@pytest.fixture(scope="module")
def engine(model_path: Path) -> Iterator[Engine]:
    from tui_chat.worker.engine import Engine  # imports llama_cpp: only for this test

    engine = Engine.load(LoadModel(str(model_path), 512, 2), lambda _f: None)
    yield engine
    engine.close()


@pytest.mark.parametrize("name", TEXTS)
@pytest.mark.parametrize("budget", [12, 40, 200])
def test_chunks_join_back_exactly_and_fit_the_budget(name: str, budget: int) -> None:
    text = TEXTS[name]
    chunks = plan_chunks(text, budget, count)
    assert "".join(c.source for c in chunks) == text
    for chunk in chunks:
        if not chunk.verbatim:
            (tokens_in_body,) = count([chunk.body])
            assert chunk.tokens == tokens_in_body <= budget
        assert chunk.body == chunk.body.strip()


@pytest.mark.parametrize("name", TEXTS)
def test_budgets_hold_with_the_real_models_tokenizer(name: str, engine: Engine) -> None:
    text = TEXTS[name]
    chunks = plan_chunks(text, 40, lambda texts: [engine.count_text(t) for t in texts])
    assert "".join(c.source for c in chunks) == text
    for chunk in chunks:
        if not chunk.verbatim:
            assert chunk.tokens == engine.count_text(chunk.body) <= 40


@pytest.mark.parametrize("name", TEXTS)
def test_chunks_never_cut_a_word_a_url_or_a_code_block(name: str) -> None:
    text = TEXTS[name]
    chunks = plan_chunks(text, 12, count)
    offset = 0
    for chunk in chunks[:-1]:
        offset += len(chunk.source)
        before, after = text[offset - 1], text[offset]
        # Every cut is at white space, or right after a CJK full stop, ! or ?.
        assert before.isspace() or after.isspace() or before in "。！？", (
            f"cut inside {text[offset - 10 : offset + 10]!r}"
        )
    fences = [c for c in chunks if "```" in c.body]
    for chunk in fences:
        assert chunk.body.count("```") in (1, 2)
        if name == "mixed":
            assert chunk.body.count("```") == 2, "a code block was split"


def test_paragraph_boundaries_come_before_sentence_boundaries() -> None:
    text = "One two three. Four five six.\n\nSeven eight nine. Ten eleven twelve.\n\n" * 3
    chunks = plan_chunks(text, 20, count)
    assert len(chunks) > 1
    for chunk in chunks:
        assert chunk.trail.endswith("\n\n") or chunk is chunks[-1]


def test_a_paragraph_too_long_is_split_at_sentences() -> None:
    text = "This sentence has exactly eight words in it. " * 10
    chunks = plan_chunks(text, 25, count)
    assert len(chunks) > 1
    assert all(c.body.endswith(".") for c in chunks)


def test_an_unbreakable_piece_longer_than_the_budget_passes_through() -> None:
    chunks = plan_chunks(LONG_WORD, 40, count)
    giant = [c for c in chunks if "x-x-" in c.body]
    assert len(giant) == 1
    assert giant[0].verbatim
    assert giant[0].body == "x-" * 450


def test_code_fences_are_whole_paragraphs() -> None:
    paragraphs = split_paragraphs("Intro.\n" + CODE + "Outro.\n")
    assert paragraphs == [("Intro.\n", False), (CODE, True), ("Outro.\n", False)]
    tilde = split_paragraphs("~~~~\n```\nnot a close\n~~~~\nafter\n")
    assert tilde == [("~~~~\n```\nnot a close\n~~~~\n", True), ("after\n", False)]


def test_white_space_only_text_is_one_verbatim_chunk() -> None:
    assert plan_chunks("\n\n  \n", 10, count) == [Chunk("\n\n  \n", "", "", verbatim=True)]  # type: ignore[arg-type]
    assert plan_chunks("", 10, count) == []  # type: ignore[arg-type]


def test_budget_leaves_room_for_instruction_and_a_longer_translation() -> None:
    assert chunk_budget(4096, 100) == MAX_CHUNK_TOKENS == 300  # a paragraph or two
    assert chunk_budget(4096, 100, limit=1000) == 1000  # --chunk-tokens
    budget = chunk_budget(512, 100)
    assert 100 + budget + 2 * budget <= 512
    assert chunk_budget(100, 100) == 0


def test_a_short_sentence_gets_room_for_a_few_words_more() -> None:
    assert reply_budget(7) == MIN_REPLY_TOKENS
    assert reply_budget(100) == 3 * 100 + 16  # room for a language whose words cost more


@pytest.mark.parametrize(
    ("text", "loops"),
    [
        ("La prochaine d'un projet est une fois une fois une fois une fois", True),
        ("no no no no no no", True),
        ("the same three words the same three words the same three words", True),
        ("very very very good", False),
        ("ha ha ha ha", False),
        ("Bonjour, comment allez-vous ?", False),
        ("Paragraph 1. Paragraph 2. Paragraph 3. Paragraph 4.", False),
        ("| --- | --- | --- | --- | --- |", False),  # a table's rule, not a loop
        (". . . . . . . .", False),
    ],
)
def test_a_loop_is_told_from_words_said_again(text: str, loops: bool) -> None:
    assert looping(text) is loops


def test_words_the_source_repeats_may_be_repeated() -> None:
    assert looping("ja ja ja ja ja ja")
    assert not looping("ja ja ja ja ja ja", source="He laughed: ha ha ha ha ha ha.")
    assert looping("ja ja ja ja ja ja ja ja ja ja", source="He laughed: ha ha.")


def test_template_fills_languages_and_keeps_braces_in_the_text() -> None:
    request = TranslationRequest(target="German", source="")
    (message,) = request.messages("Use {curly} braces and {text} literally.")
    assert "into German" in message.content
    assert "the language it is written in" in message.content
    assert message.content.endswith("Use {curly} braces and {text} literally.")
    named = TranslationRequest(target="German", source="French").messages("x")[0].content
    assert "from French into German" in named


def test_a_custom_template_must_name_the_target_and_the_text() -> None:
    check_template("Into {target}: {text}")
    with pytest.raises(TemplateError, match=r"\{text\}"):
        check_template("Translate into {target}.")
