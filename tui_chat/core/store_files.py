"""Opening the store whatever state its file is in: a damaged file is moved aside (never
deleted) and a new one started; a store that cannot be written is kept in memory."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from tui_chat.core.store import Store
from tui_chat.core.store_schema import StoreError


def move_aside(path: Path) -> Path:
    """Rename a damaged store (and its WAL files) out of the way; returns the new name.

    Nothing is deleted or overwritten: the name carries a timestamp.
    """
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
    path.rename(target)
    for suffix in ("-wal", "-shm"):
        extra = Path(f"{path}{suffix}")
        if extra.exists():
            extra.rename(Path(f"{target}{suffix}"))
    return target


@dataclass(frozen=True, slots=True)
class OpenedStore:
    """The store the app got, and what the person must be told about it."""

    store: Store
    problem: str = ""
    """Empty when all is well; else a sentence for the banner."""


def open_store(path: Path) -> OpenedStore:
    """Open the store, never failing: a damaged file is moved aside and a new one
    started; a store that cannot be written at all is replaced by one in memory."""
    try:
        return OpenedStore(Store.open(path))
    except StoreError as first:
        damaged = path.is_file() and _is_damaged(str(first))
        if damaged:
            try:
                moved = move_aside(path)
                return OpenedStore(
                    Store.open(path),
                    f"The conversation store {path} was damaged ({first}). It was moved to "
                    f"{moved} and a new, empty store was started.",
                )
            except (OSError, StoreError) as second:
                first = StoreError(f"{first}; moving it aside failed: {second}")
        return OpenedStore(
            Store.in_memory(),
            f"Conversations are not being saved: the store {path} cannot be used ({first}). "
            "This session's chat is kept in memory only.",
        )


def _is_damaged(reason: str) -> bool:
    reason = reason.lower()
    return any(
        marker in reason
        for marker in ("not a database", "malformed", "corrupt", "file is encrypted")
    )
