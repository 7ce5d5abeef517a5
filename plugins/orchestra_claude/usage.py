"""The tokens of a Claude Code conversation, summed from its transcripts.

Claude Code writes one transcript line per content block of a model's answer, and each of those
lines carries the whole message's `usage`: a message of a text and a tool call is two lines with
the same counts, and a plain sum counts it twice. So each API message is counted once, by its
message id (or, where a line has none, its request id). Within a message the largest of each
count is kept: a line written before the answer ended may carry the output count of the
message's start.

A resumed conversation (`claude --resume <id>`) goes on in the same file; the side
conversations of sub-agents (the Task tool) are files of their own in `<session-id>/subagents/`
beside it, and are counted too: they are tokens the conversation spent.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# Transcript `usage` names of the four counts orchestra reports.
COUNTS = {
    "input_tokens": "input_tokens",
    "output_tokens": "output_tokens",
    "cache_read_input_tokens": "cache_read_tokens",
    "cache_creation_input_tokens": "cache_write_tokens",
}
SYNTHETIC = "<synthetic>"  # the model of lines Claude Code writes itself (an API error shown as a reply)


def transcript_files(transcript: Path) -> list[Path]:
    """The transcript and its sub-agents' transcripts (`<session-id>/subagents/*.jsonl`), those that exist."""
    found = [transcript] if transcript.is_file() else []
    folder = subagents_folder(transcript)
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return found
    return found + [Path(e.path) for e in entries if e.name.endswith(".jsonl") and e.is_file()]


def subagents_folder(transcript: Path) -> Path:
    return transcript.with_suffix("") / "subagents"


def usage_by_model(paths: Iterable[Path]) -> dict[str, dict[str, int]]:
    """The four counts (orchestra's names) per model over every API message in `paths`, each once.

    Lines that cannot be read or parsed are skipped; a file that cannot be opened counts nothing."""
    messages: dict[str, tuple[str, dict[str, int]]] = {}
    for path in paths:
        try:
            with open(path, "rb") as handle:
                for number, line in enumerate(handle):
                    if b'"usage"' not in line:  # a cheap test before parsing: most lines are not answers
                        continue
                    found = _message_usage(line)
                    if found is None:
                        continue
                    key, model, counts = found
                    key = key or f"{path}:{number}"
                    if key in messages:
                        _, seen = messages[key]
                        counts = {name: max(seen[name], counts[name]) for name in counts}
                    messages[key] = (model, counts)
        except OSError:
            continue
    by_model: dict[str, dict[str, int]] = {}
    for model, counts in messages.values():
        total = by_model.setdefault(model, dict.fromkeys(COUNTS.values(), 0))
        for name, value in counts.items():
            total[name] += value
    return by_model


def _message_usage(line: bytes) -> tuple[str | None, str, dict[str, int]] | None:
    """(message id, model, counts) of an assistant line with usage, or None for any other line."""
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(record, dict) or record.get("type") != "assistant":
        return None
    message = record.get("message")
    if not isinstance(message, dict) or not isinstance(message.get("usage"), dict):
        return None
    model = message.get("model")
    if model == SYNTHETIC:
        return None
    usage: dict[str, Any] = message["usage"]
    counts = {ours: _whole(usage.get(theirs)) for theirs, ours in COUNTS.items()}
    ident = message.get("id") or record.get("requestId")
    return (str(ident) if ident else None), (model if isinstance(model, str) and model else "unknown"), counts


def _whole(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
