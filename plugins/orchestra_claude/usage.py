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

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from orchestra.models import json_record, usage_count

# Transcript `usage` names of the four counts orchestra reports.
COUNTS = {
    "input_tokens": "input_tokens",
    "output_tokens": "output_tokens",
    "cache_read_input_tokens": "cache_read_tokens",
    "cache_creation_input_tokens": "cache_write_tokens",
}
RECENT = 16  # messages remembered across reads: one message's blocks are written one after another
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
    return read_usage(list(paths))[0]


def read_usage(
    paths: list[Path], models: dict[str, dict[str, int]] | None = None, state: dict[str, Any] | None = None
) -> tuple[dict[str, dict[str, int]], dict[str, Any]]:
    """The counts per model over `paths`, and the notes to read on from next time.

    With the `models` and `state` of an earlier read, each file is read from where that read
    stopped (a transcript only grows); a file that was replaced or shrank makes it read all
    again. The notes keep each file's offset and the last few messages: a message whose blocks
    straddle the old end is still counted once."""
    usable = isinstance(state, dict) and isinstance(state.get("files"), dict) and isinstance(state.get("recent"), dict)
    files: dict[str, Any] = dict(state["files"]) if usable and state else {}
    recent: dict[str, list[Any]] = dict(state["recent"]) if usable and state else {}
    totals = {model: dict(counts) for model, counts in (models or {}).items()} if usable else {}
    for path in paths:
        try:
            info = os.stat(path)
        except OSError:
            continue
        prior = files.get(str(path))
        if prior is not None:
            offset = prior.get("offset") if isinstance(prior, dict) else None
            if not isinstance(offset, int) or prior.get("ino") != info.st_ino or not 0 <= offset <= info.st_size:
                return read_usage(paths)  # replaced, cut short, or notes that make no sense: start over
        start = prior["offset"] if prior is not None else 0
        end = _read_from(path, start, totals, recent)
        files[str(path)] = {"offset": end, "ino": info.st_ino}
    kept = {str(path) for path in paths}
    return totals, {"files": {path: note for path, note in files.items() if path in kept}, "recent": recent}


def _read_from(path: Path, start: int, totals: dict[str, dict[str, int]], recent: dict[str, list[Any]]) -> int:
    """Count the whole lines of `path` from byte `start` into `totals`; where it stopped."""
    try:
        with open(path, "rb") as handle:
            handle.seek(start)
            offset = start
            for line in handle:
                if not line.endswith(b"\n"):
                    break  # a line still being written: read it whole next time
                here, offset = offset, offset + len(line)
                if b'"usage"' not in line:  # a cheap test before parsing: most lines are not answers
                    continue
                found = _message_usage(line)
                if found is not None:
                    key, model, counts = found
                    _add(key or f"{path}:{here}", model, counts, totals, recent)
            return offset
    except OSError:
        return start


def _add(
    key: str, model: str, counts: dict[str, int], totals: dict[str, dict[str, int]], recent: dict[str, list[Any]]
) -> None:
    """Count one line's message: a message already counted keeps the larger of each count (a
    line written before the answer ended may carry the output count of its start)."""
    seen = recent.pop(key, None)
    if isinstance(seen, list) and len(seen) == 1 + len(COUNTS) and isinstance(seen[0], str):
        # Counted before: take that count back out, and count the larger of each instead.
        old = dict(zip(COUNTS.values(), (usage_count(v) for v in seen[1:]), strict=True))
        before = totals.setdefault(seen[0], dict.fromkeys(COUNTS.values(), 0))
        for name, value in old.items():
            before[name] = max(0, before.get(name, 0) - value)
        counts = {name: max(old[name], counts[name]) for name in counts}
    total = totals.setdefault(model, dict.fromkeys(COUNTS.values(), 0))
    for name, value in counts.items():
        total[name] = total.get(name, 0) + value
    recent[key] = [model, *counts.values()]
    while len(recent) > RECENT:
        del recent[next(iter(recent))]


def _message_usage(line: bytes) -> tuple[str | None, str, dict[str, int]] | None:
    """(message id, model, counts) of an assistant line with usage, or None for any other line."""
    record = json_record(line)
    if record is None or record.get("type") != "assistant":
        return None
    message = record.get("message")
    if not isinstance(message, dict) or not isinstance(message.get("usage"), dict):
        return None
    model = message.get("model")
    if model == SYNTHETIC:
        return None
    usage: dict[str, Any] = message["usage"]
    counts = {ours: usage_count(usage.get(theirs)) for theirs, ours in COUNTS.items()}
    ident = message.get("id") or record.get("requestId")
    return (str(ident) if ident else None), (model if isinstance(model, str) and model else "unknown"), counts
