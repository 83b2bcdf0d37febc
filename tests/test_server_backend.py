"""Chatting through an OpenAI-compatible server: llama-cpp-python's own server on the
bundled model, started and stopped for each test on 127.0.0.1."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from textual.widgets import Input

from tests.helpers import (
    ANSWERED,
    SIZE,
    ending,
    in_log,
    last_reply_turn,
    outgrow_a_512_token_context,
    put_and_send,
    reply_finished,
    status_text,
    terminal_output,
    translated,
    wait_until,
)
from tests.test_translate_view import open_translate, paste
from tui_chat.bench.llama_server import LlamaServer
from tui_chat.core import config
from tui_chat.core.conversation import TurnStatus
from tui_chat.core.paths import UserPaths
from tui_chat.core.protocol import DoneReason
from tui_chat.core.settings import Settings
from tui_chat.service.events import ServiceState
from tui_chat.ui.app import ChatApp
from tui_chat.ui.screens.settings import SettingsScreen
from tui_chat.ui.widgets.chat_log import Reply

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
MakeApp = Callable[..., ChatApp]


Server = LlamaServer
"""llama-cpp-python's server on the bundled model."""


@pytest.fixture
def running_server(model_path: Path, tmp_path: Path) -> Iterator[Server]:
    server = Server(model_path, tmp_path / "server.log")
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def server(running_server: Server) -> str:
    """A llama.cpp-compatible server on the bundled model; its base address."""
    return running_server.base


@pytest.fixture
def app(make_app: MakeApp, model_settings: Settings, server: str) -> ChatApp:
    return make_app(model_settings, max_tokens=300, server=server)


async def ready(app: ChatApp) -> None:
    await wait_until(lambda: app.service.state is ServiceState.READY, message="server ready")


async def test_a_reply_streams_from_the_server_into_the_log(app: ChatApp, server: str) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        assert "SmolLM2-135M-Instruct.Q4_1.gguf @ 127.0.0.1" in status_text(app)
        await put_and_send(app, pilot, "Name one animal of the sea.")
        turn = await reply_finished(app)
        assert turn.status in ANSWERED
        assert turn.text.strip()
        assert len(turn.parts) > 1, "the reply came in pieces, as it was written"
        await wait_until(lambda: "token counts estimated" in status_text(app), message="est")
        assert "context ~" in status_text(app)


