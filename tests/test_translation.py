"""Translation jobs through the service and the real worker, on a scripted model that
"translates" by saying the text back: the output must then be the source, exactly."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from tests.helpers import echo, wait_until
from tui_chat.core.protocol import ChatMessage, Done, DoneReason
from tui_chat.core.translation import TranslationRequest
from tui_chat.service.llm_service import LlmService
from tui_chat.service.translation import TranslationJob

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
