"""``python -m tui_chat.worker.build_info``: what the installed llama-cpp-python can run
on, in a line, for ``tui-chat --version``.

A process of its own, as the worker is: the UI's process never imports llama_cpp.
"""

from __future__ import annotations


def describe() -> str:
    """ "llama-cpp-python 0.3.36 (llama.cpp for the CPU only)", or with GPU offload."""
    import llama_cpp

    where = "with GPU offload" if llama_cpp.llama_supports_gpu_offload() else "for the CPU only"
    return f"llama-cpp-python {llama_cpp.__version__} (llama.cpp built {where})"


if __name__ == "__main__":
    print(describe())
