"""The tokens of a Gemini CLI conversation, from its session files.

Gemini CLI keeps each session as JSON lines under `<its home>/.gemini/tmp/<folder>/chats/`,
named `session-<time>-<first 8 characters of the session id>.jsonl`: a first line with the
`sessionId`, then one line per message, written again (same `id`) as the message grows, and
`{"$set": {"messages": [...]}}` lines that restate messages. Each model message (`"type":
"gemini"`) carries `tokens` (`input`, `output`, `cached`, `thoughts`, `tool`) and its `model`;
each is counted once by its id, with its last-written numbers. Every file of the folder that
belongs to the session is read, so a resumed session is counted whether Gemini went on in the
same file or began another.

Gemini counts cached input inside `input`; orchestra's `input_tokens` are the ones that were not
cached (plus the tool-use prompt), `cache_read_tokens` the cached ones, and `output_tokens` the
answer with its thoughts (billed as output). Gemini reports no cache writes: 0.
"""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Any

from orchestra.models import json_record, usage_count


def session_files(transcript: Path, session_id: str | None) -> list[Path]:
    """The transcript and the other files of its folder that belong to the same session."""
    found = {transcript} if transcript.is_file() else set()
    if session_id:
        for name in glob.glob(str(transcript.parent / f"session-*-{glob.escape(session_id[:8])}.jsonl")):
            path = Path(name)
            if path not in found and _session_of(path) == session_id:
                found.add(path)
    return sorted(found)


def usage_by_model(paths: list[Path]) -> dict[str, dict[str, int]]:
    """The four counts per model over every model message in `paths`, each once."""
    messages: dict[str, tuple[str, dict[str, int]]] = {}
    for path in paths:
        try:
            with open(path, "rb") as handle:
                for number, line in enumerate(handle):
                    if b'"tokens"' not in line:
                        continue
                    record = json_record(line)
                    if record is None:
                        continue
                    restated = (
                        (record.get("$set") or {}).get("messages") if isinstance(record.get("$set"), dict) else None
                    )
                    for index, message in enumerate(restated if isinstance(restated, list) else [record]):
                        found = _message_usage(message)
                        if found is not None:
                            key = str(message.get("id") or f"{path}:{number}:{index}")
                            messages[key] = found
        except OSError:
            continue
    by_model: dict[str, dict[str, int]] = {}
    for model, counts in messages.values():
        total = by_model.setdefault(model, dict.fromkeys(counts, 0))
        for name, value in counts.items():
            total[name] += value
    return by_model


def _message_usage(message: Any) -> tuple[str, dict[str, int]] | None:
    if not isinstance(message, dict) or message.get("type") != "gemini" or not isinstance(message.get("tokens"), dict):
        return None
    tokens = message["tokens"]
    cached = usage_count(tokens.get("cached"))
    counts = {
        "input_tokens": max(0, usage_count(tokens.get("input")) - cached) + usage_count(tokens.get("tool")),
        "output_tokens": usage_count(tokens.get("output")) + usage_count(tokens.get("thoughts")),
        "cache_read_tokens": cached,
        "cache_write_tokens": 0,
    }
    model = message.get("model")
    return (model if isinstance(model, str) and model else "unknown"), counts


def _session_of(path: Path) -> str | None:
    try:
        with open(path, "rb") as handle:
            first = json_record(handle.readline())
    except OSError:
        return None
    return first.get("sessionId") if first else None
