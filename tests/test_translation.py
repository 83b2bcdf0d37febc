"""Translation jobs through the service and the real worker, on a scripted model that
"translates" by saying the text back: the output must then be the source, exactly."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from dataclasses import replace

import pytest

from tests.helpers import INSTRUCTION_END, echo, wait_until
from tui_chat.core.paths import UserPaths
from tui_chat.core.protocol import ChatMessage, Done, DoneReason
from tui_chat.core.script import Echo, Say, Script, tokens
from tui_chat.core.settings import Settings
from tui_chat.core.translation import TranslationRequest
from tui_chat.service.llm_service import LlmService
from tui_chat.service.translation import ChunkFailure, TranslationJob

SHORT = "Good morning.\n\nThe train leaves at nine."
FRENCH = TranslationRequest(target="French")
ECHO = echo(every=0.02)

Start = Callable[..., LlmService]


@pytest.fixture
def start(start_service: Start) -> Start:
    """Starts a service on the echoing script (unless ``changes`` give another)."""
    return lambda **changes: start_service(**{"script": ECHO, **changes})


async def test_a_short_translation_streams_from_a_cleared_context(start: Start) -> None:
    service = start()
    # A chat first, so that the context holds something to leak.
    chat_done: list[Done] = []
    service.generate(
        [ChatMessage("user", "My name is Zorblax.")],
        listener=lambda e: chat_done.append(e) if isinstance(e, Done) else None,
    )
    await wait_until(lambda: chat_done, message="chat reply")

    pieces: list[str] = []
    result = await TranslationJob(service, SHORT, FRENCH, pieces.append).run()

    assert result.reason is DoneReason.FINISHED
    assert len(result.chunks) == 1
    assert result.text == SHORT
    assert len([p for p in pieces if p.strip()]) > 1, "the translation did not stream"
    assert "".join(pieces) == result.text
    (usage,) = result.usages
    alone = await service.count_tokens(prompts=[FRENCH.messages(SHORT)])
    assert usage.cached_tokens == 0, "the context was not cleared"
    assert usage.prompt_tokens == alone.prompts[0]


async def test_a_text_several_times_the_context_is_translated_in_chunks_in_order(
    start: Start,
) -> None:
    paragraphs = [
        f"Paragraph {n}. The old mill by the river turned slowly all day long."
        for n in range(1, 61)
    ]
    text = "\n\n".join(paragraphs) + "\n"
    service = start(n_ctx=256, script=echo(every=0.0))
    tokens = (await service.count_tokens([text])).texts[0]
    assert tokens > 3 * 256, "the text must be several times the context size"
    pieces: list[str] = []
    progress: list[tuple[int, int]] = []
    job = TranslationJob(
        service, text, FRENCH, pieces.append, lambda n, total: progress.append((n, total))
    )
    result = await job.run()
    assert result.reason is DoneReason.FINISHED
    total = len(result.chunks)
    assert total >= 4
    assert progress == [(n, total) for n in range(1, total + 1)]
    assert "".join(c.source for c in result.chunks) == text
    assert result.outputs == [c.source for c in result.chunks], "each chunk in its place"
    assert "".join(pieces) == result.text == text


async def test_stop_ends_the_whole_job_and_keeps_what_was_translated(start: Start) -> None:
    service = start()
    text = "\n\n".join(f"Sentence number {n} is about the sea." for n in range(40))
    pieces: list[str] = []
    job = TranslationJob(service, text, FRENCH, pieces.append, max_chunk_tokens=20)
    running = asyncio.ensure_future(job.run())
    await wait_until(lambda: len(job.result.outputs) >= 1 and pieces, message="a chunk")
    job.stop()
    result = await running
    assert result.reason is DoneReason.STOPPED
    assert 1 <= len(result.outputs) < len(result.chunks)
    assert "".join(pieces) == result.text
    assert text.startswith(result.text.rstrip()), "what was translated is kept, in order"
    assert not service.busy


@pytest.mark.parametrize(
    ("text", "reason", "error"),
    [
        (
            "Please crash.",
            DoneReason.INTERRUPTED,
            "The model worker crashed during the translation.",
        ),
        ("Please refuse.", DoneReason.ERROR, "The scripted model refuses"),
    ],
)
async def test_a_model_that_fails_mid_translation_ends_the_job_with_the_reason(
    start: Start, text: str, reason: DoneReason, error: str
) -> None:
    service = start()
    pieces: list[str] = []
    result = await TranslationJob(service, text, FRENCH, pieces.append).run()
    assert result.reason is reason
    assert result.error == error
    assert "".join(pieces) == result.text


LOOP = "une fois " * 60
WORDY = " ".join(f"mot{n}" for n in range(200))
FAILING = Script(
    replies=(
        ("loops", (Say.text("La prochaine d'un projet est " + LOOP, every=0.01),)),
        ("wordy", (Say.text(WORDY),)),
    ),
    default=(Echo(INSTRUCTION_END),),
)
PARAGRAPHS = [
    "A first paragraph, plain and short enough for one piece.",
    "This one loops: the model says the same words again and again.",
    "This one is wordy: the model writes on and on without an end.",
    "A last paragraph, plain and short enough for one piece.",
]
TEXT = "\n\n".join(PARAGRAPHS) + "\n"


async def test_a_chunk_that_loops_or_runs_on_is_cut_and_said_so(start: Start) -> None:
    service = start(script=FAILING)
    streamed: list[str] = []
    ends: list[tuple[str, ChunkFailure | None]] = []
    job = TranslationJob(
        service, TEXT, FRENCH, streamed.append, max_chunk_tokens=16,
        on_chunk=lambda output, failure: ends.append((output, failure)),
    )  # fmt: skip
    result = await job.run()
    assert result.reason is DoneReason.FINISHED
    assert [c.body for c in result.chunks] == PARAGRAPHS
    cut = "".join(tokens(WORDY)[:61])
    bodies = [PARAGRAPHS[0], PARAGRAPHS[1], cut, PARAGRAPHS[3]]
    # The second looped: its text as it was. The third was cut at its length limit: what
    # was translated, and said so.
    assert result.outputs == [
        c.lead + b + c.trail for c, b in zip(result.chunks, bodies, strict=True)
    ]
    assert [output for output, _ in ends] == result.outputs
    assert result.failed == [
        ChunkFailure(2, "the model repeated the same words over and over"),
        ChunkFailure(3, "cut short at the length limit, 61 tokens for 15", source_kept=False),
    ]
    assert [failure for _, failure in ends] == [None, *result.failed, None]
    # Cut when the loop showed, not at the token limit.
    assert result.usages[1].completion_tokens < len(tokens("La prochaine d'un projet est " + LOOP))


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("out", [io.StringIO, _Terminal], ids=["into a file", "on a terminal"])
async def test_the_command_keeps_untranslated_pieces_as_they_were_and_fails(
    settings: Settings, paths: UserPaths, out: type[io.StringIO], capsys: pytest.CaptureFixture[str]
) -> None:
    from tui_chat.commands.translate import EXIT_FAILED, _translate

    service = LlmService(replace(settings, script=FAILING), paths.worker_log, lambda _e: None)
    written = out()
    status = await _translate(service, TEXT, FRENCH, written, chunk_tokens=16)
    assert status == EXIT_FAILED
    said = capsys.readouterr().err
    assert "2 of 4 pieces not translated whole: cut short at the length limit" in said
    assert "A piece that looped is in the output as it was." in said
    cut = "".join(tokens(WORDY)[:61])
    if out is io.StringIO:  # a file gets each piece once done: the looped one as it was
        assert written.getvalue() == (
            f"{PARAGRAPHS[0]}\n\n{PARAGRAPHS[1]}\n\n{cut}\n\n{PARAGRAPHS[3]}\n"
        )  # the source's own white space between the pieces
    else:
        shown = written.getvalue()
        assert "[not translated: the model repeated the same words over and over; the text" in shown
        assert "as it was:]\n" + PARAGRAPHS[1] in shown
        assert cut + "\n[cut short at the length limit, 61 tokens for 15]\n" in shown
