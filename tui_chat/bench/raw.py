"""Raw llama-cpp-python, in a process of its own, for the benchmark's comparisons.

Reads one JSON command per line on standard input and answers one JSON line on standard
output. It uses the worker's engine only to load the model and render the same prompt
tokens; generation is a bare ``Llama.generate`` loop, timed here.

Run as ``python -m tui_chat.bench.raw MODEL N_CTX THREADS``.
"""

from __future__ import annotations

import json
import os
import sys
import time

from tui_chat.core.protocol import ChatMessage, LoadModel


def main() -> None:
    model, n_ctx, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    # llama.cpp logs to fd 2; keep the benchmark's terminal clean.
    devnull = os.open(os.devnull, os.O_WRONLY)
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    import llama_cpp.llama_cpp as llama_lib

    from tui_chat.worker.engine import Engine

    started = time.perf_counter()
    engine = Engine.load(LoadModel(model, n_ctx, threads), lambda _f: None)
    out.write(json.dumps({"load_seconds": time.perf_counter() - started}) + "\n")
    llm = engine._llm  # the bench measures the library itself
    vocab = llama_lib.llama_model_get_vocab(llm.model)
    for line in sys.stdin:
        command = json.loads(line)
        messages = [ChatMessage(m["role"], m["content"]) for m in command["messages"]]
        tokens = engine.prompt_tokens(messages)
        llm.reset()
        llama_lib.llama_perf_context_reset(llm.ctx)
        t0 = time.perf_counter()
        first = last = 0.0
        count = 0
        for token in llm.generate(tokens, temp=0.0, top_k=1, top_p=1.0, repeat_penalty=1.0):
            now = time.perf_counter()
            if llama_lib.llama_vocab_is_eog(vocab, token):
                break
            count += 1
            first = first or now
            last = now
            if count >= command["max_tokens"]:
                break
        perf = llama_lib.llama_perf_context(llm.ctx)
        out.write(
            json.dumps(
                {
                    "ttft": first - t0,
                    "tokens": count,
                    "tps": (count - 1) / (last - first) if count > 1 and last > first else 0.0,
                    "tps_perf": perf.n_eval / perf.t_eval_ms * 1000 if perf.t_eval_ms else 0.0,
                    "prompt_tokens": len(tokens),
                }
            )
            + "\n"
        )


if __name__ == "__main__":
    main()
