"""What a GGUF file says of itself in its header: architecture, context length,
quantization, chat template, split parts. Read without loading the model.

The GGUF project's own reader (``gguf.GGUFReader``) maps every field and every element of
every array into numpy objects: seconds for a model's tokenizer alone, where this reads the
keys it needs and steps over the rest (docs/performance.md). The format (ggml's
docs/gguf.md): "GGUF", version, tensor and key counts, then each key as a length-prefixed
string, a type and a value; arrays carry their element type and count.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
            10: "<Q", 11: "<q", 12: "<d"}  # fmt: skip
_STRING, _ARRAY = 8, 9

FILE_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
    11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S",
    17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS",
    23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S",
    29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0", 37: "TQ2_0",
    38: "MXFP4_MOE",
}  # fmt: skip
"""llama.cpp's ``llama_ftype`` (``general.file_type``) by the names people know them by
(a test checks them against the gguf package's ``LlamaFileType``)."""


class NotGguf(Exception):
    """The file is not a GGUF file, or its header is cut short."""


@dataclass(frozen=True, slots=True)
class GgufHeader:
    """What the header says."""

    architecture: str
    name: str
    """``general.name`` ("" when absent)."""
    quantization: str
    """``Q4_K_M``, … ("" when the file does not say)."""
    context_length: int
    """The context it was trained with (0 when the file does not say)."""
    chat_template: bool
    """It carries a chat template."""
    split_count: int
    """Parts of a split model (1: one file)."""
    block_count: int = 0
    """Its repeating layers (0: the file does not say)."""


MAX_HEADER_BYTES = 256 * 1024 * 1024
"""Most of a file read for its header (the largest vocabularies take a few MB)."""


def read_header(path: Path) -> GgufHeader:
    """The header of the GGUF file at ``path``.

    Read into memory, not mapped: a file cut short while it is read (a download that
    overwrites it) must be an error here, not a SIGBUS that ends the process.

    Raises:
        NotGguf: Not a GGUF file, or its header is cut short or damaged.
        OSError: It cannot be read.
    """
    with open(path, "rb") as f:
        data = f.read(64 * 1024)
        if data[:4] != b"GGUF":
            raise NotGguf(f"{path} is not a GGUF file" if data else f"{path} is empty")
        while True:
            try:
                return _parse(data)
            except _CutShort:
                if len(data) >= MAX_HEADER_BYTES:
                    raise NotGguf(f"{path}: the GGUF header is over 256 MB") from None
                more = f.read(max(len(data), 1024 * 1024))
                if not more:
                    raise NotGguf(f"{path}: the GGUF header is cut short") from None
                data += more
            except (ValueError, OverflowError, KeyError, UnicodeDecodeError) as e:
                raise NotGguf(f"{path}: the GGUF header is damaged") from e


class _CutShort(Exception):
    """The header goes on past what was read."""


def _parse(data: bytes) -> GgufHeader:
    try:
        (version,) = struct.unpack_from("<I", data, 4)
        if version == 1:
            raise NotGguf("GGUF version 1, which llama.cpp no longer reads")
        _tensors, count = struct.unpack_from("<QQ", data, 8)
        at = 24
        values: dict[str, object] = {}
        for _ in range(count):
            key, at = _string(data, at)
            (kind,) = struct.unpack_from("<I", data, at)
            at += 4
            if kind == _ARRAY:
                at = _skip_array(data, at)
                values[key] = None
            elif kind == _STRING:
                values[key], at = _string(data, at)
            else:
                form = _SCALARS[kind]
                (values[key],) = struct.unpack_from(form, data, at)
                at += struct.calcsize(form)
    except struct.error:
        raise _CutShort from None
    arch = str(values.get("general.architecture", ""))
    file_type = values.get("general.file_type")
    return GgufHeader(
        architecture=arch,
        name=str(values.get("general.name", "")),
        quantization=FILE_TYPES.get(file_type, "") if isinstance(file_type, int) else "",
        context_length=_count(values.get(f"{arch}.context_length")),
        chat_template=bool(values.get("tokenizer.chat_template")),
        split_count=_count(values.get("split.count")) or 1,
        block_count=_count(values.get(f"{arch}.block_count")),
    )


def _count(value: object) -> int:
    """A count the header gives as a whole number (anything else: 0, not known)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _string(data: bytes, at: int) -> tuple[str, int]:
    (length,) = struct.unpack_from("<Q", data, at)
    end = at + 8 + length
    if end > len(data):
        raise _CutShort
    return data[at + 8 : end].decode("utf-8"), end


def _skip_array(data: bytes, at: int) -> int:
    """Past the array at ``at`` (its element type, count and elements), nested arrays
    included, without recursion (a file may nest them deep)."""
    pending = [1]  # arrays still to step over, at each depth
    while pending:
        if pending[-1] == 0:
            pending.pop()
            continue
        pending[-1] -= 1
        element, length = struct.unpack_from("<IQ", data, at)
        at += 12
        if element == _ARRAY:
            if len(pending) > 64:
                raise ValueError("arrays nested too deep")
            pending.append(length)
        elif element == _STRING:
            unpack = struct.Struct("<Q").unpack_from
            for _ in range(length):
                at += 8 + unpack(data, at)[0]
        else:
            at += struct.calcsize(_SCALARS[element]) * length
        if at > len(data):
            raise _CutShort
    return at
