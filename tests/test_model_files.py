"""Models already on the machine (``core.model_files``, ``tui-chat models``): each tool's
folder layout built in a temporary home, with GGUF files written by the gguf package."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import gguf
import numpy as np
import pytest

from tui_chat.core import gguf_header
from tui_chat.core.gguf_header import NotGguf, read_header
from tui_chat.core.model_files import find_models
from tui_chat.core.models import bundled_model_path

TUI_CHAT = Path(sys.executable).with_name("tui-chat")
OLLAMA_DIGEST = "sha256:" + "7" * 64
OLLAMA_BLOB = "blobs/sha256-" + "7" * 64


def write_gguf(
    path: Path,
    *,
    name: str = "Tiny",
    file_type: int = 15,
    context: int = 2048,
    template: str | None = "{{ messages }}",
    arch: str = "llama",
    split: int = 1,
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(path), arch=arch)
    writer.add_name(name)
    writer.add_context_length(context)
    writer.add_file_type(file_type)
    writer.add_token_list(["<s>", "hello", "wörld", *(f"t{n}" for n in range(500))])
    writer.add_array("some.floats", [0.5, 1.5])
    if template is not None:
        writer.add_chat_template(template)
    if split > 1:
        writer.add_uint16("split.count", split)
    writer.add_tensor("weights", np.zeros(8, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_the_header_says_what_the_model_is(tmp_path: Path) -> None:
    header = read_header(write_gguf(tmp_path / "m.gguf", context=32768, file_type=15))
    assert (header.architecture, header.name, header.quantization) == ("llama", "Tiny", "Q4_K_M")
    assert (header.context_length, header.chat_template, header.split_count) == (32768, True, 1)
    bare = read_header(write_gguf(tmp_path / "bare.gguf", template=None, file_type=7))
    assert (bare.chat_template, bare.quantization) == (False, "Q8_0")


def test_what_is_not_a_gguf_file_is_said_to_be_not_one(tmp_path: Path) -> None:
    whole = write_gguf(tmp_path / "m.gguf").read_bytes()
    for data, said in ((b"", "empty"), (b"PK\x03\x04" + bytes(40), "not a GGUF"),
                       (whole[:300], "cut short")):  # fmt: skip
        (tmp_path / "x.gguf").write_bytes(data)
        with pytest.raises(NotGguf, match=said):
            read_header(tmp_path / "x.gguf")


def test_the_quantization_names_are_the_gguf_package_s() -> None:
    names = {
        t.value: t.name.removeprefix("MOSTLY_").removeprefix("ALL_") for t in gguf.LlamaFileType
    }
    assert all(names[value] == name for value, name in gguf_header.FILE_TYPES.items())


def _five_tools(home: Path) -> dict[str, Path]:
    """One model in each tool's layout under ``home``; the paths written, by tool."""
    hub = home / ".cache/huggingface/hub/models--bartowski--Tiny-GGUF"
    blob = write_gguf(hub / "blobs/0a1b2c", name="From HF")
    snapshot = hub / "snapshots/5f1e/Tiny-Q4_K_M.gguf"
    snapshot.parent.mkdir(parents=True)
    snapshot.symlink_to(os.path.relpath(blob, snapshot.parent))
    (hub / "snapshots/9a9a").mkdir()
    (hub / "snapshots/9a9a/Tiny-Q4_K_M.gguf").symlink_to(blob)  # the same blob, twice
    lm = write_gguf(home / ".lmstudio/models/lmstudio-community/Tiny-GGUF/Tiny-Q8_0.gguf",
                    file_type=7)  # fmt: skip
    write_gguf(home / ".lmstudio/models/lmstudio-community/Tiny-GGUF/mmproj-Tiny.gguf",
               arch="clip")  # fmt: skip
    ollama = home / ".ollama/models"
    weights = write_gguf(
        ollama / OLLAMA_BLOB,
        template=None,
    )
    manifest = ollama / "manifests/registry.ollama.ai/library/tiny/latest"
    manifest.parent.mkdir(parents=True)
    layers = [
        {
            "mediaType": "application/vnd.ollama.image.template",
            "digest": "sha256:" + "0" * 64,
        },
        {
            "mediaType": "application/vnd.ollama.image.model",
            "digest": OLLAMA_DIGEST,
        },
    ]
    manifest.write_text(json.dumps({"layers": layers}))
    cache = write_gguf(home / ".cache/llama.cpp/bartowski_Tiny-GGUF_Tiny-Q6_K.gguf", file_type=18)
    first = write_gguf(home / "models/Big-Q4_K_M-00001-of-00002.gguf", split=2)
    write_gguf(home / "models/Big-Q4_K_M-00002-of-00002.gguf", split=2)
    return {"hf": snapshot, "lm": lm, "ollama": weights, "cache": cache, "split": first}


