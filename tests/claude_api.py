"""A stand-in for Anthropic's Messages API that plays a scripted conversation to the real Claude Code CLI.

    with ClaudeAPI() as api:
        api.script([ToolUse("Write", {"file_path": "hello.txt", "content": "hi\\n"}), Text("I wrote hello.txt.")])
        ... run claude with ANTHROPIC_BASE_URL=api.url ...
        api.wait_for_main(2)

Each request of the *main* conversation takes the next step of the script; once the script is used up, the answer
is "Done.". Claude Code's side requests (2.1.328 sends one: the session title, when nonessential traffic is on)
get a short answer and take no step. The server itself is tests/standin.py's; standard library only.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field

import standin
from standin import Error, Text  # the tests import the steps from here


@dataclass(frozen=True)
class ToolUse:
    """A reply that calls tool `name` with `input`; Claude Code runs it and sends the result back.

    With `text`, the reply says it first: one message of two content blocks, text then tool_use."""

    name: str
    input: dict
    id: str = field(default_factory=lambda: f"toolu_{uuid.uuid4().hex[:24]}")
    text: str = ""


@dataclass(frozen=True)
class Billed:
    """`step` (a Text or ToolUse) billed with `usage`: the Messages API's four counts, e.g.
    {"input_tokens": 100, "output_tokens": 20, "cache_read_input_tokens": 1000, "cache_creation_input_tokens": 50}."""

    step: Text | ToolUse
    usage: dict


Step = Text | ToolUse | Error | Billed
SIDE_REPLY = "OK"
USAGE = {"input_tokens": 10, "output_tokens": 5, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}


class Request(standin.Request):
    """A request to the Messages API, with what the tests read from it."""

    @property
    def last_message(self) -> dict:
        """The last user or assistant message (2.1.328 also puts a `system`-role message in `messages`)."""
        said = [m for m in (self.body or {}).get("messages") or [] if m.get("role") != "system"]
        return said[-1] if said else {}

    @property
    def tool_results(self) -> list[dict]:
        content = self.last_message.get("content")
        if not isinstance(content, list):
            return []
        return [block for block in content if isinstance(block, dict) and block.get("type") == "tool_result"]


# A turn billed with known numbers: one message of two content blocks (text, then a tool call, which
# Claude Code writes as two transcript lines that both carry the message's usage), then a final text.
BILLED_WRITE = [
    Billed(
        ToolUse("Write", {"file_path": "hello.txt", "content": "hi\n"}, text="I will write hello.txt."),
        {
            "input_tokens": 1000,
            "output_tokens": 200,
            "cache_read_input_tokens": 30000,
            "cache_creation_input_tokens": 4000,
        },
    ),
    Billed(
        Text("I wrote hello.txt."),
        {"input_tokens": 7, "output_tokens": 50, "cache_read_input_tokens": 34000, "cache_creation_input_tokens": 300},
    ),
]
# Its usage as `orchestra ls --json` shows it: each message once.
BILLED_WRITE_USAGE = {
    "input_tokens": 1007,
    "output_tokens": 250,
    "cache_read_tokens": 64000,
    "cache_write_tokens": 4300,
}


def is_main(body: dict) -> bool:
    """The main conversation offers the model Claude Code's tools; its side requests offer none.

    The side request seen with 2.1.328 is the session title (sent only without
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC): same model, no tools, a JSON schema output format.
    """
    return bool(body.get("tools"))


def conversation(body: dict) -> str:
    """What stays the same when Claude Code sends a request again: the user's and the assistant's messages.

    Claude Code answers an HTTP 400 by sending the request again up to five times, each time without one more
    optional feature (2.1.328: a beta header, thinking display, tool search). Its `system`-role message is left
    out: the retry without tool search rewrites it.
    """
    return json.dumps([m for m in body.get("messages") or [] if m.get("role") != "system"], sort_keys=True)


def first_prompt(body: dict) -> str:
    """The text of the conversation's first user message (its task)."""
    for message in body.get("messages") or []:
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        return "\n".join(b.get("text", "") for b in content or [] if isinstance(b, dict) and b.get("type") == "text")
    return ""


def side_reply(body: dict) -> Text:
    """A short answer that fits what the side request asked for: JSON where it gave a schema."""
    schema = ((body.get("output_config") or {}).get("format") or {}).get("schema")
    if not schema:
        return Text(SIDE_REPLY)
    fields = {key: SIDE_REPLY for key, spec in (schema.get("properties") or {}).items() if spec.get("type") == "string"}
    return Text(json.dumps(fields))


def message(reply: Text | ToolUse, model: str, usage: dict | None = None) -> dict:
    if isinstance(reply, ToolUse):
        content = [{"type": "text", "text": reply.text}] if reply.text else []
        content.append({"type": "tool_use", "id": reply.id, "name": reply.name, "input": reply.input})
        stop_reason = "tool_use"
    else:
        content = [{"type": "text", "text": reply.text}]
        stop_reason = "end_turn"
    return {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": dict(USAGE, **(usage or {})),
    }


