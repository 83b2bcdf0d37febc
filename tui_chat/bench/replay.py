"""A replay source that stands in for the worker process, for the benchmark only.

It speaks the worker protocol, loads nothing, and answers every Generate with the same
long Markdown reply (paragraphs, lists, tables, code fences), one token per message, at
a steady rate (far above any CPU model): a measure of what the UI costs per token, with
no model in the way. It never stands in for the model in a
test of generation.
"""

from __future__ import annotations

import os
import re
import time
from multiprocessing.connection import Connection

from tui_chat.core.protocol import (
    Done,
    DoneReason,
    Generate,
    LoadModel,
    ModelLoaded,
    Shutdown,
    Token,
    Usage,
    WorkerReady,
)

REPLAY_TOKENS_ENV = "TUI_CHAT_REPLAY_TOKENS"
REPLAY_RATE_ENV = "TUI_CHAT_REPLAY_RATE"
"""Tokens a second the replay offers (a full pipe holds it back when the UI falls behind)."""
BURST = 10
"""Tokens sent together, every BURST / rate seconds."""


def markdown_reply(tokens: int) -> list[str]:
    """About ``tokens`` pieces of a Markdown reply of every common kind of block."""
    blocks: list[str] = []
    n = 0
    pieces: list[str] = []
    while len(pieces) < tokens:
        n += 1
        paragraph = (
            f"The harbour at dawn, part {n}: boats rock gently while gulls circle above "
            "the quay, and the old lighthouse keeper counts the fishing fleet as it "
            "returns with the tide. Nets are mended on the stones, and somebody sings. "
        )
        blocks += [
            f"## Part {n}\n",
            paragraph * 2 + "\n",
            "- nets mended and hung to dry\n- a crate of **fresh** fish\n"
            "- one `rope` too short\n- a gull that steals bread\n",
            paragraph + "\n",
            (
                "| boat | crew | catch |\n|---|---|---|\n"
                f"| Gull {n} | 4 | 120 kg |\n| Tern {n} | 3 | 85 kg |\n"
            )
            if n % 2
            else f"```python\ndef catch(boat: str) -> int:\n    return len(boat) * {n}\n```\n",
            paragraph * 2 + "\n",
        ]
        pieces = re.findall(r"\s*\S+|\s+", "\n".join(blocks))
    return pieces[:tokens]


def run(conn: Connection, log_path: str) -> None:
    """Worker entry point with the same signature as the real one."""
    tokens = int(os.environ.get(REPLAY_TOKENS_ENV, "10000"))
    rate = float(os.environ.get(REPLAY_RATE_ENV, "4000"))
    reply = markdown_reply(tokens)
    conn.send(WorkerReady(os.getpid()))
    while True:
        try:
            command = conn.recv()
        except (EOFError, OSError):
            os._exit(0)
        match command:
            case LoadModel():
                conn.send(ModelLoaded("replay", "replay", 1_000_000, 1_000_000, "none", 1, 0.0))
            case Generate(request_id=rid):
                started = time.perf_counter()
                for n, piece in enumerate(reply):
                    if n % BURST == 0:
                        wait = started + n / rate - time.perf_counter()
                        if wait > 0:
                            time.sleep(wait)
                    conn.send(Token(rid, piece))
                conn.send(Done(rid, DoneReason.FINISHED, Usage(completion_tokens=len(reply))))
            case Shutdown():
                os._exit(0)
            case _:
                pass