def test_each_tool_s_models_are_listed_once_with_their_header(tmp_path: Path) -> None:
    home = tmp_path / "home"
    written = _five_tools(home)
    found = find_models({}, home, bundled=False)
    by_source = {(m.source, m.name): m for m in found}
    assert sorted(by_source) == [
        ("Hugging Face", "bartowski/Tiny-GGUF/Tiny-Q4_K_M.gguf"),
        ("LM Studio", "lmstudio-community/Tiny-GGUF/Tiny-Q8_0.gguf"),
        ("Ollama", "tiny:latest"),
        ("llama.cpp", "bartowski_Tiny-GGUF_Tiny-Q6_K.gguf"),
        ("~/models", "Big-Q4_K_M-00001-of-00002.gguf"),
    ], "the same blob in two snapshots, the vision projector and a split's second part: not"
    ollama = by_source["Ollama", "tiny:latest"]
    assert ollama.path == written["ollama"]
    assert not ollama.header.chat_template
    assert (
        by_source["LM Studio", "lmstudio-community/Tiny-GGUF/Tiny-Q8_0.gguf"].header.quantization
        == "Q8_0"
    )
    split = by_source["~/models", "Big-Q4_K_M-00001-of-00002.gguf"]
    parts = sorted((home / "models").iterdir())
    assert split.size == sum(p.stat().st_size for p in parts)
    assert split.header.split_count == 2


def test_the_environment_and_the_settings_move_the_folders(tmp_path: Path) -> None:
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    write_gguf(elsewhere / "hub/models--o--r/snapshots/1/a.gguf")
    write_gguf(elsewhere / ("ollama/blobs/sha256-" + "1" * 64))
    manifest = elsewhere / "ollama/manifests/example.org/team/m/v1"
    manifest.parent.mkdir(parents=True)
    layer = {"mediaType": "application/vnd.ollama.image.model", "digest": "sha256:" + "1" * 64}
    manifest.write_text(json.dumps({"layers": [layer]}))
    write_gguf(elsewhere / "llama/b.gguf")
    write_gguf(elsewhere / "mine/c.gguf")
    environ = {
        "HF_HUB_CACHE": str(elsewhere / "hub"),
        "OLLAMA_MODELS": str(elsewhere / "ollama"),
        "LLAMA_CACHE": str(elsewhere / "llama"),
    }
    names = [m.name for m in find_models(environ, home, str(elsewhere / "mine"), bundled=False)]
    assert names == ["o/r/a.gguf", "example.org/team/m:v1", "b.gguf", "c.gguf"]
    hf_home = {"HF_HOME": str(elsewhere / "hfhome")}
    write_gguf(elsewhere / "hfhome/hub/models--p--q/snapshots/2/d.gguf")
    assert [m.name for m in find_models(hf_home, home, bundled=False)] == ["p/q/d.gguf"]


