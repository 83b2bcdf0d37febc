"""The resume cache's files: which entry a prompt starts from, what is dropped, the
budget (the state itself is written by a stand-in here; test_real_model restores one)."""

from __future__ import annotations

import os
from pathlib import Path

from tui_chat.worker.resume_cache import MIN_TOKENS, ResumeCache, model_key


def _writer(size: int, written: list[Path]):  # type: ignore[no-untyped-def]
    def write(path: Path) -> bool:
        path.write_bytes(b"s" * size)
        written.append(path)
        return True

    return write


def test_the_longest_shared_start_wins_and_a_longer_save_replaces_its_prefixes(
    tmp_path: Path,
) -> None:
    cache = ResumeCache(tmp_path, 10_000_000, "model-a")
    written: list[Path] = []
    first = list(range(100))
    cache.save(first, _writer(10, written))
    other = [7] * 80
    cache.save(other, _writer(10, written))
    prompt = [*first, 500, 501]
    entry = cache.best(prompt)
    assert entry is not None
    assert entry.shared == 100
    assert cache.best([*first[: MIN_TOKENS - 1], 999]) is None, "too little shared to bother"
    # The conversation went on: its new state serves every prompt the old one did.
    longer = [*first, 500, 501, 502]
    cache.save(longer, _writer(10, written))
    states = sorted(p.name for p in (tmp_path / "model-a").glob("*.state"))
    assert len(states) == 2, "the prefix's entry was dropped, the other kept"
    entry = cache.best([*longer, 9])
    assert entry is not None
    assert entry.shared == len(longer)
    # Another model (or context size) never sees these.
    assert ResumeCache(tmp_path, 10_000_000, "model-b").best(prompt) is None
    # The same tokens again are not written again.
    cache.save(longer, _writer(10, written))
    assert len(written) == 3


def test_the_least_recently_used_go_first_when_over_the_budget(tmp_path: Path) -> None:
    per_entry = 1_000
    tokens_bytes = 4 * MIN_TOKENS
    cache = ResumeCache(tmp_path, 2 * (per_entry + tokens_bytes), "m")
    written: list[Path] = []
    a, b, c = ([n] * MIN_TOKENS for n in (1, 2, 3))
    cache.save(a, _writer(per_entry, written))
    cache.save(b, _writer(per_entry, written))
    for n, path in enumerate(written):
        os.utime(path.with_suffix(".state"), ns=(n, n))  # order them without waiting
    entry = cache.best(a)
    assert entry is not None
    cache.used(entry)  # a was restored: b is now the least recently used
    cache.save(c, _writer(per_entry, written))
    assert cache.best(b) is None
    assert cache.best(a) is not None
    assert cache.best(c) is not None
    # A budget of nothing keeps nothing.
    none = ResumeCache(tmp_path / "none", 0, "m")
    none.save(a, _writer(per_entry, written))
    assert none.best(a) is None


def test_a_failed_write_leaves_nothing_behind(tmp_path: Path) -> None:
    cache = ResumeCache(tmp_path, 10_000_000, "m")

    def fails(path: Path) -> bool:
        path.write_bytes(b"half")
        return False

    cache.save(list(range(MIN_TOKENS)), fails)
    assert list((tmp_path / "m").iterdir()) == []
    # One left by a tui-chat killed while writing it goes with the next save, once old.
    left = tmp_path / "m" / "x.partial"
    left.write_bytes(b"half")
    os.utime(left, (0, 0))
    cache.save(list(range(MIN_TOKENS)), _writer(10, []))
    assert not left.exists()


def test_the_model_key_changes_with_the_file_and_the_context(tmp_path: Path) -> None:
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF one")
    key = model_key(model, 4096)
    assert model_key(model, 2048) != key
    model.write_bytes(b"GGUF two, longer")
    assert model_key(model, 4096) != key
