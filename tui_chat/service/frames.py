"""The worker's responses, read from its pipe with one system call per wake-up.

``Connection.recv`` costs a ``select`` and two reads for each message, and the loop
around it one more ``select`` to see that nothing else waits. While a reply streams the
model's threads have every core, and each system call of the UI is CPU taken from them.
Here what waits is read at once and cut into the frames ``Connection.send`` writes.

That frame format is multiprocessing's own, not its public API (CPython 3.11-3.14):
a 4-byte big-endian signed length, or -1 and an 8-byte length for a message over 2 GiB,
then the pickle. It is read only here; a test sends through a real ``Connection``.
"""

from __future__ import annotations

import os
import pickle
import select
import struct
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

    def read(self) -> list[Any]:
        """Read what waits (call it when the descriptor is readable) and return the
        messages it completes, in order.

        Raises:
            EOFError: The other end is closed.
        """
        data = os.read(self._fd, READ_BYTES)
        if not data:
            raise EOFError
        self._buffer += data
        return self._messages()

    def drain(self) -> list[Any]:
        """Everything the other end sent before it closed, without waiting."""
        messages = self._messages()
        while select.select([self._fd], [], [], 0)[0]:
            data = os.read(self._fd, READ_BYTES)
            if not data:
                break
            self._buffer += data
            messages += self._messages()
        return messages

    def _messages(self) -> list[Any]:
        buffer, start, messages = self._buffer, 0, []
        while len(buffer) - start >= _LENGTH.size:
            (size,) = _LENGTH.unpack_from(buffer, start)
            head = _LENGTH.size
            if size == -1:
                if len(buffer) - start < head + _LONG_LENGTH.size:
                    break
                (size,) = _LONG_LENGTH.unpack_from(buffer, start + head)
                head += _LONG_LENGTH.size
            end = start + head + size
            if len(buffer) < end:
                break
            messages.append(pickle.loads(buffer[start + head : end]))
            start = end
        if start:
            del buffer[:start]
        return messages
