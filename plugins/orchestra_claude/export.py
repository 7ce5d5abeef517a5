"""One Claude Code session as Markdown, for `orchestra sessions export`: a header saying whose
session it is, then each prompt and reply under a heading of its own, tool calls in short."""

from __future__ import annotations

from orchestra.render import printable
from orchestra_claude.conversation import Conversation, Entry
from orchestra_claude.sessions import Session

HEADINGS = {"prompt": "Prompt", "reply": "Reply"}


def markdown(session: Session, conversation: Conversation) -> str:
    """The session as Markdown. Text from the transcript is kept as it was written, but for
    control characters, which are shown escaped so the file is safe to print on a terminal."""
    usage = conversation.usage()
    lines = [f"# Claude Code session {session.id}", ""]
    facts = [
        ("agent", session.agent or "none (not started by orchestra)"),
        ("branch", session.branch or "none (detached)"),
        ("directory", session.directory),
        ("started", session.started or "unknown"),
        ("last activity", session.last_activity or "unknown"),
        ("turns", str(session.turns)),
        (
            "tokens",
            f"{usage.input_tokens} input, {usage.output_tokens} output, "
            f"{usage.cache_read_tokens} cache read, {usage.cache_write_tokens} cache write",
        ),
    ]
    lines += [f"- {name}: {_inline(value)}" for name, value in facts]
    previous = None
    for entry in conversation.entries:
        if entry.role == "tool":
            if previous != "tool":
                lines.append("")
            target = entry.text.removeprefix(session.directory.rstrip("/") + "/")  # a path in its folder, shorter
            lines.append(f"- {_code(entry.tool or '?')} {_code(target) if target else ''}".rstrip())
        else:
            lines += ["", f"## {HEADINGS[entry.role]}{_when(entry)}", "", printable(entry.text).strip()]
        previous = entry.role
    return "\n".join(lines) + "\n"


def _when(entry: Entry) -> str:
    return f" · {entry.time[:10]} {entry.time[11:19]} UTC" if entry.time else ""


def _inline(text: str) -> str:
    return printable(" ".join(text.split()), newlines=False)


def _code(text: str) -> str:
    """`text` as inline code, with a fence of more backticks than it holds itself."""
    text = _inline(text)
    longest, run = 0, 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    fence = "`" * (longest + 1)
    padded = f" {text} " if text.startswith("`") or text.endswith("`") else text
    return f"{fence}{padded}{fence}"
