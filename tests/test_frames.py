"""The worker's responses read from its pipe in whole frames, one read per wake-up."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import struct
from collections.abc import Iterator

import pytest

from tui_chat.core.protocol import Done, DoneReason, Token, Usage
from tui_chat.service.frames import FrameReader

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


def wire_bytes(messages: list[object]) -> bytes:
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


def test_messages_sent_through_a_connection_are_read_whole_and_in_order() -> None:
    sender, receiver = multiprocessing.Pipe(duplex=True)
    try:
        reader = FrameReader(receiver.fileno())
        got: list[object] = []
        for message in MESSAGES:
            sender.send(message)
            while len(got) < MESSAGES.index(message) + 1:
                got += reader.read()
        assert got == MESSAGES
    finally:
        sender.close()
        receiver.close()


def test_a_frame_cut_anywhere_waits_for_its_end(pipe: tuple[int, int]) -> None:
    read, write = pipe
    data = wire_bytes(MESSAGES[:2])
    for cut in range(1, len(data)):
        reader, got = FrameReader(read), []
        os.write(write, data[:cut])
        got += reader.read()
        os.write(write, data[cut:])
        got += reader.read()
        assert got == MESSAGES[:2], cut


def test_several_frames_in_one_read_come_out_together(pipe: tuple[int, int]) -> None:
    read, write = pipe
    os.write(write, wire_bytes([MESSAGES[0], MESSAGES[1], MESSAGES[3]]))
    assert FrameReader(read).read() == [MESSAGES[0], MESSAGES[1], MESSAGES[3]]


def test_a_message_over_two_gib_uses_the_long_length(pipe: tuple[int, int]) -> None:
    # Connection.send writes -1 and an 8-byte length for such a message; the same form
    # with a small body, as it would be cut.
    read, write = pipe
    body = pickle.dumps(MESSAGES[0])
    os.write(write, struct.pack("!i", -1) + struct.pack("!Q", len(body)) + body)
    assert FrameReader(read).read() == [MESSAGES[0]]


def test_the_end_of_the_pipe_is_eof_after_what_was_sent(pipe: tuple[int, int]) -> None:
    read, write = pipe
    data = wire_bytes(MESSAGES)
    os.write(write, data[:-3])  # the last frame is cut by the writer's death
    os.close(write)
    reader = FrameReader(read)
    assert reader.drain() == MESSAGES[:-1]
    with pytest.raises(EOFError):
        reader.read()
