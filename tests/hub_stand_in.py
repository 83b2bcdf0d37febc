"""A stand-in for the Hugging Face hub, on localhost, for ``tui-chat pull``'s tests: the
two things ``huggingface_hub`` asks of it (a repository's file tree; a file's metadata and
bytes, with ranges for resumed downloads), answered with the headers it checks."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

COMMIT = "a" * 40


@dataclass
class Hub:
    """Repositories (name -> {path in repo: file on disk}) and what the hub was asked."""

    repos: dict[str, dict[str, Path]] = field(default_factory=dict)
    stall_after: int | None = None
    """Stop sending a file after this many bytes, until ``release`` is set."""
    release: threading.Event = field(default_factory=threading.Event)
    stalled: threading.Event = field(default_factory=threading.Event)
    ranges: list[str] = field(default_factory=list)
    """The Range headers of the file requests, in order."""
    url: str = ""


def _handler(hub: Hub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: object) -> None:
            pass

        def _not_found(self, code: str) -> None:
            self.send_response(404)
            self.send_header("X-Error-Code", code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _file(self, head: bool) -> None:
            match = re.fullmatch(
                r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", unquote(urlsplit(self.path).path)
            )
            files = hub.repos.get(match[1]) if match else None
            if match is None or files is None:
                self._not_found("RepoNotFound")
                return
            source = files.get(match[3])
            if source is None:
                self._not_found("EntryNotFound")
                return
            data = source.read_bytes()
            start = 0
            wanted = self.headers.get("Range")
            if not head:
                hub.ranges.append(wanted or "")
            if wanted and (found := re.fullmatch(r"bytes=(\d+)-", wanted)):
                start = int(found[1])
            self.send_response(206 if start else 200)
            self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(len(data) - start))
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.end_headers()
            if head:
                return
            body = data[start:]
            if hub.stall_after is not None and not hub.release.is_set():
                self.wfile.write(body[: hub.stall_after])
                self.wfile.flush()
                hub.stalled.set()
                hub.release.wait(30)
                return  # the connection ends with the file cut short
            self.wfile.write(body)

        def do_HEAD(self) -> None:
            self._file(head=True)

        def do_GET(self) -> None:
            path = unquote(urlsplit(self.path).path)
            tree = re.fullmatch(r"/api/models/([^/]+/[^/]+)/tree/([^/]+)", path)
            if tree is None:
                self._file(head=False)
                return
            files = hub.repos.get(tree[1])
            if files is None:
                self._not_found("RepoNotFound")
                return
            listing = [
                {"type": "file", "path": name, "size": p.stat().st_size, "oid": "b" * 40}
                for name, p in files.items()
            ]
            body = json.dumps(listing).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@contextmanager
def serving(hub: Hub) -> Iterator[Hub]:
    """The stand-in, listening on a free port of localhost while the block runs."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hub))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield hub
    finally:
        hub.release.set()
        server.shutdown()
        server.server_close()
        thread.join(10)
