"""GGUF models already on this machine, where other tools keep them: the Hugging Face
hub's cache, LM Studio, Ollama, llama.cpp's download cache, ``~/models`` and the folders
the settings name (``model_dirs``). Each is listed once, with what its header says."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from tui_chat.core.gguf_header import GgufHeader, NotGguf, read_header
from tui_chat.core.models import bundled_model_path

SPLIT_PART = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$", re.IGNORECASE)
"""A part of a split model: ``NAME-00001-of-00003.gguf``."""
OLLAMA_MODEL_LAYER = "application/vnd.ollama.image.model"
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
NOT_CHAT_MODELS = frozenset({"clip"})
"""Architectures of GGUF files that are parts of a model, not one to chat with (vision
projectors, ``mmproj-*.gguf``)."""


def split_parts(name: str) -> list[str] | None:
    """The names of every part of the split model ``name`` is a part of, in order; None
    for a model in one file."""
    match = SPLIT_PART.search(name)
    if not match:
        return None
    stem, total = name[: match.start()], int(match[2])
    return [f"{stem}-{n:05d}-of-{total:05d}.gguf" for n in range(1, total + 1)]


def size_said(size: int) -> str:
    """A file's size as a person reads it: ``986 MB``, ``4.9 GB``."""
    return f"{size / 1e9:.1f} GB" if size >= 1e9 else f"{size / 1e6:.0f} MB"


@dataclass(frozen=True, slots=True)
class FoundModel:
    """A model file found on disk."""

    name: str
    """As its tool names it: ``owner/repo/file.gguf``, ``llama3.2:3b``, a file's name."""
    path: Path
    """The file to load (the first part of a split model)."""
    source: str
    """The tool or folder it was found in."""
    size: int
    """Bytes on disk, every part of a split model."""
    header: GgufHeader


def model_folders(
    environ: Mapping[str, str], home: Path, model_dirs: str = ""
) -> list[tuple[str, Path]]:
    """Where to look, as (source, folder), in the order models are listed; ``model_dirs``
    is the setting as written, folders separated by commas."""
    hf_home = Path(environ.get("HF_HOME") or home / ".cache" / "huggingface")
    hub = Path(environ.get("HF_HUB_CACHE") or hf_home / "hub")
    folders = [
        ("Hugging Face", hub),
        ("LM Studio", home / ".lmstudio" / "models"),
        ("LM Studio", home / ".cache" / "lm-studio" / "models"),
        ("Ollama", Path(environ.get("OLLAMA_MODELS") or home / ".ollama" / "models")),
        ("llama.cpp", Path(environ.get("LLAMA_CACHE") or home / ".cache" / "llama.cpp")),
        ("~/models", home / "models"),
    ]
    for folder in (d.strip() for d in model_dirs.split(",")):
        if folder:
            try:
                folders.append(("model_dirs", Path(folder).expanduser()))
            except RuntimeError:  # ~someone who has no home here
                folders.append(("model_dirs", Path(folder)))
    return folders


def find_models(
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
    model_dirs: str = "",
    bundled: bool = True,
) -> list[FoundModel]:
    """Every GGUF chat model in the usual places, each file once (the first place that
    shows it), split models once by their first part; then the bundled one."""
    environ = os.environ if environ is None else environ
    home = Path.home() if home is None else home
    found: list[FoundModel] = []
    seen: set[Path] = set()
    for source, folder in model_folders(environ, home, model_dirs):
        try:
            if not folder.is_dir():
                continue
            candidates = list(
                _ollama(folder) if source == "Ollama" else _gguf_files(folder, source)
            )
        except OSError:
            continue  # a folder this user may not read: not one to list
        for name, path in candidates:
            model = _model(name, path, source, seen)
            if model is not None:
                found.append(model)
    shipped = bundled_model_path() if bundled else None
    if shipped is not None and (model := _model(shipped.name, shipped, "bundled", seen)):
        found.append(model)
    return found


def _model(name: str, path: Path, source: str, seen: set[Path]) -> FoundModel | None:
    try:
        real = path.resolve()
        if real in seen or not real.is_file():
            return None
        seen.add(real)
        header = read_header(real)
        size = sum(part.stat().st_size for part in _parts(path))
    except (OSError, NotGguf):
        return None  # unreadable or not a model: not one to offer
    if header.architecture in NOT_CHAT_MODELS:
        return None
    return FoundModel(name, path, source, size, header)


def _parts(first: Path) -> list[Path]:
    """The files of a model: itself, or every part of a split one (those on disk)."""
    names = split_parts(first.name)
    if names is None:
        return [first]
    return [part for part in map(first.with_name, names) if part.exists()]


def _gguf_files(folder: Path, source: str) -> Iterator[tuple[str, Path]]:
    for path in sorted(folder.rglob("*.gguf")):
        match = SPLIT_PART.search(path.name)
        if match and int(match[1]) != 1:
            continue  # a later part of a split model: listed by its first
        relative = path.relative_to(folder)
        if source == "Hugging Face":
            # models--OWNER--NAME/snapshots/REVISION/FILE
            parts = relative.parts
            if len(parts) < 4 or not parts[0].startswith("models--") or parts[1] != "snapshots":
                continue
            name = "/".join([parts[0][len("models--") :].replace("--", "/"), *parts[3:]])
        else:
            name = relative.as_posix()
        yield name, path


def _ollama(models: Path) -> Iterator[tuple[str, Path]]:
    """Ollama's manifests (``manifests/REGISTRY/NAMESPACE/MODEL/TAG``, JSON) name the
    blob of each model's weights, a GGUF file in ``blobs/``."""
    manifests = models / "manifests"
    for manifest in sorted(manifests.glob("*/*/*/*")):
        try:
            layers = json.loads(manifest.read_text(encoding="utf-8")).get("layers", [])
            digest = next(
                layer["digest"] for layer in layers if layer.get("mediaType") == OLLAMA_MODEL_LAYER
            )
        except (OSError, ValueError, StopIteration, KeyError, TypeError, AttributeError):
            continue
        if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
            continue  # a digest names a blob in blobs/, nothing else
        registry, namespace, model, tag = manifest.relative_to(manifests).parts
        name = f"{model}:{tag}" if namespace == "library" else f"{namespace}/{model}:{tag}"
        if registry != "registry.ollama.ai":
            name = f"{registry}/{name}"
        yield name, models / "blobs" / digest.replace(":", "-")
