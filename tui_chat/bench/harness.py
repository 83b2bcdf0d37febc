"""What the benchmark drives: the raw library in a process of its own, and the real app,
headless, with timestamps taken where the UI handles each event."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textual import events
from textual.pilot import Pilot

from tui_chat.core.paths import UserPaths
from tui_chat.core.protocol import ChatMessage, Done, Token
from tui_chat.core.settings import Settings
from tui_chat.service.events import RequestEvent, ServiceState
from tui_chat.ui.app import ChatApp

SIZE = (110, 32)


class Raw:
    """llama-cpp-python alone: ``Llama.generate`` in a process of its own."""

    def __init__(self, model: Path, n_ctx: int, threads: int) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tui_chat.bench.raw", str(model), str(n_ctx), str(threads)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.load_seconds = float(self._read()["load_seconds"])

    def _read(self) -> dict[str, Any]:
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError("the raw llama-cpp-python process ended")
        return dict(json.loads(line))

    def generate(self, messages: list[ChatMessage], max_tokens: int) -> dict[str, Any]:
        """Generate greedily from a fresh context; returns timings."""
        assert self._process.stdin is not None
        command = {"messages": [{"role": m.role, "content": m.content} for m in messages]}
        command["max_tokens"] = max_tokens  # type: ignore[assignment]
        self._process.stdin.write(json.dumps(command) + "\n")
        self._process.stdin.flush()
        return self._read()

    def close(self) -> None:
        """End the process."""
        if self._process.stdin:
            self._process.stdin.close()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


@dataclass
class Timeline:
    """When the UI handled each event of the replies."""

    events: list[tuple[float, RequestEvent]] = field(default_factory=list)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when a reply's Done has been handled (waiting on it costs no CPU)."""

    def clear(self) -> None:
        self.events.clear()
        self.ended.clear()

    def record(self, event: RequestEvent) -> None:
        self.events.append((time.perf_counter(), event))
        if isinstance(event, Done):
            self.ended.set()

    def first(self, kind: type) -> float | None:
        return next((t for t, e in self.events if isinstance(e, kind)), None)

    def done(self) -> Done | None:
        return next((e for _, e in self.events if isinstance(e, Done)), None)

    def tokens(self) -> int:
        return sum(1 for _, e in self.events if isinstance(e, Token))


@asynccontextmanager
async def running_app(
    settings: Settings, paths: UserPaths, **app_options: Any
) -> AsyncIterator[tuple[ChatApp, Pilot[None], Timeline]]:
    """The real app, headless, with the chat view's event handling timestamped."""
    app = ChatApp(settings, paths, **app_options)
    timeline = Timeline()
    async with app.run_test(size=SIZE) as pilot:
        chat = app.main.chat
        handle = chat.handle

        async def timed(event: RequestEvent) -> None:
            timeline.record(event)
            await handle(event)

        chat.handle = timed  # type: ignore[method-assign]
        try:
            yield app, pilot, timeline
        finally:
            await app.service.close()
    app.store.close_now()


async def wait_for(
    condition: Callable[[], object], timeout: float = 120.0, poll: float = 0.05
) -> None:
    """Wait on the event loop until ``condition()`` holds, polled every ``poll`` seconds
    (the default is for what is not timed; timed waits use events, or a fine poll)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the benchmark waited too long")
        await asyncio.sleep(poll)


async def reply_ended(pilot: Pilot[None], timeline: Timeline, timeout: float = 300.0) -> Done:
    """Wait until the reply's Done is handled and the screen has caught up."""
    await asyncio.wait_for(timeline.ended.wait(), timeout)
    await pilot.pause()
    done = timeline.done()
    assert done is not None
    return done


async def ready(app: ChatApp) -> None:
    """Wait until the model is loaded and idle."""
    await wait_for(lambda: app.service.state is ServiceState.READY)


async def send(app: ChatApp, pilot: Pilot[None], text: str, timeline: Timeline) -> float:
    """Put ``text`` in the input and press Enter; returns the time of the key press.

    The input is drawn with the text before the key press, as it is when a person has
    typed it: otherwise that repaint would fall in the time to first token. The key
    reaches the app as it does from a terminal: the driver posts it to the app's queue.
    ``Pilot.press`` would then poll the process's CPU time and post a callback to every
    widget to wait for the screen to settle: ~2 ms of the test's own CPU in the window
    where the model reads the prompt."""
    app.main.chat.input.load_text(text)
    await pilot.pause()
    timeline.clear()
    pressed = time.perf_counter()
    app.post_message(events.Key("enter", "\r"))
    return pressed
