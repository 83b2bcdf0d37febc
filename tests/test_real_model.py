"""The real bundled model through the service and the app: the path works end to end.

These tests assert what holds on every machine (text streams, the reply ends for a right
reason, the counts add up, a stop lands, a crash is survived), never the words: greedy
output differs between CPUs (AVX2, AVX-512), llama.cpp builds and thread counts. Exact
text is the scripted model's job (test_service.py, test_app.py).
"""

from __future__ import annotations

import importlib.abc
import os
import re
import signal
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from tests.helpers import (
    ANSWERED,
    SIZE,
    Recorder,
    in_log,
    last_reply_turn,
    loaded,
    pid_gone,
    put_and_send,
    ready,
    reply,
    reply_finished,
    reply_to,
    status_text,
    type_and_send,
    wait_until,
)
from tui_chat.core.paths import UserPaths
from tui_chat.core.protocol import (
    ChatMessage,
    Done,
    DoneReason,
    Error,
    ErrorKind,
    ModelLoaded,
    PromptProgress,
    Token,
)
from tui_chat.core.settings import Settings
from tui_chat.service.events import ServiceState, WorkerCrashed
from tui_chat.service.llm_service import LlmService, ServiceUnavailableError
from tui_chat.ui.app import ChatApp
from tui_chat.ui.widgets.chat_log import Reply

pytestmark = pytest.mark.model

STORY = [ChatMessage("user", "Write a long story about a dragon who learns to sail.")]
ENDED = (DoneReason.FINISHED, DoneReason.LENGTH)


@pytest.fixture
async def started(
    model_settings: Settings, start_service: Callable[..., LlmService]
) -> tuple[LlmService, Recorder]:
    recorder = Recorder()
    return start_service(recorder, base=model_settings), recorder


async def test_the_model_loads_and_llama_cpp_writes_only_to_the_worker_log(
    started: tuple[LlmService, Recorder], paths: UserPaths, capfd: pytest.CaptureFixture[str]
) -> None:
    service, recorder = started
    await ready(service)
    (loaded_model,) = recorder.of(ModelLoaded)
    assert loaded_model.name == "SmolLM2-135M-Instruct.Q4_1"
    assert loaded_model.n_ctx == 4096
    log = paths.worker_log.read_text()
    # What the UI does not need is in the worker's log, for whoever looks into a problem.
    threads = service.settings.n_threads
    where = loaded_model.placement
    assert where == "CPU" or re.fullmatch(r"GPU \d+/\d+ layers", where), where
    assert f"context 4096 tokens (trained with 8192), {where}, {threads} threads" in log
    assert "chat template gguf" in log
    assert "llama_model_load" in log or "print_info" in log
    out, err = capfd.readouterr()
    assert "llama" not in out + err, "llama.cpp wrote to the terminal"


async def test_a_reply_streams_and_its_counts_add_up(
    started: tuple[LlmService, Recorder],
) -> None:
    service, recorder = started
    await ready(service)
    messages = [ChatMessage("user", "Name three colours.")]
    done = await reply_to(service, recorder, messages, max_tokens=48)
    rid = done.request_id
    assert done.reason in ENDED
    events = recorder.of_request(rid)
    assert isinstance(events[-1], Done), "something of the reply came after its end"
    assert sum(isinstance(e, Token) for e in events) > 1, "the reply came in one piece"
    assert recorder.text(rid).strip()
    # Each token message counts the tokens it carries; a token that holds half a
    # character is sent with the next one.
    assert 0 < recorder.tokens(rid) <= done.usage.completion_tokens <= 48
    if done.reason is DoneReason.LENGTH:
        assert done.usage.completion_tokens == 48
    (prompt,) = (await service.count_tokens(prompts=[messages])).prompts
    assert done.usage.prompt_tokens == prompt
    assert done.usage.tokens_per_second > 0


async def test_stop_lands_in_decoding_and_in_a_long_prompt(
    started: tuple[LlmService, Recorder],
) -> None:
    service, recorder = started
    await ready(service)
    rid = service.generate(STORY, max_tokens=2000)
    await wait_until(lambda: recorder.tokens(rid) >= 8, message="8 tokens")
    assert service.stop()
    await wait_until(lambda: recorder.done(rid), message="stopped while decoding")
    done = recorder.done(rid)
    assert done is not None
    assert done.reason is DoneReason.STOPPED
    assert isinstance(recorder.of_request(rid)[-1], Done)
    # The second batch of 512 prompt tokens takes seconds on a CPU: the stop, sent at
    # the first batch's report, lands inside it (llama.cpp's abort callback).
    paragraph = "The quick brown fox jumps over the lazy dog near the quiet river bank. "
    rid = service.generate([ChatMessage("user", paragraph * 100 + "\nSummarise.")])
    await wait_until(
        lambda: any(p.request_id == rid for p in recorder.of(PromptProgress)),
        message="the first prompt batch",
    )
    service.stop()
    await wait_until(lambda: recorder.done(rid), message="stopped while reading")
    done = recorder.done(rid)
    assert done is not None
    assert done.reason is DoneReason.STOPPED
    assert done.usage.completion_tokens == recorder.tokens(rid) == 0
    progress = [p for p in recorder.of(PromptProgress) if p.request_id == rid]
    assert len(progress) == 1, "the prompt went on being read"
    assert progress[0].total >= 1400
    assert (await reply(service, recorder, "Say hello.")).reason in ENDED


