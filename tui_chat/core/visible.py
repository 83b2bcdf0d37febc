"""Text from people and models, made safe to show on a terminal.

Whatever a person pastes and whatever a model writes is shown as the characters it is
made of and can never act on the terminal: escape sequences (CSI, OSC, DCS, …) and
other control characters are replaced by visible stand-ins, bidirectional overrides
are dropped, and lone surrogates (from undecodable bytes) become U+FFFD. Line breaks
and tabs stay.
"""

from __future__ import annotations

import re

REPLACEMENT = "\ufffd"

_TABLE: dict[int, str] = {}
for _code in range(0x20):
    if chr(_code) not in "\n\t":
        # Unicode's control pictures: ESC shows as ␛, NUL as ␀, BEL as ␇.
        _TABLE[_code] = chr(0x2400 + _code)
_TABLE[0x0D] = "\n"  # a carriage return on its own ends a line (CRLF is joined first)
_TABLE[0x7F] = "\u2421"  # ␡
for _code in range(0x80, 0xA0):
    # C1 controls (0x9B is a one-byte CSI on some terminals).
    _TABLE[_code] = REPLACEMENT
for _code in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)):
    # Embeddings, overrides and isolates: they reorder how the text around them reads.
    _TABLE[_code] = ""
_TABLE[0x2028] = "\n"  # line separator
_TABLE[0x2029] = "\n"  # paragraph separator

_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029\ud800-\udfff]"
)
_SURROGATES = re.compile("[\ud800-\udfff]")


def visible(text: str) -> str:
    """``text`` with everything that could act on a terminal made visible or dropped."""
    if not _UNSAFE.search(text):
        return text  # the common case costs one scan
    text = text.replace("\r\n", "\n").translate(_TABLE)
    return _SURROGATES.sub(REPLACEMENT, text)


def is_visible(text: str) -> bool:
    """True if ``visible(text)`` would change nothing."""
    return _UNSAFE.search(text) is None
