"""One Claude Code conversation read whole: its prompts, replies, tool calls and token usage,
for `orchestra sessions search`, `export` and `stats`.

Claude Code writes an assistant message of several content blocks (text, then a tool call) as
one transcript line per block, each line carrying the whole message's `usage`: a message is
counted once, by its `message.id` (else its request id), keeping the largest of each count (a
line written before the answer ended may carry its start's output count), or a naive sum counts
it once per block. Sub-agents' side conversations (`<session-id>/subagents/*.jsonl`) count for
tokens, not as prompts or replies. Tool results (often whole files) are never parsed: a
substring check rules their lines out first.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestra.models import json_record
from orchestra_claude.sessions import normalize_time, prompt_text

USAGE_FIELDS = {  # orchestra's name: the Messages API's
    "input_tokens": "input_tokens",
    "output_tokens": "output_tokens",
    "cache_read_tokens": "cache_read_input_tokens",
    "cache_write_tokens": "cache_creation_input_tokens",
}
# What a tool call is shown by, in the order looked for: its input's first such field.
TOOL_SUMMARY_KEYS = (
    "file_path",
    "command",
    "pattern",
    "path",
    "url",
    "query",
    "description",
    "prompt",
    "notebook_path",
)
SUMMARY_LENGTH = 120
SYNTHETIC = "<synthetic>"  # the model of lines Claude Code writes itself (an API error shown as a reply)


@dataclass
class Usage:
    """Tokens of one or more API messages (field names as in `ls --json`'s `usage`)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    def add(self, other: Usage) -> None:
        for name in USAGE_FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def widen(self, other: Usage) -> None:
        """The largest of each count: the same message seen on another of its lines."""
        for name in USAGE_FIELDS:
            setattr(self, name, max(getattr(self, name), getattr(other, name)))

    def to_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in USAGE_FIELDS}

    @classmethod
    def of(cls, usage: Any) -> Usage:
        if not isinstance(usage, dict):
            return cls()
        values = {ours: usage.get(theirs) for ours, theirs in USAGE_FIELDS.items()}
        return cls(**{k: v if isinstance(v, int) and v >= 0 else 0 for k, v in values.items()})


@dataclass
class Entry:
    """One step of the conversation: a prompt a person typed, a reply's text, or a tool call."""

    role: str  # "prompt", "reply" or "tool"
    time: str | None  # ISO 8601, UTC
    text: str  # the words; for a tool call, what it was called on, shortened
    tool: str | None = None  # the tool's name, for a tool call

    def to_dict(self) -> dict[str, Any]:
        return {"role": self.role, "time": self.time, "text": self.text, "tool": self.tool}


@dataclass
class Message:
    """One API message of the assistant, counted once however many lines it spans."""

    time: str | None
    usage: Usage


@dataclass
class Conversation:
    entries: list[Entry] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)

    def usage(self, since: str | None = None) -> Usage:
        total = Usage()
        for message in self.messages:
            if since is None or (message.time or "") >= since:
                total.add(message.usage)
        return total


def read_conversation(path: Path | str) -> Conversation:
    """Every prompt, reply and tool call of a transcript, in order, and its messages' usage.

    Damaged lines are skipped; an unreadable file reads as an empty conversation."""
    conversation = Conversation()
    by_id: dict[str, Message] = {}
    path = Path(path)
    try:
        for record in _records(path):
            if record.get("type") == "user" and not record.get("isSidechain"):
                text = prompt_text(record)
                if text is not None:
                    conversation.entries.append(Entry("prompt", _time(record), text))
            elif record.get("type") == "assistant":
                _read_assistant(record, conversation, by_id, entries=not record.get("isSidechain"))
    except OSError:
        return Conversation()
    for side in _subagents(path):
        try:
            for record in _records(side):
                if record.get("type") == "assistant":
                    _read_assistant(record, conversation, by_id, entries=False)
        except OSError:
            continue
    return conversation


def _subagents(path: Path) -> list[Path]:
    try:
        return sorted(p for p in (path.with_suffix("") / "subagents").glob("*.jsonl") if p.is_file())
    except OSError:
        return []


def _records(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, "rb") as handle:
        for line in handle:
            # Prompts and replies only: a user line that is a tool result is never parsed.
            if b'"message"' not in line or (b'"tool_result"' in line and b'"assistant"' not in line):
                continue
            record = json_record(line)
            if record is not None:
                yield record


def _read_assistant(
    record: dict[str, Any], conversation: Conversation, by_id: dict[str, Message], entries: bool = True
) -> None:
    message = record.get("message")
    if not isinstance(message, dict):
        return
    time = _time(record)
    key = message.get("id") if isinstance(message.get("id"), str) else record.get("requestId")
    if "usage" in message and message.get("model") != SYNTHETIC:
        usage = Usage.of(message.get("usage"))
        if isinstance(key, str) and key in by_id:
            by_id[key].usage.widen(usage)  # the same message's next block: not counted again
        else:
            counted = Message(time, usage)
            conversation.messages.append(counted)
            if isinstance(key, str):
                by_id[key] = counted
    if not entries:
        return
    content = message.get("content")
    blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
    for block in blocks if isinstance(blocks, list) else []:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text" and isinstance(block.get("text"), str) and block["text"].strip():
            conversation.entries.append(Entry("reply", time, block["text"]))
        elif block.get("type") == "tool_use" and isinstance(block.get("name"), str):
            conversation.entries.append(Entry("tool", time, tool_summary(block.get("input")), tool=block["name"]))


def tool_summary(given: Any) -> str:
    """A tool call in short: the file, command or pattern it was called on, on one line."""
    if not isinstance(given, dict):
        return ""
    value = next((given[k] for k in TOOL_SUMMARY_KEYS if isinstance(given.get(k), str)), None)
    if value is None:
        value = json.dumps(given, ensure_ascii=False, sort_keys=True)
    line = " ".join(value.split())
    return line if len(line) <= SUMMARY_LENGTH else line[: SUMMARY_LENGTH - 1].rstrip() + "…"


def _time(record: dict[str, Any]) -> str | None:
    value = record.get("timestamp")
    return normalize_time(value) if isinstance(value, str) else None
