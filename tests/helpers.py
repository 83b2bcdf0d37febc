"""What tests do again and again: wait on a condition, drive the app, record the service's
events, look at processes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import pytest

from tui_chat.core.config import Value
from tui_chat.core.protocol import ChatMessage, Done, Token
from tui_chat.core.script import Echo, Fail, Fault, Say, Script, says
from tui_chat.core.translation import DEFAULT_TEMPLATE, TEXT
from tui_chat.service.events import ServiceEvent, ServiceState

if TYPE_CHECKING:
    from textual.app import App
    from textual.pilot import Pilot
    from textual.widget import Widget

    from tui_chat.core.conversation import Turn
    from tui_chat.service.llm_service import LlmService
    from tui_chat.ui.app import ChatApp

T = TypeVar("T")
W = TypeVar("W", bound="Widget")

SIZE = (100, 32)

ANSWERED = ("complete", "length")
"""The statuses of a reply a real model wrote to its end: finished, or cut at the token
limit (which of the two depends on the machine's words)."""
"""The terminal size of the headless app, unless a test needs another."""


async def wait_until(
    predicate: Callable[[], object], timeout: float = 30.0, message: str = ""
) -> None:
    """Wait for a condition on the event loop, failing after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {message or predicate}")
        await asyncio.sleep(0.005)


def every_setting(model: Path) -> dict[str, Value]:
    """A value other than the default for every setting of the table (the model at
    ``model``)."""
    return {
        "model": str(model),
        "server": "http://127.0.0.1:9",
        "server_model": "big",
        "api_key_env": "MY_KEY",
        "ctx": 1000,
        "model_dirs": "/srv/models,~/more",
        "threads": 3,
        "gpu_layers": "20",
        "flash_attn": "on",
        "cache_type": "q8_0",
        "show_thinking": "hide",
        "crash_limit": 7,
        "system_prompt": 'Be "brief".\nTwo lines.',
        "temperature": 0.7,
        "top_p": 0.5,
        "max_tokens": 12,
        "resume_cache_mb": 100,
        "translation_language": "Welsh",
        "translation_chunk_tokens": 40,
        "translation_prompt": "Into {target}: {text}",
    }


def wait_until_sync(
    predicate: Callable[[], object], timeout: float = 10.0, message: str = ""
) -> None:
    """``wait_until`` for code that runs outside an event loop."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {message or predicate}")
        time.sleep(0.01)


# Processes -----------------------------------------------------------------------------


def child_processes() -> list[tuple[int, str, str]]:
    """Live (or unreaped) children of this process: pid, state, command line.

    multiprocessing's resource tracker is left out: it is shared for the session and
    exits by itself when this process ends.
    """
    me = os.getpid()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: fields follow the last ')'.
        fields = stat[stat.rindex(")") + 2 :].split()
        state, ppid = fields[0], int(fields[1])
        if ppid == me and "resource_tracker" not in cmdline:
            found.append((int(entry.name), state, cmdline))
    return found


def pid_gone(pid: int) -> bool:
    """True when ``pid`` has exited (a zombie counts as exited)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2] == "Z"


def descendants(pid: int) -> set[int]:
    """Every process below ``pid``."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


# Scripts -------------------------------------------------------------------------------

INSTRUCTION_END = DEFAULT_TEMPLATE.partition(TEXT)[0].rstrip().rpartition("\n")[2]
"""The last line of the instruction: what the model is to translate follows it."""


def echo(every: float) -> Script:
    """A model that "translates" by saying the text back, a piece every ``every`` seconds,
    with the white space a model puts around a translation (the job trims it)."""
    return Script(
        replies=(
            ("crash", (Say(("Partly",)), Fail(Fault.EXIT))),
            ("refuse", (Fail(Fault.ERROR, "The scripted model refuses"),)),
            ("Translate", (Say(("\n",)), Echo(INSTRUCTION_END, every), Say((" \n",)))),
        ),
        default=says("Hello there."),
    )


def translated(
    result: subprocess.CompletedProcess[bytes] | subprocess.CompletedProcess[str],
) -> None:
    """``tui-chat translate`` on the real model ended well: done (0), or done with pieces
    the model did not translate (1, said on stderr, kept as they were): which of the two
    depends on the model's words, which differ between machines."""
    said = result.stderr if isinstance(result.stderr, str) else result.stderr.decode()
    assert result.returncode in (0, 1), said
    if result.returncode == 1:
        assert "not translated whole: " in said, said
    assert "Traceback" not in said


# The service ---------------------------------------------------------------------------


