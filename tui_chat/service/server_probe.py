"""Quiet checks of whether a server that could not be reached answers again."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Callable

from tui_chat.service.restart_policy import RestartPolicy


class ServerProbe:
    """Asks a server for its models now and then, until it answers or is cancelled."""

    def __init__(self, loop: asyncio.AbstractEventLoop, on_back: Callable[[], None]) -> None:
        """
        Args:
            loop: The event loop that ``on_back`` runs on.
            on_back: Called once the server answers a check.
        """
        self._loop = loop
        self._on_back = on_back
        self._timer: asyncio.TimerHandle | None = None
        self._round = 0
        """Counts the watches begun: an answer that comes for an earlier one is not heard."""

    def watch(self, server: str, api_key_env: str, first_after: float) -> None:
        """Check ``server`` after ``first_after`` seconds, then ever less often."""
        self.cancel()
        self._round += 1
        self._later(server, api_key_env, first_after)

    def cancel(self) -> None:
        """No more checks; an answer on its way is not heard."""
        self._round += 1
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _later(self, server: str, api_key_env: str, seconds: float) -> None:
        self._timer = self._loop.call_later(
            seconds, self._check, server, api_key_env, seconds, self._round
        )

    def _check(self, server: str, api_key_env: str, waited: float, round_: int) -> None:
        """Ask on a thread of its own (a daemon: a check that waits on the network never
        holds up quitting)."""
        self._timer = None
        loop = self._loop

        def check() -> None:
            answers = server_answers(server, api_key_env)
            with contextlib.suppress(RuntimeError):  # the loop is closed: tui-chat ended
                loop.call_soon_threadsafe(self._heard, server, api_key_env, waited, round_, answers)

        threading.Thread(target=check, name="server check", daemon=True).start()

    def _heard(
        self, server: str, api_key_env: str, waited: float, round_: int, answers: bool
    ) -> None:
        if round_ != self._round:
            return  # cancelled, or tried again meanwhile
        if answers:
            self._round += 1
            self._on_back()
        else:
            self._later(server, api_key_env, RestartPolicy.next_probe(waited))


def server_answers(server: str, api_key_env: str) -> bool:
    """True if the server lists its models (run on a thread: it waits on the network)."""
    from tui_chat.core.openai_api import client, list_models

    try:
        with client(server, os.environ.get(api_key_env, "")) as http:
            list_models(http, server)
    except Exception:  # ServerError, or what httpx refuses (a key it cannot send): not back
        return False
    return True