async def test_escape_closes_the_stream_and_the_server_takes_the_next_request(
    app: ChatApp,
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        await put_and_send(app, pilot, "Write a long story about a dragon who learns to sail.")
        await wait_until(lambda: len(last_reply_turn(app).parts) >= 3, message="tokens")
        await pilot.press("escape")
        shown = last_reply_turn(app).text
        turn = await reply_finished(app)
        assert turn.status is TurnStatus.STOPPED
        assert turn.text == shown, "a token appeared after Esc"
        await wait_until(lambda: ending(app) == "[stopped]", message="stopped mark")
        await put_and_send(app, pilot, "Thanks.")
        turn = await reply_finished(app)
        assert turn.status in ANSWERED, "the server was free for the next request"


TUI_CHAT = str(Path(sys.executable).with_name("tui-chat"))


def run_cli(
    *args: str, stdin: bytes | None = None, **env: str
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [TUI_CHAT, *args],
        input=stdin,
        capture_output=True,
        timeout=120,
    )


def test_translate_and_list_models_through_the_server(server: str) -> None:
    listed = run_cli("--list-models", "--server", server)
    assert listed.returncode == 0, listed.stderr.decode()
    assert listed.stdout.decode().strip().endswith("SmolLM2-135M-Instruct.Q4_1.gguf")
    result = run_cli("translate", "--to", "French", "--server", server, stdin=b"Good morning.\n")
    translated(result)
    assert result.stdout.strip()
    assert b"Traceback" not in result.stderr


def test_list_models_without_a_server_says_what_is_missing() -> None:
    result = run_cli("--list-models")
    assert result.returncode == 2
    assert b"--list-models needs --server URL" in result.stderr


async def test_the_api_key_is_never_written_or_shown(
    make_app: MakeApp,
    model_settings: Settings,
    paths: UserPaths,
    server: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = "sk-test-5f1c9e0b7a2d4c68"
    monkeypatch.setenv("TUI_CHAT_TEST_KEY", secret)
    app = make_app(model_settings, server=server, api_key_env="TUI_CHAT_TEST_KEY")
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        await put_and_send(app, pilot, "Say hello.")
        await reply_finished(app)
        await pilot.pause()
        assert secret not in terminal_output(app)
    await app.service.close()
    app.store.close_now()
    for file in paths.data.rglob("*"):
        if file.is_file():
            assert secret.encode() not in file.read_bytes(), file
    for file in paths.logs.rglob("*"):
        if file.is_file():
            assert secret.encode() not in file.read_bytes(), file


async def test_a_server_killed_mid_reply_keeps_the_reply_and_recovers_when_it_is_back(
    make_app: MakeApp, model_settings: Settings, running_server: Server
) -> None:
    app = make_app(model_settings, max_tokens=300, server=running_server.base)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        await put_and_send(app, pilot, "Write a long story about a dragon who learns to sail.")
        await wait_until(lambda: len(last_reply_turn(app).parts) >= 3, message="tokens")
        running_server.kill()
        turn = await reply_finished(app)
        assert turn.status is TurnStatus.INTERRUPTED
        assert turn.text.strip(), "what came before the server died is kept"
        reply = in_log(app, Reply)[-1]
        await wait_until(lambda: "interrupted" in reply.note, message="mark")
        host = running_server.base.removeprefix("http://")
        assert reply.note == (
            f"[interrupted: The server {host} closed the connection in the middle of the reply]"
        )
        # The breaker counts it; two more attempts find no server, and it opens.
        await wait_until(lambda: app.service.crashes >= 1, message="counted")
        await wait_until(lambda: app.service.state is ServiceState.BROKEN, message="down")
        assert app.service.crashes == 3
        await pilot.pause()
        assert "connection refused" in str(app.main.banner.render())
        assert "server not reachable" in status_text(app)
        # The server is back: Ctrl+R connects again and the chat goes on.
        running_server.start()
        await pilot.press("ctrl+r")
        await ready(app)
        await put_and_send(app, pilot, "Thanks.")
        turn = await reply_finished(app)
        assert turn.status in ANSWERED
    await app.service.close()


async def test_a_long_conversation_is_trimmed_to_the_servers_context(
    make_app: MakeApp, model_settings: Settings, server: str
) -> None:
    # The server does not say its context size: the setting (512 here) is used, with
    # token counts estimated from the text.
    app = make_app(model_settings, n_ctx=512, max_tokens=48, server=server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        await outgrow_a_512_token_context(app, pilot)
    await app.service.close()
    app.store.close_now()


async def test_ctrl_l_and_the_translate_view_work_with_a_server(app: ChatApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        await put_and_send(app, pilot, "My name is Zorblax.")
        await reply_finished(app)
        await pilot.press("ctrl+l")
        await wait_until(lambda: not in_log(app, Reply), message="log cleared")
        assert app.main.chat.conversation.turns == []
        await put_and_send(app, pilot, "What is my name?")
        turn = await reply_finished(app)
        sent = app.main.chat.conversation.messages_for(turn)
        assert [m.content for m in sent if m.role != "system"] == ["What is my name?"]
        # The Translate view streams from the server too.
        view = await open_translate(app, pilot)
        await paste(app, "Good morning.")
        await wait_until(lambda: view.source.text == "Good morning.", message="paste")
        app.main.query_one("#target-other", Input).value = "French"
        await pilot.press("ctrl+g")
        await wait_until(lambda: view.running, message="translation started")
        await wait_until(lambda: not view.running, timeout=60, message="translation done")
        result = view.last_result
        assert result is not None
        assert result.reason is DoneReason.FINISHED
        assert view.output.text.strip()


async def test_f3_switches_to_a_server_and_fixes_a_model_it_does_not_have(
    make_app: MakeApp, model_settings: Settings, paths: UserPaths, server: str
) -> None:
    app = make_app(model_settings)  # the bundled model, on this machine
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        for model in ("nope", ""):
            await pilot.press("f3")
            await wait_until(lambda: isinstance(app.screen, SettingsScreen), message="F3")
            app.screen.query_one("#server", Input).value = server
            app.screen.query_one("#server_model", Input).value = model
            await pilot.press("ctrl+s")
            await wait_until(lambda: app.service.state is not ServiceState.READY, message="go")
            if model:  # a refusal: said at once, not retried
                await wait_until(
                    lambda: app.service.state is ServiceState.LOAD_FAILED, message="refused"
                )
                await pilot.pause()
                banner = str(app.main.banner.render())
                assert "has no model nope (it offers: " in banner
                assert f"{GGUF}). Press F3 to choose another model" in banner
                assert app.service.crashes == 0
        await ready(app)
        assert f"{GGUF} @ 127.0.0.1" in status_text(app)
        saved_notes = [n for n in app._notifications if n.message.startswith("Saved to")]
        assert saved_notes, "saving says where"
        assert f"Connecting to {server}" in saved_notes[-1].message
        assert not any(n.markup for n in saved_notes), "a path or address is not markup"
        await put_and_send(app, pilot, "Say hello.")
        assert (await reply_finished(app)).status in ANSWERED
    await app.service.close()
    app.store.close_now()
    saved = config.load(config.config_path(paths.config))
    assert saved == {"server": server, "server_model": ""}, "the local model is not pinned"
