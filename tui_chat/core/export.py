"""A conversation as Markdown or JSON, for `tui-chat export` and the app's save key."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tui_chat.core.store import StoredConversation

ROLE_NAMES = {"user": "You", "assistant": "Assistant", "system": "System"}
STATUS_NOTES = {
    "length": "cut off at the token limit",
    "stopped": "stopped",
    "interrupted": "interrupted: the model worker crashed",
    "streaming": "interrupted",
    "failed": "failed",
}


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).astimezone().isoformat(timespec="seconds")


def to_markdown(conversation: StoredConversation, with_thinking: bool = False) -> str:
    """The conversation as a Markdown document (message text exactly as written); a
    reasoning model's thinking, with ``with_thinking``, as a quote before its answer."""
    info = conversation.info
    lines = [f"# {info.title or 'Untitled conversation'}", ""]
    lines.append(
        f"_Conversation {info.id} · {info.model or 'unknown model'} · {_when(info.created)}_"
    )
    if conversation.system_prompt:
        lines += ["", "**System prompt**", "", conversation.system_prompt]
    for message in conversation.messages:
        note = STATUS_NOTES.get(message.status)
        heading = f"**{ROLE_NAMES.get(message.role, message.role)}**"
        lines += ["", f"{heading} _({note})_" if note else heading, ""]
        if with_thinking and message.thinking:
            thought = ["> _Thinking:_", ">"] + [
                f"> {line}".rstrip() for line in message.thinking.splitlines()
            ]
            lines += [*thought, ""]
        lines.append(message.text)
    return "\n".join(lines) + "\n"


def to_json(conversation: StoredConversation, with_thinking: bool = False) -> str:
    """The conversation as JSON, every field of the store included (a reasoning model's
    thinking with ``with_thinking``)."""
    info = conversation.info
    document = {
        "id": info.id,
        "title": info.title,
        "created": _when(info.created),
        "updated": _when(info.updated),
        "model": info.model,
        "system_prompt": conversation.system_prompt,
        "messages": [
            {
                "role": m.role,
                "text": m.text,
                **({"thinking": m.thinking} if with_thinking and m.thinking else {}),
                "status": "interrupted" if m.status == "streaming" else m.status,
                "prompt_tokens": m.prompt_tokens,
                "completion_tokens": m.completion_tokens,
                "created": _when(m.created),
                "updated": _when(m.updated),
            }
            for m in conversation.messages
        ],
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"
