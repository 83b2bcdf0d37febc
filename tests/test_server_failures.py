"""What the server backend says when a server misbehaves: a small HTTP handler here
answers with each failure in turn (the real server is tested in test_server_backend)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tui_chat.core import openai_api
from tui_chat.core.protocol import ChatMessage, Generate, LoadModel, Sampling
from tui_chat.worker.remote import RemoteEngine
from tui_chat.worker.results import LoadError, RequestError


class Handler(BaseHTTPRequestHandler):
    mode = "ok"

    def log_message(self, *_args: object) -> None:
        pass

    def _json(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.mode == "401":
            self._json(401, {"error": {"message": "Invalid API key"}})
        elif self.path == "/v1/models":
            self._json(200, {"data": [{"id": "test-model"}]})
        else:
            self._json(404, {"error": "not found"})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
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


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        Handler.mode = "ok"


def load(base: str) -> RemoteEngine:
    return RemoteEngine.load(LoadModel("", 0, 1, server=base), lambda _f: None)


def generate(engine: RemoteEngine, pieces: list[str]) -> None:
    request = Generate(1, (ChatMessage("user", "Hi."),), 16, Sampling(temperature=0.0))
    engine.generate(request, pieces.append, lambda _d, _t: None)


def test_a_refused_key_is_a_clear_load_error(server: str) -> None:
    Handler.mode = "401"
    with pytest.raises(LoadError) as info:
        load(server)
    assert str(info.value) == "The server answered 401 Unauthorized: Invalid API key"


def test_a_server_error_gives_the_servers_message(server: str) -> None:
    engine = load(server)
    Handler.mode = "500"
    with pytest.raises(RequestError) as info:
        generate(engine, [])
    assert str(info.value) == "The server answered 500 Internal Server Error: out of memory"
    engine.close()


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
    with pytest.raises(LoadError) as info:
        load("http://no-such-host.invalid:8080")
    assert str(info.value) == "The server name no-such-host.invalid could not be found (DNS)"


def test_a_server_that_stops_sending_times_out_with_a_clear_message(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(openai_api, "BETWEEN_CHUNKS_SECONDS", 0.5)
    engine = load(server)
    Handler.mode = "silent"
    started = time.monotonic()
    with pytest.raises(RequestError) as info:
        generate(engine, [])
    assert time.monotonic() - started < 1.8, "the wait was not cut at the timeout"
    assert str(info.value).endswith("sent nothing for 0.5 s")
    engine.close()
