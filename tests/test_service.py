"""The service with the real worker process, playing a scripted model: streaming, stops,
the prefix cache, every kind of crash and the breaker. (The real model's own path is in
test_real_model.py.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from tests.helpers import Recorder, pid_gone, ready, reply, reply_to, wait_until, wait_until_sync
from tui_chat.core.paths import UserPaths
from tui_chat.core.protocol import (
    PROTOCOL_VERSION,
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
from tui_chat.core.script import (
    FAULT_EXIT_STATUS,
    End,
    Fail,
    Fault,
    Hold,
    Read,
    Say,
    Script,
    says,
)
from tui_chat.service import restart_policy
from tui_chat.service.events import ServiceState, StateChanged, WorkerCrashed
from tui_chat.service.llm_service import LlmService, ServiceUnavailableError
from tui_chat.service.worker_process import WorkerProcess

STORY = "Once upon a time, a dragon learned to sail."
SCRIPT = Script(
    replies=(
        # Streams, then waits for Esc (or a crash) with the whole text shown.
        ("story", (Say.text(STORY), Hold())),
        # Reads a prompt that never ends unless it is stopped.
        ("long read", (Read(1), Read(1, seconds=600.0), *says("never said"))),
        ("hang", (Say.text(STORY), Fail(Fault.HANG))),
        ("refuse", (Say.text("Partly"), Fail(Fault.ERROR, "The scripted model refuses"))),
        ("slowly", (Read(2), *says("One, two, three, four.", every=0.15))),
        ("limit", (Say.text("Cut off"), End(DoneReason.LENGTH), Say.text("never said"))),
        *(
            (f"{fault} while {phase}", (*steps, Fail(fault)))
            for fault in (Fault.EXIT, Fault.SEGFAULT)
            for phase, steps in (("reading", (Read(1),)), ("generating", (Say.text(STORY),)))
        ),
    ),
    default=says("Hello there."),
)
STORY_REQUEST = [ChatMessage("user", "Tell a story.")]

Start = Callable[..., LlmService]


@pytest.fixture
def start(start_service: Start) -> Start:
    """Starts a service on the script above (unless ``changes`` give another), recording
    its events into the recorder passed."""
    return lambda recorder, **changes: start_service(recorder, **{"script": SCRIPT, **changes})


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def service(start: Start, recorder: Recorder) -> LlmService:
    return start(recorder)


async def test_load_reports_the_model(service: LlmService, recorder: Recorder) -> None:
    await ready(service)
    (loaded,) = recorder.of(ModelLoaded)
    assert (loaded.name, loaded.n_ctx) == ("scripted-model", 4096)
    assert service.model == loaded
    assert service.worker_pid is not None
    assert service.workers_started == 1


async def test_a_request_sent_while_loading_waits_for_the_model(
    start: Start, recorder: Recorder
) -> None:
    service = start(recorder, script=replace(SCRIPT, load_seconds=0.3))
    assert service.state is ServiceState.LOADING
    done = await reply(service, recorder, "Hi.")
    assert done.reason is DoneReason.FINISHED
    assert recorder.text(done.request_id) == "Hello there."
    kinds = [type(e) for e in recorder.events if not isinstance(e, StateChanged | LoadProgress)]
    assert kinds.index(ModelLoaded) < kinds.index(Token), "sent once the model was loaded"


async def test_a_reply_streams_in_pieces_with_its_usage_and_done_comes_last(
    service: LlmService, recorder: Recorder
) -> None:
    await ready(service)
    done = await reply(service, recorder, "Count slowly.")
    kinds = [type(e) for e in recorder.of_request(done.request_id)]
    assert kinds == sorted(kinds, key=[PromptProgress, Token, Done].index), "out of order"
    assert kinds.count(PromptProgress) == 2
    assert kinds.count(Token) > 1, "the reply came in one piece"
    assert recorder.text(done.request_id) == "One, two, three, four."
    assert done.reason is DoneReason.FINISHED
    assert done.usage.completion_tokens == recorder.tokens(done.request_id) == 8
    (counted,) = (
        await service.count_tokens(prompts=[[ChatMessage("user", "Count slowly.")]])
    ).prompts
    assert done.usage.prompt_tokens == counted
    assert done.usage.tokens_per_second == pytest.approx(1 / 0.15)


async def test_max_tokens_cuts_a_reply_as_length(service: LlmService, recorder: Recorder) -> None:
    await ready(service)
    done = await reply(service, recorder, "Hi.", max_tokens=2)
    assert done.reason is DoneReason.LENGTH
    assert recorder.text(done.request_id) == "Hello there"
    assert done.usage.completion_tokens == 2


async def test_a_reply_the_model_ends_at_its_limit_ends_as_length(
    service: LlmService, recorder: Recorder
) -> None:
    await ready(service)
    done = await reply(service, recorder, "Up to the limit.")
    assert done.reason is DoneReason.LENGTH
    assert recorder.text(done.request_id) == "Cut off"


async def test_stop_in_mid_reply_ends_it_with_what_was_sent_and_the_worker_takes_the_next(
    service: LlmService, recorder: Recorder
) -> None:
    await ready(service)
    rid = service.generate(STORY_REQUEST)
    await wait_until(lambda: recorder.text(rid) == STORY, message="the story so far")
    assert service.stop()
    await wait_until(lambda: recorder.done(rid), message="stopped")
    done = recorder.done(rid)
    assert done is not None
    assert done.reason is DoneReason.STOPPED
    assert recorder.text(rid) == STORY
    assert done.usage.completion_tokens == recorder.tokens(rid)
    assert isinstance(recorder.of_request(rid)[-1], Done), "nothing of it came after its end"
    after = await reply(service, recorder, "Hi.")
    assert after.reason is DoneReason.FINISHED


async def test_a_stop_lands_while_the_prompt_is_read(
    service: LlmService, recorder: Recorder
) -> None:
    """The second batch would take ten minutes: the reply ends because the stop cut it."""
    await ready(service)
    rid = service.generate([ChatMessage("user", "A long read, please.")])
    await wait_until(lambda: recorder.of(PromptProgress), message="the first batch read")
    service.stop()
    await wait_until(lambda: recorder.done(rid), message="stopped")
    done = recorder.done(rid)
    assert done is not None
    assert done.reason is DoneReason.STOPPED
    assert done.usage.completion_tokens == recorder.tokens(rid) == 0
    assert len(recorder.of(PromptProgress)) == 1, "the prompt went on being read"
    assert (await reply(service, recorder, "Hi.")).reason is DoneReason.FINISHED


async def test_requests_waiting_behind_a_reply_are_dropped_by_a_stop(
    service: LlmService, recorder: Recorder
) -> None:
    await ready(service)
    first = service.generate(STORY_REQUEST)
    second = service.generate([ChatMessage("user", "Hi.")])
    await wait_until(lambda: recorder.tokens(first), message="the first reply under way")
    service.stop()
    await wait_until(lambda: recorder.done(first) and recorder.done(second), message="both")
    assert [d.request_id for d in recorder.of(Done)] == [second, first]
    assert recorder.of_request(second) == [Done(second, DoneReason.STOPPED)]


async def test_the_next_turn_reuses_the_context_and_clear_makes_the_model_forget(
    service: LlmService, recorder: Recorder
) -> None:
    await ready(service)
    first = [ChatMessage("user", "My name is Zorblax.")]
    done = await reply_to(service, recorder, first)
    assert done.usage.cached_tokens == 0
    follow_up = [
        *first,
        ChatMessage("assistant", recorder.text(done.request_id)),
        ChatMessage("user", "What is my name?"),
    ]
    with_context = await reply_to(service, recorder, follow_up)
    # All of the first prompt but its last token, which the reply's first one changes.
    assert with_context.usage.cached_tokens >= done.usage.prompt_tokens - 1
    service.clear_context()
    fresh = await reply_to(service, recorder, follow_up)
    assert fresh.usage.cached_tokens == 0
    assert fresh.usage.prompt_tokens == with_context.usage.prompt_tokens


async def test_an_error_reply_fails_the_request_and_the_worker_goes_on(
    service: LlmService, recorder: Recorder
) -> None:
    await ready(service)
    pid = service.worker_pid
    done = await reply(service, recorder, "I refuse.")
    assert done.reason is DoneReason.ERROR
    events = recorder.of_request(done.request_id)
    assert events[-2:] == [
        Error(ErrorKind.GENERATE, "The scripted model refuses", done.request_id),
        done,
    ]
    assert recorder.text(done.request_id) == "Partly"
    assert service.worker_pid == pid
    assert service.crashes == 0
    assert not recorder.of(WorkerCrashed)


async def _kill_mid_reply(service: LlmService, recorder: Recorder) -> tuple[int, WorkerCrashed]:
    await ready(service)
    crashes_before = len(recorder.of(WorkerCrashed))
    rid = service.generate(STORY_REQUEST)
    await wait_until(lambda: recorder.text(rid) == STORY, message="the reply before the kill")
    pid = service.worker_pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    await wait_until(lambda: len(recorder.of(WorkerCrashed)) > crashes_before, message="crash")
    await wait_until(lambda: pid_gone(pid), message="killed worker reaped")
    return rid, recorder.of(WorkerCrashed)[-1]


async def test_three_kills_in_a_row_restart_twice_then_open_the_breaker(
    service: LlmService, recorder: Recorder
) -> None:
    for n in (1, 2):
        rid, crash = await _kill_mid_reply(service, recorder)
        assert (crash.crashes, crash.restarting) == (n, True)
        assert crash.notice == (
            "The model worker was killed by SIGKILL (out of memory, or killed by hand). "
            f"Restarting it and loading the model again: crash {n} of 3 in a row."
        )
        done = recorder.done(rid)
        assert done is not None
        assert done.reason is DoneReason.INTERRUPTED
        assert recorder.text(rid) == STORY, "the partial reply is kept"
        assert done.usage.completion_tokens == recorder.tokens(rid)
        assert service.state is ServiceState.LOADING
    rid, crash = await _kill_mid_reply(service, recorder)
    assert (crash.crashes, crash.restarting) == (3, False)
    assert crash.notice == (
        "The model worker crashed 3 times in a row. The last time, it was killed by SIGKILL "
        "(out of memory, or killed by hand). Not restarting it."
    )
    assert service.state is ServiceState.BROKEN
    assert service.worker_pid is None
    assert service.workers_started == 3
    with pytest.raises(ServiceUnavailableError, match="stopped after 3 failures in a row"):
        service.generate(STORY_REQUEST)
    service.retry()
    await ready(service)
    assert service.crashes == 0
    assert (await reply(service, recorder, "Hi.")).reason is DoneReason.FINISHED


async def test_a_completed_reply_resets_the_crash_count(
    service: LlmService, recorder: Recorder
) -> None:
    await _kill_mid_reply(service, recorder)
    assert service.crashes == 1
    await ready(service)
    await reply(service, recorder, "Hi.")
    assert service.crashes == 0
    _, crash = await _kill_mid_reply(service, recorder)
    assert crash.crashes == 1


async def test_a_worker_that_fails_at_every_start_opens_the_breaker(
    start: Start, recorder: Recorder
) -> None:
    start(recorder, script=Script(load_fault=Fail(Fault.EXIT)))
    await wait_until(lambda: len(recorder.of(WorkerCrashed)) == 3, message="three crashes")
    assert [c.restarting for c in recorder.of(WorkerCrashed)] == [True, True, False]
    assert (
        f"exited by itself with status {FAULT_EXIT_STATUS}" in recorder.of(WorkerCrashed)[-1].notice
    )
    assert not recorder.of(ModelLoaded)


async def test_a_model_that_cannot_load_is_a_load_error_not_a_crash_loop(
    start: Start, recorder: Recorder
) -> None:
    refused = Fail(Fault.ERROR, "llama.cpp could not load x.gguf: the file is cut short")
    service = start(recorder, script=Script(load_fault=refused))
    await wait_until(lambda: service.state is ServiceState.LOAD_FAILED, message="load error")
    assert recorder.of(Error) == [Error(ErrorKind.LOAD, f"{refused.message}.")]
    assert not recorder.of(WorkerCrashed)
    assert service.workers_started == 1
    with pytest.raises(ServiceUnavailableError, match="could not be loaded"):
        service.generate(STORY_REQUEST)


async def test_shutdown_is_not_a_crash_and_leaves_no_process(
    service: LlmService, recorder: Recorder
) -> None:
    await ready(service)
    pid = service.worker_pid
    assert pid is not None
    await service.close()
    assert pid_gone(pid)
    assert service.state is ServiceState.CLOSED
    assert not recorder.of(WorkerCrashed)


def test_the_worker_exits_when_the_ui_process_is_killed(paths: UserPaths, tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import asyncio
        from pathlib import Path
        from tui_chat.core.protocol import ChatMessage
        from tui_chat.core.script import Hold, Say, Script
        from tui_chat.core.settings import Settings
        from tui_chat.service.llm_service import LlmService
        from tui_chat.service.events import ServiceState

        async def main():
            script = Script(default=(Say(("Once",)), Hold()))
            settings = Settings(model=Path("scripted.gguf"), script=script)
            service = LlmService(settings, Path({str(paths.worker_log)!r}), lambda e: None)
            service.start()
            while service.state is not ServiceState.READY:
                await asyncio.sleep(0.01)
            service.generate([ChatMessage("user", "Write a long story.")])
            while service.state is not ServiceState.GENERATING:
                await asyncio.sleep(0.01)
            print(service.worker_pid, flush=True)
            await asyncio.sleep(60)

        if __name__ == "__main__":
            asyncio.run(main())
        """
    )
    main = tmp_path / "ui.py"
    main.write_text(script)
    ui = subprocess.Popen([sys.executable, str(main)], stdout=subprocess.PIPE, text=True)
    try:
        assert ui.stdout is not None
        worker_pid = int(ui.stdout.readline())
        assert not pid_gone(worker_pid)
        ui.kill()  # in the middle of a reply
        ui.wait()
        wait_until_sync(lambda: pid_gone(worker_pid), message="the worker to follow the UI")
    finally:
        ui.kill()
        ui.wait()