def test_tui_chat_models_prints_the_list(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _five_tools(home)
    env = {**os.environ, "HOME": str(home), "TUI_CHAT_HOME": str(tmp_path / "tui")}
    for key in ("HF_HOME", "HF_HUB_CACHE", "OLLAMA_MODELS", "LLAMA_CACHE"):
        env.pop(key, None)
    done = subprocess.run([str(TUI_CHAT), "models"], capture_output=True, text=True, env=env,
                          timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["MODEL", "QUANT", "SIZE", "CONTEXT", "TEMPLATE", "FROM"]
    assert any(line.startswith("tiny:latest ") and " no " in line for line in lines)
    assert str(home / ".cache/llama.cpp/bartowski_Tiny-GGUF_Tiny-Q6_K.gguf") in done.stdout
    as_json = subprocess.run([str(TUI_CHAT), "models", "--json"], capture_output=True,
                             text=True, env=env, timeout=60, check=False)  # fmt: skip
    models = [json.loads(line) for line in as_json.stdout.splitlines()]
    shipped = bundled_model_path()
    assert [m["path"] for m in models if m["source"] == "bundled"] == [str(shipped)] * bool(shipped)
    models = [m for m in models if m["source"] != "bundled"]
    assert len(models) == 5
    assert {m["quantization"] for m in models} == {"Q4_K_M", "Q8_0", "Q6_K"}


def _hostile(path: Path, body: bytes, count: int) -> Path:
    """A GGUF file of ``count`` keys written as ``body``."""
    import struct

    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, count) + body)
    return path


def _key(name: str) -> bytes:
    import struct

    return struct.pack("<Q", len(name)) + name.encode()


def test_hostile_headers_are_refused_in_words_and_skipped(tmp_path: Path) -> None:
    import struct

    folder = tmp_path / "home/models"
    folder.mkdir(parents=True)
    text = lambda s: struct.pack("<IQ", 8, len(s)) + s.encode()  # noqa: E731
    nested = b"".join(struct.pack("<IIQ", 9, 9, 1) for _ in range(1))  # array of arrays…
    deep = (
        _key("x")
        + struct.pack("<I", 9)
        + struct.pack("<IQ", 9, 1) * 2000
        + struct.pack("<IQ", 4, 0)
    )
    cases = {
        "string-context.gguf": (_key("general.architecture") + text("llama")
                                + _key("llama.context_length") + text("abc"), 2),
        "deep.gguf": (deep, 1),
        "huge-array.gguf": (_key("x") + struct.pack("<IIQ", 9, 4, 2**60), 1),
        "huge-string.gguf": (_key("x") + struct.pack("<IQ", 8, 2**62), 1),
        "unknown-type.gguf": (_key("x") + struct.pack("<I", 99), 1),
        "nested.gguf": (_key("x") + nested, 1),
    }  # fmt: skip
    for name, (body, count) in cases.items():
        path = _hostile(folder / name, body, count)
        if name == "string-context.gguf":
            assert read_header(path).context_length == 0, "not a number: not known"
            continue
        with pytest.raises(NotGguf):
            read_header(path)
    found = find_models({}, tmp_path / "home", bundled=False)
    assert [m.name for m in found] == ["string-context.gguf"]


def test_an_ollama_manifest_names_a_blob_and_nothing_else(tmp_path: Path) -> None:
    home = tmp_path / "home"
    secret = write_gguf(tmp_path / "elsewhere/secret.gguf")
    manifest = home / ".ollama/models/manifests/registry.ollama.ai/library/evil/latest"
    manifest.parent.mkdir(parents=True)
    for digest in (f"sha256:../../../../{secret.relative_to(tmp_path)}", str(secret)):
        layer = {"mediaType": "application/vnd.ollama.image.model", "digest": digest}
        manifest.write_text(json.dumps({"layers": [layer]}))
        assert find_models({}, home, bundled=False) == []


def test_folders_that_cannot_be_named_are_passed_over(tmp_path: Path) -> None:
    write_gguf(tmp_path / "mine/a.gguf")
    dirs = f"~no-such-user-here/models, {tmp_path / 'mine'}"
    assert [m.name for m in find_models({}, tmp_path / "home", dirs, bundled=False)] == ["a.gguf"]
