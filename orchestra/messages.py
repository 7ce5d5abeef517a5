"""The project's message board (`orchestra mcp`'s `post` and `read`): what agents tell each other
("the auth API is at src/auth.py") without a person relaying it.

Each topic is one JSON-lines file, `<state>/board/<topic>.jsonl`, appended under its own lock;
each message is `{"id", "time", "author", "topic", "text"}`, its id counting up from 1 per topic."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from orchestra import files
from orchestra.errors import OrchestraError
from orchestra.models import json_record, now

TOPIC_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
MAX_TEXT = 64 * 1024  # characters in one message
PERSON = "person"  # the author of a message posted by no agent


def board_dir(state_dir: Path) -> Path:
    return Path(state_dir) / "board"


def check_topic(topic: str) -> None:
    if not TOPIC_PATTERN.match(topic):
        raise OrchestraError(
            f"the topic {topic!r} is not a topic name: use letters, digits, '-' and '_' (up to 64), e.g. \"general\"."
        )


def post(state_dir: Path, text: str, author: str | None, topic: str = "general") -> dict[str, Any]:
    """Append `text` to `topic` by `author` (None: a person); returns the message as stored."""
    check_topic(topic)
    if not text.strip():
        raise OrchestraError("the message is empty: post some text.")
    if len(text) > MAX_TEXT:
        raise OrchestraError(f"the message has {len(text)} characters, more than {MAX_TEXT}: post a shorter one.")
    folder = board_dir(state_dir)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / f"{topic}.jsonl"
    with files.locked(folder / f"{topic}.lock"):
        last = _messages(path)
        number = int(last[-1]["id"]) + 1 if last else 1
        message = {"id": str(number), "time": now(), "author": author or PERSON, "topic": topic, "text": text}
        line = (json.dumps(message, ensure_ascii=False) + "\n").encode()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
    return message


def read(state_dir: Path, topic: str = "general", since: str | None = None) -> list[dict[str, Any]]:
    """The messages of `topic`, oldest first; with `since`, only those after it: a message id from an
    earlier read ("3"), or an ISO 8601 time ("2026-12-03T14:00:00+00:00")."""
    check_topic(topic)
    found = _messages(board_dir(state_dir) / f"{topic}.jsonl")
    if since is None or since == "":
        return found
    if since.isdigit():
        return [m for m in found if int(m["id"]) > int(since)]
    try:
        from orchestra.models import parse_time

        moment = parse_time(since)
        if moment.tzinfo is None:
            raise ValueError
    except ValueError:
        raise OrchestraError(
            f'since={since!r} is neither a message id ("3") nor a time with its zone ("2026-12-03T14:00:00+00:00").'
        ) from None
    return [m for m in found if parse_time(m["time"]) > moment]


def topics(state_dir: Path) -> list[str]:
    """The topics that have messages, by name."""
    folder = board_dir(state_dir)
    return sorted(p.stem for p in folder.glob("*.jsonl")) if folder.is_dir() else []


def _messages(path: Path) -> list[dict[str, Any]]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    found = []
    for line in data.splitlines():
        record = json_record(line)
        if record is not None and str(record.get("id", "")).isdigit() and isinstance(record.get("text"), str):
            found.append(record)
    return found
