"""The tokens of a Codex conversation, from its rollout file.

Codex keeps each thread in `$CODEX_HOME/sessions/YYYY/MM/DD/rollout-<time>-<thread id>.jsonl`
(`CODEX_HOME` defaults to `~/.codex`), and `codex resume` goes on in the same file. For every
model response it writes a `token_usage_record` line with that response's `usage` and its
`response_id`: each response is counted once by that id. The model is the one of the turn it
belongs to (`turn_context`). OpenAI counts cached input inside `input_tokens`; orchestra's
`input_tokens` are the ones that were not cached, as with Claude, and `cache_read_tokens` the
cached ones, so the four counts never overlap and prices apply to each as written.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Any

from orchestra.models import json_record, usage_count


def codex_home(env: dict[str, str]) -> Path:
    """`CODEX_HOME` from the agent's configured environment, else from orchestra's, else `~/.codex`."""
    configured = env.get("CODEX_HOME") or os.environ.get("CODEX_HOME")
    return Path(configured).expanduser() if configured else Path.home() / ".codex"


def find_rollout(home: Path, thread_id: str) -> Path | None:
    """The rollout file of thread `thread_id`, newest first if there were several."""
    pattern = str(home / "sessions" / "*" / "*" / "*" / f"rollout-*-{glob.escape(thread_id)}.jsonl")
    found = sorted(glob.glob(pattern))
    return Path(found[-1]) if found else None


def usage_by_model(rollout: Path) -> dict[str, dict[str, int]]:
    """The four counts per model over every response recorded in `rollout`, each once."""
    responses: dict[str, tuple[str, dict[str, int]]] = {}
    model = "unknown"
    try:
        with open(rollout, "rb") as handle:
            for number, line in enumerate(handle):
                if b'"turn_context"' not in line and b'"token_usage_record"' not in line:
                    continue
                record = json_record(line)
                payload = record.get("payload") if record else None
                if not isinstance(payload, dict) or record is None:
                    continue
                if record.get("type") == "turn_context":
                    if isinstance(payload.get("model"), str) and payload["model"]:
                        model = payload["model"]
                elif record.get("type") == "token_usage_record" and isinstance(payload.get("usage"), dict):
                    key = str(payload.get("response_id") or f"line {number}")
                    responses[key] = (model, _counts(payload["usage"]))
    except OSError:
        return {}
    by_model: dict[str, dict[str, int]] = {}
    for name, counts in responses.values():
        total = by_model.setdefault(name, dict.fromkeys(counts, 0))
        for count, value in counts.items():
            total[count] += value
    return by_model


def _counts(usage: dict[str, Any]) -> dict[str, int]:
    cached = usage_count(usage.get("cached_input_tokens"))
    return {
        "input_tokens": max(0, usage_count(usage.get("input_tokens")) - cached),
        "output_tokens": usage_count(usage.get("output_tokens")),
        "cache_read_tokens": cached,
        "cache_write_tokens": usage_count(usage.get("cache_write_input_tokens")),
    }
