"""llama-cpp-python's server, with the worker's guard for CPUs that advertise AMX without
running it (``tui_chat.worker.llama_hooks.cpu_has_amx``): run as ``python -m
tests.llama_server`` with the server's own arguments."""

from __future__ import annotations

import runpy

import llama_cpp.llama_cpp as llama_lib

from tui_chat.worker.llama_hooks import safe_for_this_cpu

if __name__ == "__main__":
    default_params = llama_lib.llama_model_default_params
    llama_lib.llama_model_default_params = lambda: safe_for_this_cpu(default_params())
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
