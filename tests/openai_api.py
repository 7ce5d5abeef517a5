"""A stand-in for OpenAI's Responses API that plays a scripted conversation to the real Codex CLI.

    with OpenAIAPI() as api:
        api.script([shell("printf 'hi\\n' > hello.txt"), Text("I wrote hello.txt.")])
        ... run codex with codex_overrides(api.url) ...
        api.wait_for_main(2)

Codex (0.169.0, through a model provider of its own with `wire_api = "responses"`) sends every model call as
`POST /v1/responses` with `"stream": true` and reads the answer as server-sent events. Each request of the *main*
conversation takes the next step of the script; once the script is used up, the answer is "Done.". Codex's side
requests (0.169.0 sends one per new thread: its title, in a thread of its own, with no tools and a JSON schema for
the answer) get a short answer that fits the schema and take no step. 0.169.0 asks a provider of its own for nothing
else; a model list (`GET /v1/models`) would get an empty one and anything else a quick 404, so Codex never waits on
the stand-in. The server itself is tests/standin.py's; standard library only.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field

import standin
from standin import Error, Text  # the tests import the steps from here

MODEL = "gpt-stand-in"
PROVIDER = "standin"  # the model provider's id in Codex's config
KEY_VARIABLE = "ORCHESTRA_TEST_OPENAI_KEY"  # the provider's `env_key`: Codex sends it as the bearer token


@dataclass(frozen=True)
class ToolCall:
    """A reply that calls function `name` with `arguments`; Codex runs it and sends the output back."""

    name: str
    arguments: dict
    call_id: str = field(default_factory=lambda: f"call_{uuid.uuid4().hex[:24]}")
    namespace: str | None = None  # an MCP server's tools: Codex offers them as a namespace, `mcp__<server>`


def shell(cmd: str, justification: str | None = None) -> ToolCall:
    """Codex's `exec_command` tool running `cmd`: in its sandbox, or, with a `justification`, asking the
    person to run it outside the sandbox (`sandbox_permissions: require_escalated`)."""
    arguments: dict = {"cmd": cmd}
    if justification is not None:
        arguments.update(sandbox_permissions="require_escalated", justification=justification)
    return ToolCall("exec_command", arguments)


Step = Text | ToolCall | Error
SIDE_REPLY = "OK"


class Request(standin.Request):
    """A request to the Responses API, with what the tests read from it."""

    @property
    def thread_id(self) -> str | None:
        """Codex's conversation: the `thread-id` header (the same id its notify event carries)."""
        return self.headers.get("thread-id")

    @property
    def items(self) -> list[dict]:
        return list((self.body or {}).get("input") or [])

    @property
    def user_texts(self) -> list[str]:
        """What the person said in this conversation so far, oldest first (Codex's own context messages left out)."""
        texts = []
        for item in self.items:
            if item.get("type") == "message" and item.get("role") == "user":
                text = "\n".join(c.get("text", "") for c in item.get("content") or [] if c.get("type") == "input_text")
                if not text.startswith("<"):  # <environment_context>, <user_instructions>, ...
                    texts.append(text)
        return texts

    @property
    def function_outputs(self) -> dict[str, str]:
        """call_id: output, for every tool result in the conversation."""
        outputs = {}
        for item in self.items:
            if item.get("type") == "function_call_output":
                output = item.get("output")
                outputs[item.get("call_id")] = output if isinstance(output, str) else json.dumps(output)
        return outputs


def is_main(body: dict) -> bool:
    """The main conversation offers the model Codex's tools (exec_command, ...); the title request offers none."""
    return bool(body.get("tools"))


def conversation(body: dict) -> str:
    """What stays the same when Codex sends a request again: its input items.

    Codex sends a request that failed with a 404 or 5xx again, up to five times ("Reconnecting... 5/5"); a 400
    it shows at once.
    """
    return json.dumps(body.get("input") or [], sort_keys=True)


def first_prompt(body: dict) -> str:
    """The text of the conversation's first prompt from the person (its task)."""
    texts = Request("POST", "", {}, body).user_texts
    return texts[0] if texts else ""


def side_reply(body: dict) -> Text:
    """A short answer that fits what the side request asked for: JSON where it gave a schema."""
    schema = (((body.get("text") or {}).get("format") or {}).get("schema")) or {}
    if not schema:
        return Text(SIDE_REPLY)
    fields = {key: SIDE_REPLY for key, spec in (schema.get("properties") or {}).items() if spec.get("type") == "string"}
    return Text(json.dumps(fields))


def output_item(reply: Text | ToolCall) -> dict:
    if isinstance(reply, ToolCall):
        return {
            "type": "function_call",
            "id": f"fc_{uuid.uuid4().hex[:24]}",
            "status": "completed",
            "call_id": reply.call_id,
            "name": reply.name,
            "arguments": json.dumps(reply.arguments),
            **({"namespace": reply.namespace} if reply.namespace else {}),
        }
    text = {"type": "output_text", "text": reply.text, "annotations": []}
    return {
        "type": "message",
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "status": "completed",
        "role": "assistant",
        "content": [text],
    }


USAGE = {
    "input_tokens": 10,
    "input_tokens_details": {"cached_tokens": 0},
    "output_tokens": 5,
    "output_tokens_details": {"reasoning_tokens": 0},
    "total_tokens": 15,
}


def response(model: str, status: str, output: list[dict], usage: dict | None = None) -> dict:
    usage = usage or USAGE
    return {
        "id": f"resp_{uuid.uuid4().hex[:24]}",
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "model": model,
        "output": output,
        "usage": usage if status == "completed" else None,
    }


