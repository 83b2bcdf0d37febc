"""llama-cpp-python's server, with the worker's guard for CPUs that advertise AMX without
running it (``tui_chat.worker.llama_hooks.cpu_has_amx``): run as ``python -m
tests.llama_server`` with the server's own arguments."""

from __future__ import annotations

import runpy

import llama_cpp.llama_cpp as llama_lib

from tui_chat.worker.llama_hooks import cpu_has_amx

if __name__ == "__main__":
    if cpu_has_amx():
        original = llama_lib.llama_model_default_params

        def without_extra_buffers() -> llama_lib.llama_model_params:
            params = original()
            params.use_extra_bufts = False
            return params

        llama_lib.llama_model_default_params = without_extra_buffers
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
