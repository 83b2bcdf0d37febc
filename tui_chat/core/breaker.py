"""The crash circuit breaker: restart a crashed worker, but not forever."""

from __future__ import annotations


class CrashBreaker:
    """Counts consecutive worker crashes.

    A crash below the limit means "restart"; the crash that reaches the limit opens the
    breaker and no restart follows until ``reset``. A reply that the worker finishes
    proves it healthy and sets the count back to zero.
    """

    def __init__(self, limit: int = 3) -> None:
        if limit < 1:
            raise ValueError("the crash limit must be at least 1")
        self.limit = limit
        self._count = 0

    @property
    def count(self) -> int:
        """Consecutive crashes so far."""
        return self._count

    @property
    def is_open(self) -> bool:
        """True once the limit is reached: no more automatic restarts."""
        return self._count >= self.limit

    def record_crash(self) -> bool:
        """Count a crash; True when the worker should be restarted."""
        self._count += 1
        return not self.is_open

    def record_success(self) -> None:
        """The worker finished a reply: forget earlier crashes."""
        self._count = 0

    def reset(self, attempts: int | None = None) -> None:
        """Close the breaker (the person asked to try again); with ``attempts``, it opens
        again after that many more crashes in a row."""
        self._count = 0 if attempts is None else max(0, self.limit - attempts)
