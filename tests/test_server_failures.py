"""What the server backend says when a server misbehaves: a small HTTP handler here
answers with each failure in turn (the real server is tested in test_server_backend)."""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.helpers import (
    SIZE,
    in_log,
    put_and_send,
    reply_finished,
    status_text,
    terminal_output,
    wait_until,
)
from tui_chat.core import openai_api
from tui_chat.core.protocol import (
    ChatMessage,
    Done,
    DoneReason,
    Error,
    Generate,
    LoadModel,
    Sampling,
)
from tui_chat.core.thinking import Split, split_reply
from tui_chat.service import restart_policy
from tui_chat.service.events import ServerBack, ServiceEvent, ServiceState, WorkerCrashed
from tui_chat.service.llm_service import LlmService
from tui_chat.service.server_probe import ServerProbe
from tui_chat.ui.app import ChatApp
from tui_chat.ui.widgets.chat_log import Notice
from tui_chat.worker.remote import RemoteEngine
from tui_chat.worker.results import (
    GenerationResult,
    LoadError,
    RequestError,
    ServerLost,
    ServerUnavailable,
)


class Handler(BaseHTTPRequestHandler):
    mode = "ok"
    padding = 0

    def log_message(self, *_args: object) -> None:
        pass

    def _json(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _quote_key(self) -> None:
        """Refuse the key, quoting it back, as some servers do."""
        sent = self.headers.get("Authorization", "").removeprefix("Bearer ")
        padding = "." * self.padding
        self._json(401, {"error": {"message": f"Incorrect API key provided: {padding}{sent}"}})

    def do_GET(self) -> None:
        if self.mode == "401":
            self._json(401, {"error": {"message": "Invalid API key"}})
        elif self.mode == "401-quoted":
            self._quote_key()
        elif self.mode == "503":  # as llama.cpp's server while it loads its model
            self._json(503, {"error": {"message": "Loading model"}})
        elif self.path == "/props" and self.mode == "props":  # llama.cpp's server
            self._json(200, {"default_generation_settings": {"n_ctx": 1024}})
        elif self.mode == "odd-list":
            self._json(200, {"data": 5})
        elif self.path == "/v1/models":
            self._json(200, {"data": [{"id": "test-model", "max_model_len": 2048}]})
        else:
            self._json(404, {"error": "not found"})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.mode == "401-quoted":
            self._quote_key()
            return
        if self.mode == "json":  # a server that does not stream
            self._json(200, {"choices": [{"message": {"content": "Hello"}}]})
            return
        if self.mode in ("done", "usage", "unfinished", "reasoning_content", "reasoning"):
            self.send_response(200)  # a whole reply, or its start
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            deltas = [{"content": piece} for piece in ("Hello", " there.")]
            if self.mode.startswith("reasoning"):  # a reasoning model's thinking first
                deltas[:0] = [{self.mode: piece} for piece in ("Greet", " them.")]
            for delta in deltas:
                chunk = {"choices": [{"delta": delta, "finish_reason": None}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            if self.mode == "unfinished":  # the connection closes cleanly, too early
                return
            end = {"choices": [{"delta": {}, "finish_reason": "stop"}]}
            self.wfile.write(f"data: {json.dumps(end)}\n\n".encode())
            if self.mode in ("usage", "reasoning_content"):
                counts: dict[str, object] = {"prompt_tokens": 12, "completion_tokens": 2}
                if self.mode == "reasoning_content":
                    details = {"reasoning_tokens": 2}
                    counts.update(completion_tokens=4, completion_tokens_details=details)
                usage = {"choices": [], "usage": counts}
                self.wfile.write(f"data: {json.dumps(usage)}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")
            return
        if self.mode == "silent":  # headers, then nothing for longer than the client waits
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            self.wfile.flush()
            time.sleep(2)
            return
        if self.mode == "500":
            self._json(500, {"error": {"message": "out of memory"}})
            return
        if self.mode == "400":
            self._json(400, {"detail": "the prompt is longer than the context"})
            return
        if self.mode == "pings":  # keep-alive comments only, then the connection closes
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            self.wfile.write(b": ping\n\n: ping\n\n")
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", "100000")  # promises more than it sends
        self.end_headers()
        chunk = {"choices": [{"delta": {"content": "Hello"}, "finish_reason": None}]}
        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        if self.mode == "malformed":
            self.wfile.write(b"data: {not json\n\n")
        self.wfile.flush()
        self.close_connection = True  # "cut": the stream ends in the middle


@contextlib.contextmanager
def serving(tls: ssl.SSLContext | None = None) -> Iterator[str]:
    """The handler on a free port of 127.0.0.1 (behind TLS if given); its address."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    # A short poll: shutdown() waits for it, after every test.
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        Handler.mode = "ok"
        Handler.padding = 0


@pytest.fixture
def server() -> Iterator[str]:
    with serving() as base:
        yield base


TLS = Path(__file__).with_name("data")
"""A self-signed certificate for 127.0.0.1 (and its key), made for these tests only."""


@pytest.fixture
def tls_server() -> Iterator[str]:
    """The same handler behind TLS, with a certificate that no public authority signed."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(TLS / "tls-cert.pem", TLS / "tls-key.pem")
    with serving(context) as base:
        yield base


def load(base: str) -> RemoteEngine:
    return RemoteEngine.load(LoadModel("", 0, 1, server=base), lambda _f: None)


def generate(engine: RemoteEngine, pieces: list[str]) -> GenerationResult:
    request = Generate(1, (ChatMessage("user", "Hi."),), 16, Sampling(temperature=0.0))
    return engine.generate(request, pieces.append, lambda _d, _t: None)


def test_a_refused_key_is_a_clear_load_error(server: str) -> None:
    Handler.mode = "401"
    with pytest.raises(LoadError) as info:
        load(server)
    assert str(info.value) == "The server answered 401 Unauthorized: Invalid API key"
    assert not isinstance(info.value, ServerUnavailable), "trying again would not help"


@pytest.mark.parametrize("when", ["connecting", "asking for a reply", "at the 300th character"])
def test_a_key_that_the_server_quotes_back_is_not_repeated(
    server: str, monkeypatch: pytest.MonkeyPatch, when: str
) -> None:
    if when == "at the 300th character":  # where long messages are cut: cut inside the key
        Handler.padding = 300 - len("Incorrect API key provided: ") - 8
    monkeypatch.setenv("TUI_CHAT_TEST_KEY", "sk-test-0d6e2b")
    command = LoadModel("", 0, 1, server=server, api_key_env="TUI_CHAT_TEST_KEY")

    def refused() -> None:
        if when == "connecting":
            Handler.mode = "401-quoted"
        engine = RemoteEngine.load(command, lambda _f: None)
        Handler.mode = "401-quoted"
        try:
            generate(engine, [])
        finally:
            engine.close()

    with pytest.raises((LoadError, RequestError)) as info:
        refused()
    said = str(info.value)
    assert "sk-test" not in said
    assert said.startswith("The server answered 401 Unauthorized: Incorrect API key provided: ")
    assert said.endswith(("[the API key]", "[the API")), "cut at 300 characters, after it"


def test_a_server_still_loading_is_worth_trying_again(server: str) -> None:
    Handler.mode = "503"
    with pytest.raises(ServerUnavailable) as info:
        load(server)
    assert str(info.value) == "The server answered 503 Service Unavailable: Loading model"


def test_the_context_size_comes_from_the_model_listing(server: str) -> None:
    engine = load(server)
    assert engine.info().n_ctx == 2048, "vLLM's max_model_len, not the setting"
    engine.close()
    Handler.mode = "props"
    engine = load(server)
    assert engine.info().n_ctx == 1024, "llama.cpp's /props: the context it runs with"
    engine.close()


@pytest.mark.parametrize(("mode", "estimated"), [("usage", False), ("done", True)])
def test_token_counts_are_the_servers_or_marked_as_estimates(
    server: str, mode: str, estimated: bool
) -> None:
    engine = load(server)
    Handler.mode = mode
    pieces: list[str] = []
    result = generate(engine, pieces)
    assert "".join(pieces) == "Hello there."
    assert result.reason is DoneReason.FINISHED
    assert result.usage.estimated is estimated
    if not estimated:
        assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (12, 2)
    engine.close()


@pytest.mark.parametrize(("mode", "estimated"), [("reasoning_content", False), ("reasoning", True)])
def test_a_servers_thinking_is_written_into_the_reply_as_a_local_models(
    server: str, mode: str, estimated: bool
) -> None:
    """llama.cpp's server, vLLM and LM Studio send the thinking as ``reasoning_content``,
    Ollama as ``reasoning``: either is told apart from the answer as a local model's."""
    engine = load(server)
    Handler.mode = mode
    pieces: list[str] = []
    result = generate(engine, pieces)
    assert "".join(pieces) == "<think>Greet them.</think>Hello there."
    assert split_reply("".join(pieces)) == Split("Greet them.", "Hello there.")
    assert result.usage.estimated is estimated
    assert result.usage.thinking_tokens == 2, "the server's count, or one a piece"
    engine.close()


@pytest.mark.parametrize(("mode", "came"), [("unfinished", ["Hello", " there."]), ("pings", [])])
def test_a_stream_that_ends_too_early_keeps_what_came_as_a_lost_server(
    server: str, mode: str, came: list[str]
) -> None:
    engine = load(server)
    Handler.mode = mode
    pieces: list[str] = []
    with pytest.raises(ServerLost) as info:
        generate(engine, pieces)
    assert pieces == came
    assert "ended the stream in the middle of the reply" in str(info.value)
    engine.close()


def test_a_server_that_does_not_stream_says_what_it_sent(server: str) -> None:
    engine = load(server)
    Handler.mode = "json"
    with pytest.raises(RequestError) as info:
        generate(engine, [])
    assert str(info.value) == (
        f"The server at {server} did not answer with a stream of events (it sent application/json)"
    )
    engine.close()


@pytest.mark.parametrize(
    ("mode", "lost", "said"),
    [
        ("500", True, "500 Internal Server Error: out of memory"),
        ("400", False, "400 Bad Request: the prompt is longer than the context"),
    ],
)
def test_an_error_answer_gives_the_servers_message(
    server: str, mode: str, lost: bool, said: str
) -> None:
    """A 5xx is the server failing (the breaker counts it, a new worker connects again);
    a 4xx is this request refused (the worker goes on)."""
    engine = load(server)
    Handler.mode = mode
    with pytest.raises(RequestError) as info:
        generate(engine, [])
    assert str(info.value) == f"The server answered {said}"
    assert isinstance(info.value, ServerLost) is lost
    engine.close()


def test_a_listing_that_is_not_a_list_of_models_is_a_clear_load_error(server: str) -> None:
    Handler.mode = "odd-list"
    with pytest.raises(LoadError) as info:
        load(server)
    assert str(info.value) == f"{server}/v1/models did not answer with a list of models"


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("http://gpu-box:80a0", "is not a usable address (e.g. http://127.0.0.1:8080)"),
        ("ftp://gpu-box", "must be an http:// or https:// address, e.g. http://127.0.0.1:8080"),
        ("http://", "must be an http:// or https:// address, e.g. http://127.0.0.1:8080"),
        ("https://me:secret@gpu-box", "must not hold a name or password: put the key in the "
         "API key variable"),
        ("https://gpu-box:8443/base", ""),
    ],
)  # fmt: skip
def test_a_server_address_is_checked_before_use(address: str, problem: str) -> None:
    assert openai_api.address_problem(address) == problem


def test_a_placeholder_key_is_not_hunted_in_messages() -> None:
    assert openai_api.hide("Nothing answers at 127.0.0.1", "1") == "Nothing answers at 127.0.0.1"
    assert openai_api.hide("key sk-0123456789 refused", "sk-0123456789") == (
        "key [the API key] refused"
    )


@pytest.mark.parametrize(
    ("mode", "said"),
    [
        ("cut", "closed the connection in the middle of the reply"),
        ("malformed", "sent something that is not JSON in the stream: '{not json'"),
    ],
)
def test_a_broken_stream_keeps_what_came_and_says_what_broke(
    server: str, mode: str, said: str
) -> None:
    engine = load(server)
    Handler.mode = mode
    pieces: list[str] = []
    with pytest.raises(RequestError) as info:
        generate(engine, pieces)
    assert pieces == ["Hello"]
    assert said in str(info.value)
    engine.close()


def test_a_missing_model_names_what_the_server_offers(server: str) -> None:
    with pytest.raises(LoadError) as info:
        RemoteEngine.load(LoadModel("", 0, 1, server=server, server_model="other"), lambda _f: None)
    assert str(info.value) == (f"The server at {server} has no model other (it offers: test-model)")


def test_an_unknown_server_name_is_a_clear_load_error() -> None:
    with pytest.raises(ServerUnavailable) as info:
        load("http://no-such-host.invalid:8080")
    assert str(info.value) == "The server name no-such-host.invalid could not be found (DNS)"


def test_a_certificate_that_cannot_be_verified_is_refused_and_says_what_to_do(
    tls_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    with pytest.raises(LoadError) as info:
        load(tls_server)
    assert not isinstance(info.value, ServerUnavailable), "trying again would not help"
    host = tls_server.removeprefix("https://")
    assert str(info.value) == (
        f"The TLS certificate of {host} could not be verified (self-signed certificate). "
        "If the server has its own certificate authority, set SSL_CERT_FILE to its "
        "certificate"
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(TLS / "tls-cert.pem"))
    engine = load(tls_server)  # trusted now: verified, not skipped
    assert engine.info().name == f"test-model @ {host}"
    engine.close()


@pytest.fixture
def unanswered() -> Iterator[str]:
    """An address whose connections are never accepted: a listening socket whose queue
    of waiting connections is full, so the kernel drops the next ones, as a firewall or
    an unplugged host does."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    waiting = []
    for _ in range(3):
        waiting.append(socket.socket())
        waiting[-1].setblocking(False)
        waiting[-1].connect_ex(("127.0.0.1", port))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        for s in waiting:
            s.close()
        listener.close()


def test_a_server_that_never_accepts_times_out_with_a_clear_message(
    unanswered: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(openai_api, "CONNECT_SECONDS", 0.5)
    with pytest.raises(ServerUnavailable) as info:
        load(unanswered)
    host = unanswered.removeprefix("http://")
    assert str(info.value) == f"The server {host} did not accept a connection within 0.5 s"


def test_a_server_that_stops_sending_times_out_with_a_clear_message(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(openai_api, "BETWEEN_CHUNKS_SECONDS", 0.5)
    engine = load(server)
    Handler.mode = "silent"
    with pytest.raises(RequestError) as info:
        generate(engine, [])
    # Cut at the timeout: the handler would close the stream after 2 s, with another message.
    assert str(info.value).endswith("sent nothing for 0.5 s")
    engine.close()


async def test_after_a_failure_the_worker_tries_again_by_itself_and_goes_on(
    server: str, start_service: Callable[..., LlmService], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(restart_policy, "SERVER_RETRY_SECONDS", 0.25)
    Handler.mode = "503"
    events: list[ServiceEvent] = []

    def sink(event: ServiceEvent) -> None:
        events.append(event)
        if isinstance(event, WorkerCrashed):
            Handler.mode = "done"  # the server has loaded its model meanwhile

    started = time.monotonic()
    service = start_service(sink, server=server, script=None)
    await wait_until(lambda: service.state is ServiceState.READY, message="back")
    assert time.monotonic() - started >= 0.25, "it waited first"
    assert [e.notice for e in events if isinstance(e, WorkerCrashed)] == [
        "The server answered 503 Service Unavailable: Loading model. "
        "Connecting again in 0.25 s (failure 1 of 3 in a row)."
    ]
    assert (service.crashes, service.workers_started) == (1, 2)
    request = service.generate([ChatMessage("user", "Hi.")])
    await wait_until(
        lambda: any(isinstance(e, Done) and e.request_id == request for e in events),
        message="reply",
    )
    assert service.crashes == 0, "a reply proves the server healthy again"


async def test_the_status_line_uses_the_servers_token_counts_when_it_gives_them(
    server: str, make_app: Callable[..., ChatApp]
) -> None:
    app = make_app(server=server, script=None)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(lambda: app.service.state is ServiceState.READY, message="ready")
        for mode, shown in (("done", "context ~"), ("usage", "context 14/2048")):
            Handler.mode = mode
            await put_and_send(app, pilot, "Hi.")
            await reply_finished(app)
            await pilot.pause()
            assert shown in status_text(app)
            assert ("token counts estimated" in status_text(app)) is (mode == "done")
    await app.service.close()


async def test_no_server_running_says_so_clearly(
    make_app: Callable[..., ChatApp], unused_tcp_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(restart_policy, "SERVER_RETRY_SECONDS", 0.25)
    base = f"http://127.0.0.1:{unused_tcp_port}"
    app = make_app(server=base, script=None)
    started = time.monotonic()
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(lambda: app.service.state is ServiceState.BROKEN, message="gave up")
        # Three attempts, with pauses of 0.25 s and 0.5 s between them: no busy loop.
        assert time.monotonic() - started >= 0.75
        assert (app.service.workers_started, app.service.crashes) == (3, 3)
        assert app.service.worker_pid is None, "no worker left trying"
        await pilot.pause()
        refused = f"Nothing answers at {base} (connection refused): is the server running?"
        notices = [str(n.render()) for n in in_log(app, Notice)]
        assert notices[:2] == [
            f"{refused} Connecting again in 0.25 s (failure 1 of 3 in a row).",
            f"{refused} Connecting again in 0.5 s (failure 2 of 3 in a row).",
        ]
        banner = str(app.main.banner.render())
        assert f"could not be reached 3 times in a row. The last time: {refused}" in banner
        assert (
            "tui-chat checks now and then whether it answers again; a message you send "
            "tries at once."
        ) in banner
        assert "Ctrl+R to try again" in banner
        assert "Traceback" not in terminal_output(app)
        assert status_text(app).startswith(f"server {base.removeprefix('http://')} · ")


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pauses between attempts and checks short enough for a test."""
    monkeypatch.setattr(restart_policy, "SERVER_RETRY_SECONDS", 0.05)
    monkeypatch.setattr(restart_policy, "SERVER_PROBE_SECONDS", 0.1)


async def test_once_the_breaker_gave_up_the_server_back_is_found_by_itself(
    server: str, start_service: Callable[..., LlmService], quick_retries: None
) -> None:
    Handler.mode = "503"
    events: list[ServiceEvent] = []
    service = start_service(events.append, server=server, script=None)
    await wait_until(lambda: service.state is ServiceState.BROKEN, message="gave up")
    assert service.workers_started == 3
    Handler.mode = "done"  # the server is back: nobody presses anything
    await wait_until(lambda: service.state is ServiceState.READY, message="back by itself")
    assert [e for e in events if isinstance(e, ServerBack)] == [ServerBack(server)]
    assert service.workers_started == 4
    request = service.generate([ChatMessage("user", "Hi.")])
    await wait_until(
        lambda: any(isinstance(e, Done) and e.request_id == request for e in events),
        message="a reply",
    )


async def test_a_message_while_the_server_is_down_is_one_more_attempt(
    server: str, start_service: Callable[..., LlmService], quick_retries: None
) -> None:
    Handler.mode = "503"
    events: list[ServiceEvent] = []
    service = start_service(events.append, server=server, script=None)
    await wait_until(lambda: service.state is ServiceState.BROKEN, message="gave up")
    assert service.accepts_requests, "a message is a new attempt, not refused"
    # Still down: one attempt, at once, and the message's reply says why it failed.
    request = service.generate([ChatMessage("user", "Hi.")])
    await wait_until(
        lambda: any(isinstance(e, Done) and e.request_id == request for e in events),
        message="the attempt",
    )
    done = next(e for e in events if isinstance(e, Done) and e.request_id == request)
    error = next(e for e in events if isinstance(e, Error) and e.request_id == request)
    assert done.reason is DoneReason.ERROR
    assert error.message == "The server answered 503 Service Unavailable: Loading model"
    assert (service.state, service.workers_started) == (ServiceState.BROKEN, 4)
    # Back: the next message connects and is answered.
    Handler.mode = "done"
    request = service.generate([ChatMessage("user", "Hi again.")])
    await wait_until(
        lambda: any(isinstance(e, Done) and e.request_id == request for e in events),
        message="the reply",
    )
    done = next(e for e in events if isinstance(e, Done) and e.request_id == request)
    assert done.reason is DoneReason.FINISHED


async def test_the_chat_comes_back_with_the_server_and_says_so(
    server: str, make_app: Callable[..., ChatApp], quick_retries: None
) -> None:
    Handler.mode = "503"
    app = make_app(server=server, script=None)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(lambda: app.main.banner.shown, message="the breaker banner")
        assert "server not reachable" in status_text(app)
        Handler.mode = "done"
        await wait_until(lambda: app.service.state is ServiceState.READY, message="back")
        await pilot.pause()
        assert not app.main.banner.shown
        notices = [str(n.render()) for n in in_log(app, Notice)]
        assert notices[-1] == f"The server {server} answers again: connecting."
        await put_and_send(app, pilot, "Hi.")
        turn = await reply_finished(app)
        assert turn.text == "Hello there."


async def test_the_checks_of_a_server_that_stays_down_come_ever_more_seldom(
    server: str,
    start_service: Callable[..., LlmService],
    quick_retries: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    checks: list[float] = []
    monkeypatch.setattr(restart_policy, "SERVER_PROBE_MAX_SECONDS", 0.4)
    Handler.mode = "503"
    later = ServerProbe._later
    rounds: list[tuple[ServerProbe, int]] = []

    def noting(probe: ServerProbe, server: str, api_key_env: str, seconds: float) -> None:
        checks.append(seconds)
        rounds.append((probe, probe._round))
        later(probe, server, api_key_env, seconds)

    monkeypatch.setattr(ServerProbe, "_later", noting)
    service = start_service(server=server, script=None)
    await wait_until(lambda: len(checks) >= 5, message="five checks")
    assert checks[:5] == [0.1, 0.2, 0.4, 0.4, 0.4], "doubling up to the longest pause"
    assert service.state is ServiceState.BROKEN
    # A check that answers after the person tried again is not heard.
    probe, first_round = rounds[0]
    probe._heard(server, "OPENAI_API_KEY", 0.1, first_round - 1, True)
    assert service.state is ServiceState.BROKEN