class Recorder:
    """Collects the service's events in the order they came."""

    def __init__(self) -> None:
        self.events: list[ServiceEvent] = []

    def __call__(self, event: ServiceEvent) -> None:
        self.events.append(event)

    def of(self, kind: type[T]) -> list[T]:
        return [e for e in self.events if isinstance(e, kind)]

    def of_request(self, request_id: int) -> list[ServiceEvent]:
        """The events of one request, in order."""
        return [e for e in self.events if getattr(e, "request_id", None) == request_id]

    def text(self, request_id: int) -> str:
        return "".join(t.text for t in self.of(Token) if t.request_id == request_id)

    def done(self, request_id: int) -> Done | None:
        return next((d for d in self.of(Done) if d.request_id == request_id), None)

    def tokens(self, request_id: int) -> int:
        """Tokens received for the request (a message may carry several)."""
        return sum(t.count for t in self.of(Token) if t.request_id == request_id)


async def ready(service: LlmService) -> None:
    await wait_until(lambda: service.state is ServiceState.READY, message="model loaded")


async def reply(service: LlmService, recorder: Recorder, text: str, **kw: object) -> Done:
    """Ask for a reply to ``text`` alone and wait for its end."""
    return await reply_to(service, recorder, [ChatMessage("user", text)], **kw)


async def reply_to(
    service: LlmService, recorder: Recorder, messages: list[ChatMessage], **kw: object
) -> Done:
    rid = service.generate(messages, **kw)  # type: ignore[arg-type]
    await wait_until(lambda: recorder.done(rid), message=f"reply {rid}")
    done = recorder.done(rid)
    assert done is not None
    return done


# The app -------------------------------------------------------------------------------


async def loaded(app: ChatApp) -> None:
    await wait_until(lambda: app.service.state is ServiceState.READY, message="model ready")


async def type_and_send(pilot: Pilot[None], text: str) -> None:
    """Type ``text`` key by key, then Enter."""
    await pilot.press(*text)
    await pilot.press("enter")


async def put_and_send(app: ChatApp, pilot: Pilot[None], text: str) -> None:
    """Send a long message without typing it key by key (Pilot waits after each key)."""
    app.main.chat.input.load_text(text)
    await pilot.press("enter")


def last_reply_turn(app: ChatApp) -> Turn:
    return next(t for t in reversed(app.main.chat.conversation.turns) if t.role == "assistant")


async def reply_finished(app: ChatApp) -> Turn:
    """Wait until the newest reply has ended, in the conversation and on screen; its
    turn. (The recorder ends the turn on the service's thread before the log hears.)"""
    from tui_chat.core.conversation import TurnStatus
    from tui_chat.ui.widgets.reply import Reply

    def ended() -> bool:
        if not any(t.role == "assistant" for t in app.main.chat.conversation.turns):
            return False
        if last_reply_turn(app).status is TurnStatus.STREAMING:
            return False
        replies = in_log(app, Reply)
        return bool(replies) and replies[-1].reason is not None

    await wait_until(ended, message="reply end")
    return last_reply_turn(app)


def status_text(app: ChatApp) -> str:
    return str(app.main.status.render())


def in_log(app: App[object], kind: type[W]) -> list[W]:
    """The log's messages, replies or notices of ``kind``, oldest first: not the hidden
    widgets that wait at its end for the next message."""
    from tui_chat.ui.app import ChatApp

    assert isinstance(app, ChatApp)
    return [w for w in app.main.chat.chat_log.entries if isinstance(w, kind)]


def drawn(app: App[object]) -> str:
    """What the terminal shows now, as text."""
    update = app.screen._compositor.render_full_update()
    return str(update.render_segments(app.console))


def footer(app: App[object]) -> list[str]:
    """The keys the footer shows now ("^g Again"…)."""
    return [str(key.render()) for key in app.screen.query("FooterKey")]


def ending(app: ChatApp) -> str:
    """The line under the newest reply that says how it ended ("[stopped]"…)."""
    from tui_chat.ui.widgets.chat_log import Reply

    return in_log(app, Reply)[-1].note


def terminal_output(app: ChatApp) -> str:
    """Everything the app would write to the terminal for a full redraw of its screen."""
    update = app.screen._compositor.render_full_update()
    return update.render_segments(app.console)


async def outgrow_a_512_token_context(app: ChatApp, pilot: Pilot[None]) -> None:
    """Six long turns in a 512-token context: the oldest are left out, once marked, and
    every reply completes; then a message too long to fit even alone fails, with numbers."""
    from tui_chat.core.conversation import TurnStatus
    from tui_chat.ui.widgets.chat_log import MEMORY_MARKER, Notice

    paragraph = "Tell me about rivers, boats, bridges, harbours and the sea. " * 6
    for n in range(6):
        await put_and_send(app, pilot, f"{n}: {paragraph}")
        turn = await reply_finished(app)
        assert turn.status in ANSWERED, f"turn {n} failed"
    assert app.main.chat.conversation.context_start > 0
    markers = [str(n.render()) for n in in_log(app, Notice) if n.has_class("memory-marker")]
    assert markers == [MEMORY_MARKER]
    await put_and_send(app, pilot, "word " * 900)
    turn = await reply_finished(app)
    assert turn.status is TurnStatus.FAILED
    assert "the context holds 512" in ending(app)
