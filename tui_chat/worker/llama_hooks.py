"""The callbacks tui-chat hands to llama.cpp's native code: loading progress, the log
lines that say what went to the GPU, and the stop flag llama.cpp polls while it computes;
and the one model parameter ``Llama`` has no argument for (weight repacking, off where
AMX faults).

Only the engine imports this module, in the worker process: it imports llama_cpp.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import threading
from collections.abc import Callable, Iterator

import llama_cpp.llama_cpp as llama_lib

from tui_chat.worker.offload import offloaded_layers


@contextlib.contextmanager
def load_progress(on_progress: Callable[[float], None]) -> Iterator[None]:
    """Report model-loading progress (and leave AMX alone where the CPU has it).

    ``Llama`` builds its model parameters from ``llama_model_default_params()`` and has no
    argument for llama.cpp's progress callback or its extra buffer types, so for the
    length of the load that function hands out parameters with both set.
    """
    last = -1.0

    def report(progress: float, _data: object) -> bool:
        nonlocal last
        if progress - last >= 0.05 or progress >= 1.0:
            last = progress
            on_progress(progress)
        return True  # keep loading

    callback = llama_lib.llama_progress_callback(report)
    original = llama_lib.llama_model_default_params

    def params_with_progress() -> llama_lib.llama_model_params:
        params = original()
        params.progress_callback = callback
        return safe_for_this_cpu(params)

    llama_lib.llama_model_default_params = params_with_progress
    try:
        yield
    finally:
        llama_lib.llama_model_default_params = original


@contextlib.contextmanager
def offload_report() -> Iterator[list[tuple[int, int]]]:
    """Gather what llama.cpp says it offloaded to the GPU while a model loads (its log
    line "offloaded 31/31 layers to GPU", written only by a build that can offload).

    llama.cpp says it only in its log, through the one callback llama-cpp-python sets at
    import (in its private ``_logger``, which prints each line to the worker's log): for
    the load, a callback that reads the lines and hands each on to that one.
    """
    from llama_cpp import _logger

    said: list[tuple[int, int]] = []

    def log(level: int, text: bytes, data: ctypes.c_void_p) -> None:
        if text and b"layers to GPU" in text and (layers := offloaded_layers(text)):
            said.append(layers)
        _logger.llama_log_callback(level, text, data)

    callback = llama_lib.llama_log_callback(log)
    llama_lib.llama_log_set(callback, ctypes.c_void_p(0))
    try:
        yield said
    finally:
        llama_lib.llama_log_set(_logger.llama_log_callback, ctypes.c_void_p(0))


AMX_FLAG = "amx_tile"


@functools.cache
def cpu_has_amx() -> bool:
    """True when the CPU says it has AMX tiles (Linux's /proc/cpuinfo).

    llama.cpp built for such a CPU (a native build does so by itself) repacks the weights
    for its AMX kernels, and on machines that advertise AMX without running it (seen in a
    Firecracker VM on a Sapphire Rapids host) every batch of two or more tokens dies with
    SIGSEGV at ``ldtilecfg``. Without the extra buffer types llama.cpp uses its AVX-512
    kernels: on hardware where AMX does run, prompts of the types AMX handles read slower;
    that beats a worker that crashes on every message.
    """
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            return any(line.startswith("flags") and AMX_FLAG in line.split() for line in f)
    except OSError:
        return False


def safe_for_this_cpu(params: llama_lib.llama_model_params) -> llama_lib.llama_model_params:
    """``params`` without weight repacking where the CPU advertises AMX (see
    ``cpu_has_amx``)."""
    if cpu_has_amx():
        params.use_extra_bufts = False
    return params


def _native_strlen() -> int | None:
    """The address of the C library's ``strlen``, if there is one to be found."""
    try:
        libc = ctypes.CDLL(None) if os.name == "posix" else ctypes.cdll.msvcrt
        return ctypes.cast(libc.strlen, ctypes.c_void_p).value
    except (OSError, AttributeError):
        return None


class AbortFlag(threading.Event):
    """A stop switch that llama.cpp polls without calling into Python.

    While it computes, llama.cpp calls its abort callback on its first thread once per
    graph node as the other threads wait at a barrier, so a Python callback (the GIL and
    a frame on every call) would slow every prompt read. This callback is the C library's
    own ``strlen`` on a two-byte buffer: 0 (go on) while the first byte is 0, 1 (abort)
    once it is set.
    """

    def __init__(self) -> None:
        super().__init__()
        self._byte = ctypes.create_string_buffer(2)
        address = _native_strlen()
        # References kept for as long as the flag lives: llama.cpp holds the pointers.
        self.callback = (
            llama_lib.ggml_abort_callback(address)
            if address is not None
            else llama_lib.ggml_abort_callback(lambda _data: self.is_set())
        )
        self.data = ctypes.cast(self._byte, ctypes.c_void_p)
        self.native = address is not None
        """True when llama.cpp polls the flag without entering Python."""

    def set(self) -> None:
        self._byte[0] = 1
        super().set()

    def clear(self) -> None:
        super().clear()
        self._byte[0] = 0
