"""``tui-chat pull``: which files of a repository it takes, and the download itself from a
stand-in for the hub on localhost ($HF_ENDPOINT), into a cache of the test's own."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import wait_until_sync
from tests.hub_stand_in import Hub, serving
from tests.test_model_files import write_gguf
from tui_chat.core.hub_files import PullError, Wanted, choose_files, parse_wanted

TUI_CHAT = str(Path(sys.executable).with_name("tui-chat"))

FILES = [
    "README.md",
    "Model-Q4_K_M.gguf",
    "Model-Q8_0.gguf",
    "mmproj-Model-F16.gguf",
    "Big-Q4_K_M-00002-of-00002.gguf",
    "Big-Q4_K_M-00001-of-00002.gguf",
    "Two-Q5_K_M.gguf",
    "sub/Two-Q5_K_M.gguf",
]


def test_what_to_pull_is_read_from_repo_quant_or_file() -> None:
    assert parse_wanted("owner/Model-GGUF") == Wanted("owner/Model-GGUF")
    assert parse_wanted("owner/Model-GGUF:Q8_0") == Wanted("owner/Model-GGUF", quant="Q8_0")
    assert parse_wanted("owner/M/sub/f.gguf") == Wanted("owner/M", file="sub/f.gguf")
    for wrong, said in (("model", "OWNER/NAME"), ("o/m/readme.md", "not a GGUF file"),
                        ("o/m/f.gguf:Q4_0", "not both"), ("o/../x", "OWNER/NAME")):  # fmt: skip
        with pytest.raises(PullError, match=said):
            parse_wanted(wrong)


def test_the_quantization_s_file_is_chosen_and_every_part_of_a_split_one() -> None:
    assert choose_files(FILES, Wanted("o/m", quant="q8_0")) == ["Model-Q8_0.gguf"]
    with pytest.raises(PullError, match="several Q4_K_M models"):
        choose_files(FILES, Wanted("o/m"))  # Model-Q4_K_M and the split Big-Q4_K_M
    only_split = [f for f in FILES if not f.startswith("Model-Q4")]
    assert choose_files(only_split, Wanted("o/m")) == [
        "Big-Q4_K_M-00001-of-00002.gguf",
        "Big-Q4_K_M-00002-of-00002.gguf",
    ]
    with pytest.raises(PullError, match="has no Q2_K GGUF file; it has: F16, Q4_K_M, Q5_K_M, Q8_0"):
        choose_files(
            [f for f in FILES if "mmproj" not in f] + ["x-F16.gguf"], Wanted("o/m", quant="Q2_K")
        )
    assert choose_files(FILES, Wanted("o/m", file="sub/Two-Q5_K_M.gguf")) == ["sub/Two-Q5_K_M.gguf"]
    with pytest.raises(PullError, match="lacks parts"):
        choose_files(["A-Q4_K_M-00001-of-00003.gguf"], Wanted("o/m"))
    with pytest.raises(PullError, match="holds no GGUF file"):
        choose_files(["README.md"], Wanted("o/m"))


def _env(hub: Hub, cache: Path) -> dict[str, str]:
    env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_HUB_CACHE": str(cache)}
    env.update(HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_DISABLE_XET="1", HF_HUB_OFFLINE="0")
    env.pop("HF_TOKEN", None)
    return env


def _pull(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TUI_CHAT, "pull", *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def test_a_pull_downloads_into_the_hub_cache_and_says_how_to_use_it(tmp_path: Path) -> None:
    source = write_gguf(tmp_path / "src/Tiny-Q4_K_M.gguf")
    parts = [write_gguf(tmp_path / f"src/Big-Q8_0-0000{n}-of-00002.gguf", split=2) for n in (1, 2)]
    repos = {
        "owner/Tiny-GGUF": {"Tiny-Q4_K_M.gguf": source, "README.md": source},
        "owner/Big-GGUF": {p.name: p for p in parts},
    }
    with serving(Hub(repos)) as hub:
        env = _env(hub, tmp_path / "cache")
        done = _pull(env, "owner/Tiny-GGUF")
        assert done.returncode == 0, done.stderr
        line = done.stdout.strip()
        assert line.startswith("tui-chat --model ")
        pulled = Path(line.removeprefix("tui-chat --model "))
        assert pulled.read_bytes() == source.read_bytes()
        assert pulled.is_relative_to(tmp_path / "cache")
        split = _pull(env, "owner/Big-GGUF:q8_0")
        assert split.returncode == 0, split.stderr
        first = Path(split.stdout.strip().removeprefix("tui-chat --model "))
        assert first.name == "Big-Q8_0-00001-of-00002.gguf"
        assert first.with_name("Big-Q8_0-00002-of-00002.gguf").read_bytes() == parts[1].read_bytes()
        # tui-chat models finds them there, the split one once.
        names = [m["name"] for m in _models(env, tmp_path / "home")]
        assert "owner/Tiny-GGUF/Tiny-Q4_K_M.gguf" in names
        assert [n for n in names if "Big" in n] == ["owner/Big-GGUF/Big-Q8_0-00001-of-00002.gguf"]
        hostile = write_gguf(tmp_path / "src/x.gguf")
        hub.repos["owner/Odd-GGUF"] = {"\x1b]0;owned\x07Odd-Q4_K_M.gguf": hostile}
        odd = _pull(env, "owner/Odd-GGUF")
        assert "\x1b" not in odd.stdout + odd.stderr, "a file's name is data, not escapes"
        for args, said in (
            (("own!er/name",), "tui-chat pull: "),
            (("owner/Nope",), "there is no repository owner/Nope on http://127.0.0.1"),
            (("owner/Tiny-GGUF:Q2_K",), "has no Q2_K GGUF file; it has: Q4_K_M"),
            (("nothing",), "give a repository as OWNER/NAME"),
        ):
            failed = _pull(env, *args)
            assert failed.returncode in (1, 2)
            assert said in failed.stderr
            assert "Traceback" not in failed.stderr


def _models(env: dict[str, str], home: Path) -> list[dict[str, object]]:
    done = subprocess.run(
        [TUI_CHAT, "models", "--json"],
        capture_output=True,
        text=True,
        env={**env, "HOME": str(home)},
        timeout=60,
        check=True,
    )
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_ctrl_c_keeps_no_half_written_file_and_the_next_pull_gets_the_model(
    tmp_path: Path, model_path: Path
) -> None:
    """The bundled model, cut after 20 MB: nothing is left in the cache that a later run
    (or tui-chat models) would take for the model; the next pull gets it whole."""
    hub = Hub({"owner/Smol-GGUF": {model_path.name: model_path}}, stall_after=20_000_000)
    cache = tmp_path / "cache"
    with serving(hub):
        env = _env(hub, cache)
        pull = subprocess.Popen(
            [TUI_CHAT, "pull", "owner/Smol-GGUF:Q4_1"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_until_sync(
                lambda: any(p.stat().st_size > 0 for p in cache.rglob("*.incomplete")),
                timeout=60,
                message="part of the file written",
            )
            pull.send_signal(signal.SIGINT)
            out, err = pull.communicate(timeout=60)
        finally:
            if pull.poll() is None:
                pull.kill()
                pull.communicate()
        assert pull.returncode == 130, err
        assert out == ""
        assert "stopped" in err
        assert "Traceback" not in err
        assert not list(cache.rglob("*.incomplete")), "no half-written file"
        assert not list(cache.rglob("snapshots/*/*.gguf")), "nothing there as the model"
        assert all(m["source"] == "bundled" for m in _models(env, tmp_path / "home"))
        hub.release.set()
        done = _pull(env, "owner/Smol-GGUF:Q4_1")
        assert done.returncode == 0, done.stderr
        pulled = Path(done.stdout.strip().removeprefix("tui-chat --model "))
        digest = hashlib.sha256(pulled.read_bytes()).hexdigest()
        assert digest == hashlib.sha256(model_path.read_bytes()).hexdigest()
