"""The benchmark's replay: a scripted model (``core.script``) that answers with one long
Markdown reply (paragraphs, lists, tables, code fences) at a steady rate, far above any
CPU model. It goes through the real worker, pipe, service and chat view: a measure of
what the UI costs per token, with no model in the way.
"""

from __future__ import annotations

import re

from tui_chat.core.script import Say, Script


def markdown_reply(tokens: int) -> list[str]:
    """About ``tokens`` pieces of a Markdown reply of every common kind of block."""
    blocks: list[str] = []
    n = 0
    pieces: list[str] = []
    while len(pieces) < tokens:
        n += 1
        paragraph = (
            f"The harbour at dawn, part {n}: boats rock gently while gulls circle above "
            "the quay, and the old lighthouse keeper counts the fishing fleet as it "
            "returns with the tide. Nets are mended on the stones, and somebody sings. "
        )
        blocks += [
            f"## Part {n}\n",
            paragraph * 2 + "\n",
            "- nets mended and hung to dry\n- a crate of **fresh** fish\n"
            "- one `rope` too short\n- a gull that steals bread\n",
            paragraph + "\n",
            (
                "| boat | crew | catch |\n|---|---|---|\n"
                f"| Gull {n} | 4 | 120 kg |\n| Tern {n} | 3 | 85 kg |\n"
            )
            if n % 2
            else f"```python\ndef catch(boat: str) -> int:\n    return len(boat) * {n}\n```\n",
            paragraph * 2 + "\n",
        ]
        pieces = re.findall(r"\s*\S+|\s+", "\n".join(blocks))
    return pieces[:tokens]


def replay_script(tokens: int, rate: float) -> Script:
    """A scripted model that answers every message with ``markdown_reply(tokens)``, one
    piece every ``1 / rate`` seconds."""
    return Script(default=(Say(tuple(markdown_reply(tokens)), 1 / rate),), name="replay")
