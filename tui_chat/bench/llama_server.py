"""llama-cpp-python's server (its "[server]" extra, in the test extras) on a model, for the
benchmark and the tests of the server backend; the app never starts one.

Run as ``python -m tui_chat.bench.llama_server`` with the server's own arguments, it is
the server with the worker's guard for CPUs that advertise AMX without running it
(``tui_chat.worker.llama_hooks.cpu_has_amx``); ``LlamaServer`` runs it that way.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LlamaServer:
    """llama-cpp-python's server on ``model``, on a free port of 127.0.0.1."""

    def __init__(self, model: Path, log: Path, threads: int = 2, n_ctx: int = 4096) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self._command = [
            sys.executable, "-m", "tui_chat.bench.llama_server", "--model", str(model),
            "--host", "127.0.0.1", "--port", str(self.port), "--n_threads", str(threads),
            "--n_ctx", str(n_ctx),
        ]  # fmt: skip
        self._log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it and wait until it answers (a minute at most)."""
        with self._log.open("a") as log:
            self.process = subprocess.Popen(self._command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{self.base}/v1/models", timeout=1):
                    return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(
                        f"the llama-cpp-python server did not start: {self._log.read_text()[-800:]}"
                    ) from None
                time.sleep(0.2)

    def kill(self) -> None:
        """End the server at once, as a crash or a pulled cable would."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        """End the server (killed if it does not end within ten seconds)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


if __name__ == "__main__":
    import runpy

    import llama_cpp.llama_cpp as llama_lib

    from tui_chat.worker.llama_hooks import safe_for_this_cpu

    default_params = llama_lib.llama_model_default_params
    llama_lib.llama_model_default_params = lambda: safe_for_this_cpu(default_params())
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
