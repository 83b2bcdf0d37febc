"""The worker's responses, read from its pipe with one system call per wake-up.

``Connection.recv`` costs a ``select`` and two reads for each message, and the loop
around it one more ``select`` to see that nothing else waits. While a reply streams the
model's threads have every core, and each system call of the UI is CPU taken from them.
Here what waits is read at once and cut into the frames ``Connection.send`` writes.

That frame format is multiprocessing's own, not its public API (as CPython 3.11 writes it):
a 4-byte big-endian signed length, or -1 and an 8-byte length for a message over 2 GiB,
then the pickle. It is read only here; a test reads what a real ``Connection`` sends.
"""

from __future__ import annotations

import os
import pickle
import select
import struct
from collections.abc import Iterator
from typing import Any

READ_BYTES = 1 << 16
"""Most bytes read per wake-up, so that the UI gets its turn even when the worker sends
without pause."""

_LENGTH = struct.Struct("!i")
_LONG_LENGTH = struct.Struct("!Q")


class FrameReader:
    """Cuts the bytes of a ``Connection``'s file descriptor into its messages."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._buffer = bytearray()

    def fill(self) -> None:
        """Read what waits (call it when the descriptor is readable).

        Raises:
            EOFError: The other end is closed.
        """
        data = os.read(self._fd, READ_BYTES)
        if not data:
            raise EOFError
        self._buffer += data

    def fill_all(self) -> None:
        """Read everything the other end sent before it closed, without waiting (``poll``,
        not ``select``: a descriptor may be numbered over 1023)."""
        poller = select.poll()
        poller.register(self._fd, select.POLLIN)
        while poller.poll(0):
            data = os.read(self._fd, READ_BYTES)
            if not data:
                return
            self._buffer += data

    def complete(self) -> bool:
        """A whole message waits in what was read."""
        return self._frame() is not None

    def messages(self) -> Iterator[Any]:
        """The whole messages read so far, in order, each taken out before it is unpickled:
        one that fails to unpickle raises, and the next call goes on after it."""
        while (frame := self._frame()) is not None:
            head, end = frame
            body = self._buffer[head:end]
            del self._buffer[:end]
            yield pickle.loads(body)

    def _frame(self) -> tuple[int, int] | None:
        """Where the first whole message's pickle starts and ends, if one was read."""
        buffer = self._buffer
        if len(buffer) < _LENGTH.size:
            return None
        (size,) = _LENGTH.unpack_from(buffer)
        head = _LENGTH.size
        if size == -1:
            if len(buffer) < head + _LONG_LENGTH.size:
                return None
            (size,) = _LONG_LENGTH.unpack_from(buffer, head)
            head += _LONG_LENGTH.size
        end = head + size
        return (head, end) if len(buffer) >= end else None
