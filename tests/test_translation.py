"""Translation jobs through the service and the real worker, on the bundled model."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from tests.conftest import wait_until
from tui_chat.core.paths import UserPaths
from tui_chat.core.protocol import ChatMessage, Done, DoneReason
from tui_chat.core.settings import Settings
from tui_chat.core.translation import TranslationRequest
from tui_chat.service.events import ServiceEvent
from tui_chat.service.llm_service import LlmService
from tui_chat.service.translation import TranslationJob

SHORT = "Good morning.\n\nThe train leaves at nine."
FRENCH = TranslationRequest(target="French")


@pytest.fixture
async def service(settings: Settings, paths: UserPaths) -> AsyncIterator[LlmService]:
    events: list[ServiceEvent] = []
    service = LlmService(settings, paths.worker_log, events.append)
    service.start()
    yield service
    await service.close()


async def test_a_short_translation_streams_from_a_cleared_context(service: LlmService) -> None:
    # A chat first, so that the context holds something to leak.
    chat_done: list[Done] = []
    service.generate(
        [ChatMessage("user", "My name is Zorblax.")],
        listener=lambda e: chat_done.append(e) if isinstance(e, Done) else None,
    )
    await wait_until(lambda: chat_done, message="chat reply")

    pieces: list[str] = []
    job = TranslationJob(service, SHORT, FRENCH, pieces.append)
    result = await job.run()

    assert result.reason is DoneReason.FINISHED
    assert len(result.chunks) == 1
    assert result.text.strip()
    assert len([p for p in pieces if p.strip()]) > 1, "the translation did not stream"
    assert "".join(pieces) == result.text
    (usage,) = result.usages
    alone = await service.count_tokens(prompts=[FRENCH.messages(SHORT)])
    assert usage.cached_tokens == 0, "the context was not cleared"
    assert usage.prompt_tokens == alone.prompts[0]
    assert "Zorblax" not in result.text


async def test_a_text_several_times_the_context_is_translated_in_chunks_in_order(
    settings: Settings, paths: UserPaths
) -> None:
    paragraphs = [
        f"Paragraph {n}. The old mill by the river turned slowly all day long."
        for n in range(1, 43)
    ]
    text = "\n\n".join(paragraphs) + "\n"
    service = LlmService(replace(settings, n_ctx=256), paths.worker_log, lambda _e: None)
    service.start()
    try:
        tokens = (await service.count_tokens([text])).texts[0]
        assert tokens > 3 * 256, "the text must be several times the context size"
        pieces: list[str] = []
        progress: list[tuple[int, int]] = []
        job = TranslationJob(
            service, text, FRENCH, pieces.append, lambda n, total: progress.append((n, total))
        )
        result = await job.run()
    finally:
        await service.close()
    assert result.reason is DoneReason.FINISHED
    total = len(result.chunks)
    assert total >= 4
    assert progress == [(n, total) for n in range(1, total + 1)]
    assert "".join(c.source for c in result.chunks) == text
    assert len(result.outputs) == total
    assert "".join(pieces) == "".join(result.outputs)
    for chunk, output in zip(result.chunks, result.outputs, strict=True):
        # Each chunk's translation sits between that chunk's own white space, in order.
        assert output.startswith(chunk.lead)
        assert output.endswith(chunk.trail)
    assert result.text.count("\n\n") >= total - 1, "paragraph breaks were lost"


async def test_stop_ends_the_whole_job_and_keeps_what_was_translated(
    service: LlmService,
) -> None:
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
    assert not service.busy
