"""Which files of a Hugging Face repository ``tui-chat pull`` downloads: the GGUF file of
a quantization (every part of a split one), or the file named."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tui_chat.core.model_files import SPLIT_PART, split_parts

DEFAULT_QUANT = "Q4_K_M"
_QUANT = re.compile(r"(?:^|[-_.])(I?Q\d+(?:_[A-Z0-9]+)*|BF16|F16|F32)(?=[-.]|$)", re.IGNORECASE)


class PullError(Exception):
    """What was asked for is not there, said in words."""


@dataclass(frozen=True, slots=True)
class Wanted:
    """``REPO[:QUANT|/FILE]`` read."""

    repo: str
    quant: str = ""
    file: str = ""


def parse_wanted(spec: str) -> Wanted:
    """``owner/name``, ``owner/name:Q5_K_M`` or ``owner/name/path/file.gguf``.

    Raises:
        PullError: Not one of those.
    """
    repo, _, quant = spec.strip().partition(":")
    parts = [p for p in repo.split("/") if p]
    if len(parts) < 2 or any(p in (".", "..") for p in parts):
        raise PullError(
            f"{spec!r}: give a repository as OWNER/NAME (e.g. bartowski/Qwen2.5-1.5B-Instruct-GGUF)"
        )
    file = "/".join(parts[2:])
    if file and quant:
        raise PullError(f"{spec!r}: give a quantization or a file, not both")
    if file and not file.lower().endswith(".gguf"):
        raise PullError(f"{spec!r}: {file} is not a GGUF file")
    return Wanted("/".join(parts[:2]), quant, file)


def quant_of(name: str) -> str:
    """The quantization a file's name says (``Q4_K_M``), or ""."""
    stem = SPLIT_PART.sub("", name.rsplit("/", 1)[-1]).removesuffix(".gguf").removesuffix(".GGUF")
    found = _QUANT.findall(stem)
    return found[-1].upper() if found else ""


def choose_files(files: list[str], wanted: Wanted) -> list[str]:
    """The repository's files to download for ``wanted``: one file, or every part of a
    split model in order.

    Raises:
        PullError: No such file or quantization (the ones there are named).
    """
    models = sorted(f for f in files if f.lower().endswith(".gguf") and "mmproj" not in f.lower())
    if wanted.file:
        if wanted.file not in files:
            raise PullError(f"{wanted.repo} has no file {wanted.file}")
        chosen = [wanted.file]
    else:
        quant = (wanted.quant or DEFAULT_QUANT).upper()
        chosen = [f for f in models if quant_of(f) == quant]
        if not chosen:
            there = sorted({q for f in models if (q := quant_of(f))})
            if not models:
                raise PullError(f"{wanted.repo} holds no GGUF file")
            has = ", ".join(there or models)
            raise PullError(f"{wanted.repo} has no {quant} GGUF file; it has: {has}")
    models_chosen = sorted({SPLIT_PART.sub(".gguf", f) for f in chosen})
    if len(models_chosen) > 1:
        raise PullError(
            f"{wanted.repo} has several {quant_of(chosen[0])} models: "
            f"{', '.join(models_chosen)}; name one as {wanted.repo}/FILE"
        )
    parts = split_parts(chosen[0])
    if parts is None:
        return chosen
    missing = [p for p in parts if p not in files]
    if missing:
        raise PullError(f"{wanted.repo} lacks parts of {chosen[0]}: {', '.join(missing)}")
    return parts