async def test_a_hung_worker_is_ended_when_it_does_not_answer_esc(
    service: LlmService, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(restart_policy, "STOP_DEADLINE_SECONDS", 0.5)
    await ready(service)
    rid = service.generate([ChatMessage("user", "Now hang.")])
    await wait_until(lambda: recorder.text(rid) == STORY, message="the reply before it hangs")
    pid = service.worker_pid
    assert pid is not None
    assert service.stop()
    await wait_until(lambda: recorder.done(rid), message="the stop")
    done = recorder.done(rid)
    assert done is not None
    assert done.reason is DoneReason.STOPPED
    assert recorder.text(rid) == STORY, "the partial reply is kept"
    (crash,) = recorder.of(WorkerCrashed)
    assert "did not answer Esc within 0.5 s and was ended" in crash.notice
    assert (crash.crashes, crash.restarting) == (1, True)
    await wait_until(lambda: pid_gone(pid), message="the hung worker reaped")
    await ready(service)
    assert service.worker_pid != pid
    assert (await reply(service, recorder, "Hi.")).reason is DoneReason.FINISHED


PHASES = ["loading", "idle", "reading the prompt", "generating", "clearing"]


@pytest.mark.parametrize("phase", PHASES)
@pytest.mark.parametrize(
    ("sig", "said"),
    [
        (signal.SIGKILL, "SIGKILL"),
        (signal.SIGSEGV, "segmentation fault"),
        (signal.SIGTERM, "SIGTERM"),
    ],
    ids=["SIGKILL", "SIGSEGV", "SIGTERM"],
)
async def test_a_worker_killed_in_any_phase_is_restarted_and_the_reply_kept(
    start: Start, recorder: Recorder, phase: str, sig: signal.Signals, said: str
) -> None:
    # Loading takes long enough to be killed in the middle of it.
    service = start(recorder, script=replace(SCRIPT, load_seconds=0.5 * (phase == "loading")))
    rid = None
    if phase == "loading":
        await wait_until(lambda: recorder.of(LoadProgress), message="loading")
    else:
        await ready(service)
    if phase == "clearing":
        service.clear_context()  # the signal lands while (or just after) it clears
    elif phase == "generating":
        rid = service.generate(STORY_REQUEST)
        await wait_until(lambda: recorder.text(rid) == STORY, message="the reply under way")
    elif phase == "reading the prompt":
        rid = service.generate([ChatMessage("user", "A long read, please.")])
        await wait_until(lambda: recorder.of(PromptProgress), message="prompt reading")
    pid = service.worker_pid
    assert pid is not None
    os.kill(pid, sig)
    await _restarted_after(service, recorder, pid, rid, said)


@pytest.mark.parametrize("fault", [Fault.EXIT, Fault.SEGFAULT])
@pytest.mark.parametrize("phase", ["reading", "generating"])
async def test_a_worker_that_fails_by_itself_is_restarted_and_the_reply_kept(
    service: LlmService, recorder: Recorder, fault: Fault, phase: str
) -> None:
    await ready(service)
    pid = service.worker_pid
    assert pid is not None
    rid = service.generate([ChatMessage("user", f"Do {fault} while {phase}.")])
    said = {
        Fault.EXIT: f"exited by itself with status {FAULT_EXIT_STATUS}",
        Fault.SEGFAULT: "crashed with a segmentation fault (SIGSEGV)",
    }[fault]
    await _restarted_after(service, recorder, pid, rid, said)
    assert recorder.text(rid) == (STORY if phase == "generating" else "")


async def _restarted_after(
    service: LlmService, recorder: Recorder, pid: int, rid: int | None, said: str
) -> None:
    """The worker ``pid`` ended: the reply ``rid`` ends interrupted, the notice says
    ``said``, a new worker loads and answers."""
    if rid is not None:
        await wait_until(lambda: recorder.done(rid), message="the reply ended")
        done = recorder.done(rid)
        assert done is not None
        assert done.reason is DoneReason.INTERRUPTED
        assert done.usage.completion_tokens == recorder.tokens(rid)
    await wait_until(lambda: recorder.of(WorkerCrashed), message="the crash noticed")
    (crash,) = recorder.of(WorkerCrashed)
    assert said in crash.notice
    assert (crash.crashes, crash.restarting) == (1, True)
    await wait_until(lambda: pid_gone(pid), message="the dead worker reaped")
    await ready(service)
    assert service.worker_pid != pid
    assert (await reply(service, recorder, "Hi.")).reason is DoneReason.FINISHED


async def test_changing_the_model_mid_reply_stops_it_and_loads_the_new_one(
    service: LlmService, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    exits: list[int | None] = []
    reap = WorkerProcess.reap

    def noting(worker: WorkerProcess, grace: float = 0.0) -> None:
        reap(worker, grace)
        exits.append(worker.exitcode)

    monkeypatch.setattr(WorkerProcess, "reap", noting)
    await ready(service)
    old = service.worker_pid
    rid = service.generate(STORY_REQUEST)
    await wait_until(lambda: recorder.text(rid) == STORY, message="the reply under way")
    await service.reload(replace(service.settings, n_ctx=1024))
    done = recorder.done(rid)
    assert done is not None
    assert done.reason is DoneReason.STOPPED
    assert recorder.text(rid) == STORY, "the partial reply is kept"
    assert old is not None
    assert pid_gone(old)
    assert exits == [0], "the old worker was ended instead of leaving by itself"
    await ready(service)
    assert service.model is not None
    assert service.model.n_ctx == 1024
    assert not recorder.of(WorkerCrashed)
    assert (await reply(service, recorder, "Hi.")).reason is DoneReason.FINISHED


async def test_closing_mid_reply_stops_it_and_the_worker_exits_by_itself(
    service: LlmService, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reply is stopped first, so the worker reads its shutdown at once instead of
    being terminated after the grace period."""
    exits: list[int | None] = []
    reap = WorkerProcess.reap

    def noting(worker: WorkerProcess, grace: float = 0.0) -> None:
        reap(worker, grace)
        exits.append(worker.exitcode)

    monkeypatch.setattr(WorkerProcess, "reap", noting)
    await ready(service)
    rid = service.generate(STORY_REQUEST)
    await wait_until(lambda: recorder.text(rid) == STORY, message="the reply under way")
    await service.close()
    assert exits == [0], "the worker was ended instead of exiting by itself"
    assert not recorder.of(WorkerCrashed)


async def test_a_worker_of_another_protocol_version_is_refused_with_why(
    start: Start, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As after an upgrade while tui-chat runs: the worker spawned runs the new code."""
    from tui_chat.service import supervisor

    monkeypatch.setattr(supervisor, "PROTOCOL_VERSION", PROTOCOL_VERSION + 1)
    service = start(recorder)
    await wait_until(lambda: service.state is ServiceState.LOAD_FAILED, message="refused")
    (error,) = recorder.of(Error)
    assert error.kind is ErrorKind.LOAD
    assert error.message.startswith(
        f"The model worker speaks protocol {PROTOCOL_VERSION} and this tui-chat "
        f"{PROTOCOL_VERSION + 1}: tui-chat was updated while it ran."
    )
    assert not recorder.of(ModelLoaded)
    assert service.worker_pid is None, "the worker is left running"