def stream(reply: Text | ToolCall, model: str, usage: dict | None = None) -> bytes:
    """The server-sent events the real API sends for `reply`, in its order and shapes."""
    item = output_item(reply)
    whole = response(model, "completed", [item], usage)
    started = dict(whole, status="in_progress", output=[], usage=None)
    events = [("response.created", {"response": started}), ("response.in_progress", {"response": started})]
    opening = dict(item, status="in_progress")
    if item["type"] == "message":
        opening["content"] = []
        events.append(("response.output_item.added", {"output_index": 0, "item": opening}))
        part = {"type": "output_text", "text": "", "annotations": []}
        where = {"item_id": item["id"], "output_index": 0, "content_index": 0}
        events.append(("response.content_part.added", {**where, "part": part}))
        text = item["content"][0]["text"]
        # The real API sends small pieces; two halves are enough to make the client put them back together.
        for piece in (text[: len(text) // 2], text[len(text) // 2 :]):
            events.append(("response.output_text.delta", {**where, "delta": piece}))
        events.append(("response.output_text.done", {**where, "text": text}))
        events.append(("response.content_part.done", {**where, "part": item["content"][0]}))
    else:
        opening["arguments"] = ""
        events.append(("response.output_item.added", {"output_index": 0, "item": opening}))
        where = {"item_id": item["id"], "output_index": 0}
        arguments = item["arguments"]
        for piece in (arguments[: len(arguments) // 2], arguments[len(arguments) // 2 :]):
            events.append(("response.function_call_arguments.delta", {**where, "delta": piece}))
        events.append(("response.function_call_arguments.done", {**where, "arguments": arguments}))
    events.append(("response.output_item.done", {"output_index": 0, "item": item}))
    events.append(("response.completed", {"response": whole}))
    return b"".join(
        f"event: {name}\ndata: {json.dumps({'type': name, 'sequence_number': n, **data})}\n\n".encode()
        for n, (name, data) in enumerate(events)
    )


def chat_completion(reply: Text, model: str, streamed: bool) -> bytes:
    """A Chat Completions answer saying `reply` (what aider and other OpenAI-compatible clients ask for):
    one JSON object, or with `"stream": true` its chunks as server-sent events, then `[DONE]`."""
    usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    head = {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "created": int(time.time()), "model": model}
    if not streamed:
        message = {"role": "assistant", "content": reply.text}
        choice = {"index": 0, "message": message, "finish_reason": "stop"}
        return json.dumps({**head, "object": "chat.completion", "choices": [choice], "usage": usage}).encode()
    deltas = [({"role": "assistant", "content": reply.text}, None), ({}, "stop")]
    chunks = [
        {**head, "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": d, "finish_reason": f}]}
        for d, f in deltas
    ]
    chunks.append({**head, "object": "chat.completion.chunk", "choices": [], "usage": usage})
    return b"".join(f"data: {json.dumps(chunk)}\n\n".encode() for chunk in chunks) + b"data: [DONE]\n\n"


def codex_overrides(url: str) -> list[str]:
    """Codex's command-line config overrides that send its model calls to the stand-in at `url`, as a model
    provider of their own (so no ChatGPT sign-in is asked for): the key comes from `KEY_VARIABLE`."""
    provider = {"name": "stand-in", "base_url": f"{url}/v1", "env_key": KEY_VARIABLE, "wire_api": "responses"}
    table = ", ".join(f"{key} = {json.dumps(value)}" for key, value in provider.items())
    return [
        "-c",
        f"model_provider={json.dumps(PROVIDER)}",
        "-c",
        f"model_providers.{PROVIDER}={{{table}}}",
        "-c",
        f"model={json.dumps(MODEL)}",
    ]


class OpenAIAPI(standin.ScriptedAPI):
    """The stand-in server on 127.0.0.1 (a free port), as a context manager."""

    requests: list[Request]

    def __init__(self) -> None:
        super().__init__(OpenAIHandler, "openai-api", first_prompt, conversation)


class OpenAIHandler(standin.Handler):
    """The Responses API's answers: `/v1/responses`, always streamed, and an empty model list; and
    `/v1/chat/completions` (text only), each request of which is the main conversation."""

    api: OpenAIAPI
    hidden_headers = frozenset({"authorization", "api-key"})
    request_id_header = "x-request-id"

    def do_POST(self) -> None:
        body = self._body()
        path = self.path.split("?", 1)[0]
        chat = path == "/v1/chat/completions"
        main = chat or (path == "/v1/responses" and isinstance(body, dict) and is_main(body))
        step = self.api.record(Request("POST", self.path, self._headers(), body, main=main))
        if path not in ("/v1/responses", "/v1/chat/completions"):
            self._error(404, "not_found", f"the stand-in does not know {path}")
        elif isinstance(step, Error):
            self._error(step.status, step.type, step.message, step.headers)
        elif chat:
            assert isinstance(step, Text), "the stand-in's Chat Completions answer only with text"
            streamed = bool(body.get("stream"))
            kind = "text/event-stream" if streamed else "application/json"
            self._send(200, kind, chat_completion(step, body.get("model") or MODEL, streamed))
        else:
            reply = step or side_reply(body)
            usage = self.api.usage if main else None
            self._send(200, "text/event-stream", stream(reply, body.get("model") or MODEL, usage))

    def do_GET(self) -> None:
        self.api.record(Request(self.command, self.path, self._headers(), None))
        if self.path.split("?", 1)[0] == "/v1/models":
            self._json(200, {"object": "list", "data": [], "models": []})
        else:
            self._error(404, "not_found", f"the stand-in does not know {self.path}")

    do_HEAD = do_GET

    def _error(self, status: int, kind: str, text: str, headers: tuple[tuple[str, str], ...] = ()) -> None:
        self._json(status, {"error": {"type": kind, "code": kind, "message": text, "param": None}}, headers)
