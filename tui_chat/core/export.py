"""A conversation as Markdown or JSON, for `tui-chat export` and the app's save key; and
a JSON export read back (`tui-chat import`).

A conversation with versions (a reply asked for again, a message edited) is written as
shown, each message that begins versions marked with its number and how many there are,
and the versions aside after it, as the store keeps them (``store_versions``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tui_chat.core.store import StoredConversation
    from tui_chat.core.store_versions import Packed

ROLE_NAMES = {"user": "You", "assistant": "Assistant", "system": "System"}
STATUS_NOTES = {
    "length": "cut off at the token limit",
    "stopped": "stopped",
    "interrupted": "interrupted: the model worker crashed",
    "streaming": "interrupted",
    "failed": "failed",
}
FORMAT = "tui-chat conversation 1"
"""What a JSON export says it is (``tui-chat import`` reads this one)."""


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).astimezone().isoformat(timespec="seconds")


def _messages(conversation: StoredConversation) -> list[dict[str, Any]]:
    """The messages shown, as the columns the store keeps them in."""
    return [
        {
            "role": m.role,
            "text": m.text,
            "thinking": m.thinking,
            "status": m.status,
            "prompt_tokens": m.prompt_tokens,
            "completion_tokens": m.completion_tokens,
            "created": m.created,
            "updated": m.updated,
            "version": m.version,
        }
        for m in conversation.messages
    ]


def _counts(
    messages: Sequence[Mapping[str, Any]], aside: Sequence[Packed], start: int
) -> dict[int, int]:
    """How many versions begin at each index of ``messages`` (those from ``start`` on)
    that begins versions."""
    counts: dict[int, int] = {}
    for version in aside:
        at = version["position"]
        shown = messages[at - start]["version"] if 0 <= at - start < len(messages) else 0
        counts[at] = max(counts.get(at, 0), version["version"], shown)
    return counts


def to_markdown(
    conversation: StoredConversation, with_thinking: bool = False, aside: Sequence[Packed] = ()
) -> str:
    """The conversation as a Markdown document (message text exactly as written); a
    reasoning model's thinking, with ``with_thinking``, as a quote before its answer;
    the versions ``aside`` after it."""
    info = conversation.info
    lines = [f"# {info.title or 'Untitled conversation'}", ""]
    lines.append(
        f"_Conversation {info.id} · {info.model or 'unknown model'} · {_when(info.created)}_"
    )
    if conversation.system_prompt:
        lines += ["", "**System prompt**", "", conversation.system_prompt]
    if conversation.settings:
        own = " · ".join(f"{key} {value}" for key, value in conversation.settings.items())
        lines += ["", f"_Its own settings: {own}_"]
    messages = _messages(conversation)
    lines += _markdown_messages(messages, _counts(messages, aside, 0), 0, with_thinking)
    if aside:
        lines += ["", "## Other versions"]
        for version in _flat(aside):
            lines += [
                "",
                f"### Version {version['version']} from message {version['position'] + 1}",
            ]
            lines += _markdown_messages(version["messages"], {}, version["position"], with_thinking)
    return "\n".join(lines) + "\n"


def _markdown_messages(
    messages: Sequence[Mapping[str, Any]], counts: dict[int, int], start: int, with_thinking: bool
) -> list[str]:
    lines: list[str] = []
    for n, message in enumerate(messages, start):
        notes = [STATUS_NOTES[message["status"]]] if message["status"] in STATUS_NOTES else []
        if n in counts:
            notes.insert(0, f"version {message['version']} of {counts[n]}")
        heading = f"**{ROLE_NAMES.get(message['role'], message['role'])}**"
        lines += ["", f"{heading} _({', '.join(notes)})_" if notes else heading, ""]
        if with_thinking and message["thinking"]:
            thought = ["> _Thinking:_", ">"] + [
                f"> {line}".rstrip() for line in message["thinking"].splitlines()
            ]
            lines += [*thought, ""]
        lines.append(message["text"])
    return lines


def _flat(aside: Sequence[Packed]) -> list[Packed]:
    """Every version aside, those within one after it."""
    flat: list[Packed] = []
    for version in aside:
        flat.append(version)
        flat += _flat(version["versions"])
    return flat


def to_json(
    conversation: StoredConversation, with_thinking: bool = False, aside: Sequence[Packed] = ()
) -> str:
    """The conversation as JSON, every field of the store included (a reasoning model's
    thinking with ``with_thinking``), the versions ``aside`` too."""
    info = conversation.info
    messages = _messages(conversation)
    document = {
        "format": FORMAT,
        "id": info.id,
        "title": info.title,
        "created": _when(info.created),
        "updated": _when(info.updated),
        "model": info.model,
        "system_prompt": conversation.system_prompt,
        "settings": conversation.settings,
        "messages": _json_messages(messages, _counts(messages, aside, 0), 0, with_thinking),
        "other_versions": [_json_version(v, with_thinking) for v in aside],
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def _json_version(version: Packed, with_thinking: bool) -> dict[str, Any]:
    messages, at = version["messages"], version["position"]
    return {
        "at": at,
        "version": version["version"],
        "messages": _json_messages(
            messages, _counts(messages, version["versions"], at), at, with_thinking
        ),
        "other_versions": [_json_version(v, with_thinking) for v in version["versions"]],
    }


def _json_messages(
    messages: Sequence[Mapping[str, Any]], counts: dict[int, int], start: int, with_thinking: bool
) -> list[dict[str, Any]]:
    return [
        {
            "role": m["role"],
            "text": m["text"],
            **({"thinking": m["thinking"]} if with_thinking and m["thinking"] else {}),
            "status": "interrupted" if m["status"] == "streaming" else m["status"],
            "prompt_tokens": m["prompt_tokens"],
            "completion_tokens": m["completion_tokens"],
            "created": _when(m["created"]),
            "updated": _when(m["updated"]),
            **({"version": m["version"], "versions": counts[n]} if n in counts else {}),
        }
        for n, m in enumerate(messages, start)
    ]


class NotAnExport(ValueError):
    """The text is not a conversation as `tui-chat export --format json` writes it."""


def read_json(text: str) -> tuple[dict[str, Any], list[dict[str, Any]], list[Packed]]:
    """A JSON export read back: the conversation's fields (``title``, ``model``,
    ``created``, ``system_prompt``, ``settings``), its messages shown and its versions
    aside, as the store keeps them.

    Raises:
        NotAnExport: Not JSON, or not such a document, said in words.
    """
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise NotAnExport(f"it is not JSON ({e})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise NotAnExport(f'it is not a conversation written by tui-chat export ("{FORMAT}")')
    try:
        fields = {
            "title": _text(document["title"]),
            "model": _text(document["model"]),
            "created": _time(document["created"]),
            "system_prompt": _text(document["system_prompt"]),
            "settings": dict(document.get("settings") or {}),
        }
        messages = [_message(m, 1) for m in document["messages"]]
        aside = [_version(v) for v in document["other_versions"]]
        _check(messages, aside, 0, nested=False)
    except (KeyError, TypeError, ValueError, RecursionError) as e:
        raise NotAnExport(f"a field is missing or wrong ({type(e).__name__}: {e})") from None
    return fields, messages, aside


def _check(messages: list[dict[str, Any]], aside: list[Packed], start: int, nested: bool) -> None:
    """Versions that can be shown: each begins at one of the messages of the version it
    is in (after its first, when that begins a version itself), has messages, and a
    number no other version there has."""
    numbers: dict[int, set[int]] = {}
    for version in aside:
        at = version["position"]
        if not start + nested <= at < start + len(messages):
            raise ValueError(f"a version begins at message {at}, outside the messages it is in")
        if not version["messages"]:
            raise ValueError(f"version {version['version']} at message {at} has no messages")
        taken = numbers.setdefault(at, {messages[at - start]["version"]})
        if version["version"] in taken:
            raise ValueError(f"two versions at message {at} are both number {version['version']}")
        taken.add(version["version"])
        _check(version["messages"], version["versions"], at, nested=True)


def _version(version: dict[str, Any]) -> Packed:
    at, number = version["at"], _number(version["version"])
    if not isinstance(at, int) or isinstance(at, bool):
        raise TypeError(f"a version begins at {at!r}")
    messages = [_message(m, number if n == 0 else 1) for n, m in enumerate(version["messages"])]
    return {
        "position": at,
        "version": number,
        "messages": messages,
        "versions": [_version(v) for v in version["other_versions"]],
    }


def _message(message: dict[str, Any], version: int) -> dict[str, Any]:
    role = message["role"]
    if role not in ("user", "assistant"):
        raise ValueError(f"a message's role is {role!r}")
    counts = [message.get(key) for key in ("prompt_tokens", "completion_tokens")]
    return {
        "role": role,
        "text": _text(message["text"]),
        "thinking": _text(message.get("thinking", "")),
        "status": _text(message["status"]),
        "prompt_tokens": None if counts[0] is None else int(counts[0]),
        "completion_tokens": None if counts[1] is None else int(counts[1]),
        "created": _time(message["created"]),
        "updated": _time(message["updated"]),
        "version": _number(message.get("version", version)),
    }


def _number(value: object) -> int:
    """A version's number: a whole number from 1 on."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{value!r} is not a version's number")
    return value


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{value!r} is not text")
    return value


def _time(value: object) -> float:
    return datetime.fromisoformat(_text(value)).timestamp()
