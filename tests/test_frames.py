"""The worker's responses read from its pipe in whole frames, one read per wake-up."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import pickle
import resource
import struct
import types
from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers import wait_until
from tui_chat.core.protocol import Done, DoneReason, Token, Usage
from tui_chat.service.frames import FrameReader
from tui_chat.service.worker_process import WorkerProcess

MESSAGES = [
    Token(1, "Hello", 1),
    Token(1, " wörld 🙂\n" * 3, 3),
    Token(1, "x" * 40_000, 1),  # over 16 KiB: Connection writes its length and body apart
    Done(1, DoneReason.FINISHED, Usage(prompt_tokens=3, completion_tokens=5)),
]


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    read, write = os.pipe()
    yield read, write
    for fd in (read, write):
        with contextlib.suppress(OSError):
            os.close(fd)


def wire_bytes(messages: list[Any]) -> bytes:
    """What ``Connection.send`` writes for ``messages``, read off a real pipe."""
    receiver, sender = multiprocessing.Pipe(duplex=False)
    try:
        for message in messages:
            sender.send(message)
        sender.close()
        data = b""
        while chunk := os.read(receiver.fileno(), 1 << 20):
            data += chunk
        return data
    finally:
        receiver.close()


def frame(body: bytes) -> bytes:
    return struct.pack("!i", len(body)) + body


def test_messages_sent_through_a_connection_are_read_whole_and_in_order() -> None:
    sender, receiver = multiprocessing.Pipe(duplex=True)
    try:
        reader = FrameReader(receiver.fileno())
        got: list[Any] = []
        for n, message in enumerate(MESSAGES, 1):
            sender.send(message)
            while len(got) < n:
                reader.fill()
                got += reader.messages()
        assert got == MESSAGES
    finally:
        sender.close()
        receiver.close()


def test_a_frame_cut_anywhere_waits_for_its_end(pipe: tuple[int, int]) -> None:
    read, write = pipe
    data = wire_bytes(MESSAGES[:2])
    for cut in range(1, len(data)):
        reader = FrameReader(read)
        os.write(write, data[:cut])
        reader.fill()
        got = list(reader.messages())
        assert reader.complete() is False
        os.write(write, data[cut:])
        reader.fill()
        got += reader.messages()
        assert got == MESSAGES[:2], cut


def test_several_frames_in_one_read_come_out_together(pipe: tuple[int, int]) -> None:
    read, write = pipe
    os.write(write, wire_bytes([MESSAGES[0], MESSAGES[1], MESSAGES[3]]))
    reader = FrameReader(read)
    reader.fill()
    assert list(reader.messages()) == [MESSAGES[0], MESSAGES[1], MESSAGES[3]]


def test_a_message_over_two_gib_uses_the_long_length(pipe: tuple[int, int]) -> None:
    # Connection.send writes -1 and an 8-byte length for such a message; the same form
    # with a small body, as it would be cut.
    read, write = pipe
    body = pickle.dumps(MESSAGES[0])
    os.write(write, struct.pack("!i", -1) + struct.pack("!Q", len(body)) + body)
    reader = FrameReader(read)
    reader.fill()
    assert list(reader.messages()) == [MESSAGES[0]]


def test_a_message_that_cannot_be_unpickled_holds_back_none_after_it(
    pipe: tuple[int, int],
) -> None:
    read, write = pipe
    os.write(write, frame(b"not a pickle") + frame(pickle.dumps(MESSAGES[0])))
    reader = FrameReader(read)
    reader.fill()
    with pytest.raises(pickle.UnpicklingError):
        list(reader.messages())
    assert list(reader.messages()) == [MESSAGES[0]]


def test_the_end_of_the_pipe_is_eof_after_what_was_sent(pipe: tuple[int, int]) -> None:
    read, write = pipe
    data = wire_bytes(MESSAGES)
    os.write(write, data[:-3])  # the last frame is cut by the writer's death
    os.close(write)
    reader = FrameReader(read)
    reader.fill_all()
    assert list(reader.messages()) == MESSAGES[:-1]
    with pytest.raises(EOFError):
        reader.fill()


def test_what_is_left_is_read_from_a_descriptor_over_1023(pipe: tuple[int, int]) -> None:
    """``select`` refuses such a descriptor; a process with many files open has them."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if max(soft, hard if hard != resource.RLIM_INFINITY else 4096) < 1100:
        pytest.skip("this process may not open 1100 files")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1100), hard))
    read, write = pipe
    high = os.dup2(read, 1050)
    try:
        os.write(write, wire_bytes(MESSAGES[:2]))
        os.close(write)
        reader = FrameReader(high)
        reader.fill_all()
        assert list(reader.messages()) == MESSAGES[:2]
    finally:
        os.close(high)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def test_a_listener_s_error_loses_none_of_the_responses_after_it() -> None:
    """Each response goes on its own, as when each waited in the pipe: a listener that
    fails on one still hears the next (the reply's end), and the worker's end is heard
    once all of it was."""
    loop = asyncio.get_running_loop()
    errors: list[BaseException] = []
    loop.set_exception_handler(lambda _loop, context: errors.append(context["exception"]))
    conn, child = multiprocessing.Pipe(duplex=True)
    sentinel, dead = os.pipe()  # stands in for the process sentinel
    heard: list[Any] = []
    ended = asyncio.Event()

    def on_response(response: Any) -> None:
        heard.append(response)
        if response == MESSAGES[0]:
            raise RuntimeError("a listener failed")

    worker = object.__new__(WorkerProcess)
    worker._loop, worker.conn = loop, conn
    worker.process = types.SimpleNamespace(sentinel=sentinel)  # type: ignore[assignment]
    worker._on_response, worker._on_exit = on_response, lambda _w: ended.set()
    worker._watched = True
    worker._frames = FrameReader(conn.fileno())
    loop.add_reader(conn.fileno(), worker._on_readable)
    loop.add_reader(sentinel, worker._ended)
    try:
        child.send(MESSAGES[0])
        child.send(MESSAGES[3])
        await wait_until(lambda: len(heard) == 2, message="the response after the error")
        assert heard == [MESSAGES[0], MESSAGES[3]]
        assert [str(e) for e in errors] == ["a listener failed"]
        child.send(MESSAGES[1])
        child.close()
        os.close(dead)  # the worker ends: what it sent last is heard, then its end
        await asyncio.wait_for(ended.wait(), 10)
        assert heard[-1] == MESSAGES[1]
    finally:
        worker.detach()
        conn.close()
        os.close(sentinel)
