"""The service with the real worker process and the real bundled model."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

import pytest

from tests import fault_worker
from tests.conftest import pid_gone, wait_until
from tui_chat.core.paths import UserPaths
from tui_chat.core.protocol import (
    ChatMessage,
    Done,
    DoneReason,
    Error,
    ErrorKind,
    LoadProgress,
    ModelLoaded,
    PromptProgress,
    Token,
)
from tui_chat.core.settings import Settings
from tui_chat.service.events import ServiceEvent, ServiceState, WorkerCrashed
from tui_chat.service.llm_service import (
    STOP_DEADLINE_SECONDS,
    LlmService,
    ServiceUnavailableError,
)

T = TypeVar("T")

LONG_STORY = [ChatMessage("user", "Write a long story about a dragon who learns to sail.")]


class Recorder:
    """Collects service events in order, with the time each arrived."""

    def __init__(self) -> None:
        self.events: list[tuple[float, ServiceEvent]] = []

    def __call__(self, event: ServiceEvent) -> None:
        self.events.append((time.perf_counter(), event))

    def of(self, kind: type[T]) -> list[T]:
        return [e for _, e in self.events if isinstance(e, kind)]

    def text(self, request_id: int) -> str:
        return "".join(t.text for t in self.of(Token) if t.request_id == request_id)

    def done(self, request_id: int) -> Done | None:
        return next((d for d in self.of(Done) if d.request_id == request_id), None)

    def tokens(self, request_id: int) -> int:
        return sum(1 for t in self.of(Token) if t.request_id == request_id)


@pytest.fixture
async def started(
    settings: Settings, paths: UserPaths
) -> AsyncIterator[tuple[LlmService, Recorder]]:
    recorder = Recorder()
    service = LlmService(settings, paths.worker_log, recorder)
    service.start()
    yield service, recorder
    await service.close()


async def ready(service: LlmService) -> None:
    await wait_until(lambda: service.state is ServiceState.READY, message="model loaded")


async def reply(service: LlmService, recorder: Recorder, text: str, **kw: object) -> Done:
    rid = service.generate([ChatMessage("user", text)], **kw)  # type: ignore[arg-type]
    await wait_until(lambda: recorder.done(rid), message=f"reply {rid}")
    done = recorder.done(rid)
    assert done is not None
    return done


async def test_load_reports_the_model(started: tuple[LlmService, Recorder]) -> None:
    service, recorder = started
    await ready(service)
    (loaded,) = recorder.of(ModelLoaded)
    assert loaded.n_ctx == 4096
    assert loaded.n_threads == service.settings.n_threads
    assert service.model == loaded
    assert service.worker_pid is not None


async def test_llama_cpp_output_goes_to_the_worker_log(
    started: tuple[LlmService, Recorder], paths: UserPaths, capfd: pytest.CaptureFixture[str]
) -> None:
    service, _ = started
    await ready(service)
    log = paths.worker_log.read_text()
    assert "llama_model_load" in log or "print_info" in log
    out, err = capfd.readouterr()
    assert "llama" not in out + err, "llama.cpp wrote to the terminal"


async def test_a_request_sent_while_loading_waits_for_the_model(
    started: tuple[LlmService, Recorder],
) -> None:
    service, recorder = started
    assert service.state is ServiceState.LOADING
    done = await reply(service, recorder, "What is the capital of France?")
    assert done.reason in (DoneReason.FINISHED, DoneReason.LENGTH)
    assert "Paris" in recorder.text(done.request_id)


async def test_a_reply_streams_token_by_token_and_reports_usage(
    started: tuple[LlmService, Recorder],
) -> None:
    service, recorder = started
    await ready(service)
    done = await reply(service, recorder, "Name three colours.")
    assert recorder.tokens(done.request_id) >= 3
    assert done.usage.completion_tokens >= recorder.tokens(done.request_id)
    assert done.usage.prompt_tokens > 5
    assert done.usage.tokens_per_second > 0
    # Every token arrived before the done.
    times = [t for t, e in recorder.events if getattr(e, "request_id", None) == done.request_id]
    assert isinstance(recorder.events[-1][1], Done) or times == sorted(times)


async def test_stop_in_mid_reply_ends_it_at_once_and_the_worker_takes_the_next(
    started: tuple[LlmService, Recorder],
) -> None:
    service, recorder = started
    await ready(service)
    rid = service.generate(LONG_STORY, max_tokens=400)
    await wait_until(lambda: recorder.tokens(rid) >= 8, message="8 tokens")
    shown = recorder.tokens(rid)
    pressed = time.perf_counter()
    assert service.stop()
    await wait_until(lambda: recorder.done(rid), message="stopped")
    latency = next(t for t, e in recorder.events if isinstance(e, Done)) - pressed
    done = recorder.done(rid)
    assert done is not None
    assert done.reason is DoneReason.STOPPED
    assert recorder.tokens(rid) == shown, "a token was passed on after the stop"
    assert done.usage.completion_tokens < 400
    print(f"\nstop latency in decoding: {latency * 1000:.1f} ms")
    after = await reply(service, recorder, "Say hello.")
    assert after.reason in (DoneReason.FINISHED, DoneReason.LENGTH)


async def test_stop_lands_during_processing_of_a_long_prompt(
    started: tuple[LlmService, Recorder],
) -> None:
    service, recorder = started
    await ready(service)
    paragraph = "The quick brown fox jumps over the lazy dog near the quiet river bank. "
    rid = service.generate([ChatMessage("user", paragraph * 100 + "\nSummarise.")])
    await wait_until(lambda: recorder.of(PromptProgress), message="first prompt batch")
    (progress,) = recorder.of(PromptProgress)
    assert progress.total >= 1400
    pressed = time.perf_counter()
    # The second batch of 512 tokens takes seconds on a CPU; the stop must not wait for it.
    service.stop()
    await wait_until(lambda: recorder.done(rid), message="stopped")
    latency = time.perf_counter() - pressed
    done = recorder.done(rid)
    assert done is not None
    assert done.reason is DoneReason.STOPPED
    assert done.usage.completion_tokens == 0
    assert recorder.tokens(rid) == 0
    assert len(recorder.of(PromptProgress)) == 1, "the prompt went on being processed"
    print(f"\nstop latency in prompt processing: {latency * 1000:.1f} ms")
    assert latency < 1.0, "the stop waited for the batch to finish"
    after = await reply(service, recorder, "Say hello.")
    assert after.reason in (DoneReason.FINISHED, DoneReason.LENGTH)


async def test_clear_context_makes_the_model_forget(started: tuple[LlmService, Recorder]) -> None:
    service, recorder = started
    await ready(service)
    first = [ChatMessage("user", "My name is Zorblax. Remember it.")]
    rid = service.generate(first)
    await wait_until(lambda: recorder.done(rid))
    follow_up = [
        *first,
        ChatMessage("assistant", recorder.text(rid)),
        ChatMessage("user", "What is my name?"),
    ]
    with_context = await _reply_to(service, recorder, follow_up)
    assert with_context.usage.cached_tokens > 10
    service.clear_context()
    fresh = await _reply_to(service, recorder, [ChatMessage("user", "What is my name?")])
    assert fresh.usage.cached_tokens == 0
    assert fresh.usage.prompt_tokens < with_context.usage.prompt_tokens
    assert "Zorblax" not in recorder.text(fresh.request_id)


async def _reply_to(service: LlmService, recorder: Recorder, messages: list[ChatMessage]) -> Done:
    rid = service.generate(messages)
    await wait_until(lambda: recorder.done(rid))
    done = recorder.done(rid)
    assert done is not None
    return done


async def _kill_mid_reply(service: LlmService, recorder: Recorder) -> tuple[int, WorkerCrashed]:
    await ready(service)
    crashes_before = len(recorder.of(WorkerCrashed))
    rid = service.generate(LONG_STORY, max_tokens=400)
    await wait_until(lambda: recorder.tokens(rid) >= 3, message="tokens before the kill")
    pid = service.worker_pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    await wait_until(lambda: len(recorder.of(WorkerCrashed)) > crashes_before, message="crash")
    await wait_until(lambda: pid_gone(pid), message="killed worker reaped")
    return rid, recorder.of(WorkerCrashed)[-1]


async def test_three_kills_in_a_row_restart_twice_then_open_the_breaker(
    started: tuple[LlmService, Recorder],
) -> None:
    service, recorder = started
    for n in (1, 2):
        rid, crash = await _kill_mid_reply(service, recorder)
        assert (crash.crashes, crash.restarting) == (n, True)
        assert "SIGKILL" in crash.notice
        assert f"restart {n} of 2" in crash.notice
        done = recorder.done(rid)
        assert done is not None
        assert done.reason is DoneReason.INTERRUPTED
        assert recorder.text(rid), "the partial reply is kept"
        assert service.state is ServiceState.LOADING
    rid, crash = await _kill_mid_reply(service, recorder)
    assert (crash.crashes, crash.restarting) == (3, False)
    assert "crashed 3 times in a row" in crash.notice
    assert service.state is ServiceState.BROKEN
    assert service.worker_pid is None
    with pytest.raises(ServiceUnavailableError):
        service.generate(LONG_STORY)
    service.retry()
    await ready(service)
    assert service.crashes == 0
    done = await reply(service, recorder, "Say hello.")
    assert done.reason in (DoneReason.FINISHED, DoneReason.LENGTH)


async def test_a_completed_reply_resets_the_crash_count(
    started: tuple[LlmService, Recorder],
) -> None:
    service, recorder = started
    await _kill_mid_reply(service, recorder)
    assert service.crashes == 1
    await ready(service)
    await reply(service, recorder, "Say hello.")
    assert service.crashes == 0
    _, crash = await _kill_mid_reply(service, recorder)
    assert crash.crashes == 1


async def test_crashes_while_loading_and_while_idle_count_too(
    started: tuple[LlmService, Recorder],
) -> None:
    service, recorder = started
    pid = service.worker_pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)  # the model is still loading
    await wait_until(lambda: recorder.of(WorkerCrashed), message="crash while loading")
    await ready(service)
    pid = service.worker_pid
    assert pid is not None
    os.kill(pid, signal.SIGSEGV)  # idle
    await wait_until(lambda: len(recorder.of(WorkerCrashed)) == 2, message="crash while idle")
    crash = recorder.of(WorkerCrashed)[-1]
    assert "segmentation fault" in crash.notice
    assert crash.crashes == 2
    await ready(service)
    done = await reply(service, recorder, "Say hello.")
    assert done.reason in (DoneReason.FINISHED, DoneReason.LENGTH)


@pytest.mark.parametrize(
    ("damage", "reason"),
    [("garbage after the header", "only supports"), ("truncated", "corrupted or incomplete")],
)
async def test_a_model_that_cannot_load_is_a_load_error_not_a_crash_loop(
    settings: Settings,
    paths: UserPaths,
    model_path: Path,
    tmp_path: Path,
    damage: str,
    reason: str,
) -> None:
    bad = tmp_path / "bad.gguf"
    if damage == "truncated":
        bad.write_bytes(model_path.read_bytes()[:2_000_000])
    else:
        bad.write_bytes(b"GGUF" + os.urandom(4096))
    recorder = Recorder()
    service = LlmService(replace(settings, model=bad), paths.worker_log, recorder)
    service.start()
    try:
        await wait_until(lambda: service.state is ServiceState.LOAD_FAILED, message="load error")
        (error,) = recorder.of(Error)
        assert error.kind is ErrorKind.LOAD
        assert str(bad) in error.message
        assert reason in error.message, "llama.cpp's own reason is passed on"
        assert not recorder.of(WorkerCrashed)
        with pytest.raises(ServiceUnavailableError):
            service.generate(LONG_STORY)
    finally:
        await service.close()


async def test_shutdown_is_not_a_crash_and_leaves_no_process(
    started: tuple[LlmService, Recorder],
) -> None:
    service, recorder = started
    await ready(service)
    pid = service.worker_pid
    assert pid is not None
    await service.close()
    assert pid_gone(pid)
    assert service.state is ServiceState.CLOSED
    assert not recorder.of(WorkerCrashed)


def test_the_worker_exits_within_a_second_when_the_ui_process_is_killed(
    paths: UserPaths, model_path: Path
) -> None:
    script = textwrap.dedent(
        f"""
        import asyncio, sys
        from pathlib import Path
        from tui_chat.core.protocol import ChatMessage
        from tui_chat.core.settings import Settings
        from tui_chat.service.llm_service import LlmService
        from tui_chat.service.events import ServiceState

        async def main():
            service = LlmService(Settings(model=Path({str(model_path)!r})),
                                 Path({str(paths.worker_log)!r}), lambda e: None)
            service.start()
            while service.state is not ServiceState.READY:
                await asyncio.sleep(0.01)
            service.generate([ChatMessage("user", "Write a long story.")], max_tokens=4000)
            while service.state is not ServiceState.GENERATING:
                await asyncio.sleep(0.01)
            print(service.worker_pid, flush=True)
            await asyncio.sleep(60)

        if __name__ == "__main__":
            asyncio.run(main())
        """
    )
    ui = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=paths.logs
    )
    try:
        assert ui.stdout is not None
        worker_pid = int(ui.stdout.readline())
        assert not pid_gone(worker_pid)
        ui.kill()  # in the middle of a reply
        ui.wait()
        killed = time.monotonic()
        while not pid_gone(worker_pid) and time.monotonic() < killed + 5:
            time.sleep(0.005)
        assert pid_gone(worker_pid), "the worker outlived the killed UI process"
        assert time.monotonic() - killed < 1.0
    finally:
        ui.kill()
        ui.wait()


async def test_a_hung_worker_is_ended_when_it_does_not_answer_esc(
    started: tuple[LlmService, Recorder],
) -> None:
    service, recorder = started
    await ready(service)
    rid = service.generate(LONG_STORY, max_tokens=400)
    await wait_until(lambda: recorder.tokens(rid) >= 3, message="tokens")
    pid = service.worker_pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)  # as if stuck in native code: it cannot answer
    pressed = time.perf_counter()
    assert service.stop()
    await wait_until(lambda: recorder.done(rid), timeout=10, message="the stop")
    waited = time.perf_counter() - pressed
    done = recorder.done(rid)
    assert done is not None
    assert done.reason is DoneReason.STOPPED
    assert recorder.text(rid), "the partial reply is kept"
    assert STOP_DEADLINE_SECONDS <= waited < STOP_DEADLINE_SECONDS + 2
    crash = recorder.of(WorkerCrashed)[-1]
    assert "did not answer Esc within 2 s" in crash.notice
    assert (crash.crashes, crash.restarting) == (1, True)
    await wait_until(lambda: pid_gone(pid), message="the hung worker reaped")
    await ready(service)
    assert service.worker_pid != pid
    after = await reply(service, recorder, "Say hello.")
    assert after.reason in (DoneReason.FINISHED, DoneReason.LENGTH)


PHASES = ["loading", "idle", "reading the prompt", "generating", "clearing"]


@pytest.mark.parametrize("phase", PHASES)
@pytest.mark.parametrize(
    ("sig", "said"),
    [
        (signal.SIGKILL, "SIGKILL"),
        (signal.SIGSEGV, "segmentation fault"),
        (signal.SIGTERM, "SIGTERM"),
    ],
)
async def test_a_worker_that_dies_in_any_phase_is_restarted_and_the_reply_kept(
    started: tuple[LlmService, Recorder], phase: str, sig: signal.Signals, said: str
) -> None:
    service, recorder = started
    await _end_worker_in(service, recorder, phase, sig, said)


@pytest.mark.parametrize("phase", PHASES)
async def test_a_worker_that_exits_by_itself_in_any_phase_is_restarted_and_the_reply_kept(
    settings: Settings, paths: UserPaths, phase: str
) -> None:
    recorder = Recorder()
    service = LlmService(settings, paths.worker_log, recorder, worker_target=fault_worker.run)
    service.start()
    try:
        said = f"exited by itself with status {fault_worker.EXIT_STATUS}"
        await _end_worker_in(service, recorder, phase, fault_worker.EXIT_SIGNAL, said)
    finally:
        await service.close()


async def _end_worker_in(
    service: LlmService, recorder: Recorder, phase: str, sig: signal.Signals, said: str
) -> None:
    """End the worker with ``sig`` in ``phase``; check the notice, the reply and the restart."""
    rid = None
    if phase == "loading":
        # Progress comes from llama.cpp's load, so the worker is running by then.
        await wait_until(lambda: recorder.of(LoadProgress), message="loading")
    else:
        await ready(service)
    if phase == "clearing":
        service.clear_context()  # the signal lands while (or just after) it clears
    elif phase == "generating":
        rid = service.generate(LONG_STORY, max_tokens=400)
        await wait_until(lambda: recorder.tokens(rid) >= 3, message="tokens")
    elif phase == "reading the prompt":
        long_prompt = [ChatMessage("user", "The boats rose with the tide. " * 300)]
        rid = service.generate(long_prompt, max_tokens=20)
        await wait_until(
            lambda: any(p.request_id == rid for p in recorder.of(PromptProgress)),
            message="prompt processing",
        )
    pid = service.worker_pid
    assert pid is not None
    os.kill(pid, sig)
    if rid is not None:
        await wait_until(lambda: recorder.done(rid), message="the reply ended")
        done = recorder.done(rid)
        assert done is not None
        assert done.reason is DoneReason.INTERRUPTED
        if phase == "generating":
            assert recorder.text(rid), "the partial reply is kept"
    await wait_until(lambda: recorder.of(WorkerCrashed), message="the crash noticed")
    crash = recorder.of(WorkerCrashed)[-1]
    assert said in crash.notice
    assert (crash.crashes, crash.restarting) == (1, True)
    await wait_until(lambda: pid_gone(pid), message="the dead worker reaped")
    await ready(service)
    assert service.worker_pid != pid
    after = await reply(service, recorder, "Say hello.")
    assert after.reason in (DoneReason.FINISHED, DoneReason.LENGTH)