async def test_the_prefix_cache_serves_the_next_turn_and_clear_forgets(
    started: tuple[LlmService, Recorder],
) -> None:
    service, recorder = started
    await ready(service)
    first = [ChatMessage("user", "My name is Zorblax. Remember it.")]
    done = await reply_to(service, recorder, first)
    follow_up = [
        *first,
        ChatMessage("assistant", recorder.text(done.request_id)),
        ChatMessage("user", "What is my name?"),
    ]
    with_context = await reply_to(service, recorder, follow_up)
    assert with_context.usage.cached_tokens > done.usage.prompt_tokens // 2
    service.clear_context()
    fresh = await reply_to(service, recorder, follow_up)
    assert fresh.usage.cached_tokens == 0
    assert fresh.usage.prompt_tokens == with_context.usage.prompt_tokens


async def test_a_worker_killed_mid_reply_keeps_the_reply_and_a_new_one_answers(
    started: tuple[LlmService, Recorder],
) -> None:
    service, recorder = started
    await ready(service)
    rid = service.generate(STORY, max_tokens=2000)
    await wait_until(lambda: recorder.tokens(rid) >= 3, message="tokens before the kill")
    pid = service.worker_pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    await wait_until(lambda: recorder.done(rid), message="the reply ended")
    done = recorder.done(rid)
    assert done is not None
    assert done.reason is DoneReason.INTERRUPTED
    assert recorder.text(rid), "the partial reply is kept"
    (crash,) = recorder.of(WorkerCrashed)
    assert "SIGKILL" in crash.notice
    await wait_until(lambda: pid_gone(pid), message="the killed worker reaped")
    await ready(service)
    assert (await reply(service, recorder, "Say hello.")).reason in ENDED


@pytest.mark.parametrize(
    ("damage", "reason"),
    [("garbage after the header", "only supports"), ("truncated", "corrupted or incomplete")],
)
async def test_a_model_that_cannot_load_says_llama_cpps_reason(
    model_settings: Settings,
    start_service: Callable[..., LlmService],
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
    service = start_service(recorder, base=model_settings, model=bad)
    await wait_until(lambda: service.state is ServiceState.LOAD_FAILED, message="load error")
    (error,) = recorder.of(Error)
    assert error.kind is ErrorKind.LOAD
    assert str(bad) in error.message
    assert reason in error.message, "llama.cpp's own reason is passed on"
    assert not recorder.of(WorkerCrashed)
    with pytest.raises(ServiceUnavailableError):
        service.generate(STORY)


class _RefuseLlamaCpp(importlib.abc.MetaPathFinder):
    """Fails any import of llama_cpp in this process, and notes it."""

    def __init__(self) -> None:
        self.tried: list[str] = []

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name.split(".")[0] == "llama_cpp":
            self.tried.append(name)
            raise ImportError(f"the UI process imported {name}")


@pytest.fixture
def llama_cpp_refused(monkeypatch: pytest.MonkeyPatch) -> _RefuseLlamaCpp:
    """For the length of the test, llama_cpp cannot be imported in this process, even if
    another test imported it before."""
    for name in [m for m in sys.modules if m.split(".")[0] == "llama_cpp"]:
        monkeypatch.delitem(sys.modules, name)
    refuse = _RefuseLlamaCpp()
    monkeypatch.setattr(sys, "meta_path", [refuse, *sys.meta_path])
    return refuse


async def test_chat_in_the_app_on_the_real_model_and_the_ui_never_imports_llama_cpp(
    make_app: Callable[..., ChatApp],
    model_settings: Settings,
    llama_cpp_refused: _RefuseLlamaCpp,
) -> None:
    app = make_app(model_settings, max_tokens=100)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        await type_and_send(pilot, "What is the capital of France?")
        await wait_until(lambda: len(last_reply_turn(app).parts) >= 2, message="tokens")
        turn = await reply_finished(app)
        assert turn.status in ANSWERED
        assert turn.text.strip()
        reply = in_log(app, Reply)[-1]
        await wait_until(lambda: reply.source == turn.text, message="shown whole")
        await pilot.pause()
        status = status_text(app)
        assert re.match(
            r"SmolLM2-135M-Instruct\.Q4_1 · (CPU|GPU \d+/\d+ layers) · ready · ", status
        )
        assert "tok/s" in status
    assert llama_cpp_refused.tried == []


async def test_a_conversation_left_and_opened_again_goes_on_from_its_kept_state(
    make_app: Callable[..., ChatApp], model_settings: Settings, paths: UserPaths
) -> None:
    """Ctrl+N keeps the model's state of the conversation left (in the cache folder);
    opening it again restores it: the next reply reads only the new message."""
    settings = replace(model_settings, max_tokens=16, resume_cache=paths.resume_cache)
    app = make_app(settings)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        await put_and_send(app, pilot, "Tell me about the sea and its tides. " * 12)
        await reply_finished(app)
        status = app.main.status
        await wait_until(lambda: status.usage is not None, message="the first reply's counts")
        read_first = status.usage
        assert read_first is not None
        chat = app.main.chat
        conversation = chat.conversation.id
        assert conversation is not None
        await pilot.press("ctrl+n")
        await wait_until(lambda: list(paths.resume_cache.glob("*/*.state")), message="kept")
        await chat.open(conversation)  # as Enter in F2 does
        await put_and_send(app, pilot, "And rivers?")
        await reply_finished(app)
        await wait_until(lambda: status.usage not in (None, read_first), message="counts")
        resumed = status.usage
        assert resumed is not None
        assert resumed.cached_tokens > read_first.prompt_tokens
        assert resumed.prompt_tokens - resumed.cached_tokens < 30, "only the new message read"