def stream(reply: Text | ToolUse, model: str, usage: dict | None = None) -> bytes:
    """The server-sent events the real API sends for `reply`, in its order and shapes: the input
    counts come with `message_start`, the final output count with `message_delta`."""
    whole = message(reply, model, usage)
    start = dict(whole, content=[], stop_reason=None, usage=dict(whole["usage"], output_tokens=1))
    events = [("message_start", {"type": "message_start", "message": start}), ("ping", {"type": "ping"})]
    for index, block in enumerate(whole["content"]):
        if block["type"] == "text":
            opening, kind, key, payload = dict(block, text=""), "text_delta", "text", block["text"]
        else:
            payload = json.dumps(block["input"])
            opening, kind, key = dict(block, input={}), "input_json_delta", "partial_json"
        started = {"type": "content_block_start", "index": index, "content_block": opening}
        events.append(("content_block_start", started))
        # The real API sends small pieces; two halves are enough to make the client put them back together.
        middle = len(payload) // 2
        for piece in (payload[:middle], payload[middle:]):
            delta = {"type": kind, key: piece}
            events.append(("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}))
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    ending = {"stop_reason": whole["stop_reason"], "stop_sequence": None}
    output = {"output_tokens": whole["usage"]["output_tokens"]}
    events.append(("message_delta", {"type": "message_delta", "delta": ending, "usage": output}))
    events.append(("message_stop", {"type": "message_stop"}))
    return b"".join(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode() for name, data in events)


def claude_environment(url: str) -> dict[str, str]:
    """What Claude Code needs to talk to the stand-in at `url`, offline and quietly. The caller also
    removes every ANTHROPIC_* and CLAUDE* variable first: CLAUDE_CONFIG_DIR would move the config
    away from HOME, and an ANTHROPIC_API_KEY brings up a dialog."""
    return {
        "ANTHROPIC_BASE_URL": url,
        "ANTHROPIC_AUTH_TOKEN": "stand-in-token",
        # Without it an interactive session updates itself with a global `npm install -g`.
        "DISABLE_AUTOUPDATER": "1",
        # Title requests, the /api/hello warm-up, telemetry and error reports.
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
        # Not covered by the line above: fetching the official plugin marketplace (downloads.claude.ai, github.com).
        "CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL": "1",
    }


def claude_json(main_checkout) -> dict:
    """`~/.claude.json` with onboarding done and the main checkout trusted (its worktrees inherit it)."""
    return {"hasCompletedOnboarding": True, "projects": {str(main_checkout): {"hasTrustDialogAccepted": True}}}


class ClaudeAPI(standin.ScriptedAPI):
    """The stand-in server on 127.0.0.1 (a free port), as a context manager."""

    requests: list[Request]

    def __init__(self) -> None:
        super().__init__(ClaudeHandler, "claude-api", first_prompt, conversation)


class ClaudeHandler(standin.Handler):
    """The Messages API's answers: `/v1/messages` (streamed or not), its token count, and the warm-up."""

    api: ClaudeAPI
    hidden_headers = frozenset({"authorization", "x-api-key"})
    request_id_header = "request-id"

    def do_POST(self) -> None:
        body = self._body()
        path = self.path.split("?", 1)[0]
        request = Request("POST", self.path, self._headers(), body, main=path == "/v1/messages" and is_main(body))
        step = self.api.record(request)
        if path == "/v1/messages/count_tokens":
            self._json(200, {"input_tokens": 10})
        elif path != "/v1/messages":
            self._error(404, "not_found_error", f"the stand-in does not know {path}")
        elif isinstance(step, Error):
            self._error(step.status, step.type, step.message, step.headers)
        else:
            usage = step.usage if isinstance(step, Billed) else None
            reply = (step.step if isinstance(step, Billed) else step) or side_reply(body)
            model = body.get("model", "claude-stand-in")
            if body.get("stream"):
                self._send(200, "text/event-stream", stream(reply, model, usage))
            else:
                self._json(200, message(reply, model, usage))

    def do_GET(self) -> None:
        self.api.record(Request(self.command, self.path, self._headers(), None))
        if self.path.split("?", 1)[0] == "/api/hello":  # Claude Code's connection warm-up, a HEAD at start
            self._json(200, {})
        else:
            self._error(404, "not_found_error", f"the stand-in does not know {self.path}")

    do_HEAD = do_GET

    def _error(self, status: int, kind: str, text: str, headers: tuple[tuple[str, str], ...] = ()) -> None:
        self._json(status, {"type": "error", "error": {"type": kind, "message": text}}, headers)
