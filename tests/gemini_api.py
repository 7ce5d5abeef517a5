"""A stand-in for the Gemini API that plays a scripted conversation to the real Gemini CLI.

    with GeminiAPI() as api:
        api.script([FunctionCall("write_file", {"file_path": "hello.txt", "content": "hi\\n"}), Text("I wrote it.")])
        ... run gemini with GEMINI_API_KEY and GOOGLE_GEMINI_BASE_URL=api.url ...
        api.wait_for_main(2)

What Gemini CLI 0.61.0 sends, signed in with an API key (`security.auth.selectedType` "gemini-api-key")
and its base URL moved by GOOGLE_GEMINI_BASE_URL, for one interactive turn:

- `POST /v1beta/models/<model>:generateContent`, no tools, a `responseJsonSchema` in its
  `generationConfig`: side requests. With the model set to "Auto" (the default) the first is the
  router's classifier (`complexity_reasoning`, `complexity_score`), which picks the model for the turn.
- `POST /v1beta/models/<model>:streamGenerateContent?alt=sse`, with Gemini's tools (write_file,
  run_shell_command, ...): the *main* conversation, answered as server-sent events. A tool's
  result comes back in the next one as a `functionResponse` part in a user turn.
- `countTokens` is answered too, should a version send it; anything else gets a JSON 404 at once.

Each main request takes the next step of the script; once it is used up, the answer is "Done.".
Side requests get an answer that fits their schema and take no step. Standard library only.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Union


@dataclass(frozen=True)
class Text:
    """A reply that says `text` and ends the turn."""

    text: str


@dataclass(frozen=True)
class FunctionCall:
    """A reply that calls Gemini CLI's tool `name` with `args`; the CLI runs it and sends the result back."""

    name: str
    args: dict


Step = Union[Text, FunctionCall]
DONE = Text("Done.")
SIDE_TEXT = "OK"
HIDDEN_HEADERS = {"x-goog-api-key", "authorization"}
USAGE = {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15}


@dataclass
class Request:
    """One request as the stand-in received it, credentials left out."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict | None
    main: bool = False

    @property
    def model(self) -> str:
        """The model named in the path: `/v1beta/models/<model>:<method>`."""
        return self.path.split("?", 1)[0].rsplit("/", 1)[-1].split(":", 1)[0]

    @property
    def contents(self) -> list[dict]:
        return (self.body or {}).get("contents") or []

    @property
    def function_responses(self) -> list[dict]:
        """The tool results in the last turn."""
        last = self.contents[-1] if self.contents else {}
        return [p["functionResponse"] for p in last.get("parts") or [] if "functionResponse" in p]

    def said(self) -> str:
        """Every text of the conversation so far, one per line (the user's prompts and the model's replies)."""
        return "\n".join(p["text"] for c in self.contents for p in c.get("parts") or [] if isinstance(p.get("text"), str))


def is_main(body: dict) -> bool:
    """The main conversation offers the model Gemini CLI's tools; side requests (routing, checks) offer none."""
    return any(tool.get("functionDeclarations") for tool in body.get("tools") or [])


def first_prompt(body: dict) -> str:
    """The texts of the conversation's first user turn (Gemini puts its session context before the prompt)."""
    for content in body.get("contents") or []:
        if content.get("role") == "user":
            return "\n".join(p.get("text", "") for p in content.get("parts") or [])
    return ""


def fill(schema: dict) -> object:
    """A value that fits a response schema: the side requests' answers are parsed as JSON."""
    kind = str(schema.get("type", "")).lower()
    if schema.get("enum"):
        values = list(schema["enum"])
        return "user" if "user" in values else values[0]  # "who speaks next": the user, so the turn ends
    if kind == "object":
        return {key: fill(spec) for key, spec in (schema.get("properties") or {}).items()}
    if kind == "array":
        return []
    if kind in ("integer", "number"):
        return 1  # a low complexity score: the router's choice does not matter to the script
    if kind == "boolean":
        return False
    return SIDE_TEXT


def side_text(body: dict) -> str:
    schema = (body.get("generationConfig") or {}).get("responseJsonSchema") or (
        body.get("generationConfig") or {}
    ).get("responseSchema")
    return json.dumps(fill(schema)) if schema else SIDE_TEXT


def response(parts: list[dict], finished: bool = True) -> dict:
    candidate: dict = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finished:
        candidate["finishReason"] = "STOP"
    return {"candidates": [candidate], "usageMetadata": USAGE, "modelVersion": "gemini-stand-in"}


def chunks(reply: Step) -> list[dict]:
    """The streamed pieces of `reply`: a text comes in two halves, for the CLI to put back together."""
    if isinstance(reply, FunctionCall):
        return [response([{"functionCall": {"name": reply.name, "args": reply.args}}])]
    middle = len(reply.text) // 2
    return [response([{"text": reply.text[:middle]}], finished=False), response([{"text": reply.text[middle:]}])]


def stream(reply: Step) -> bytes:
    return b"".join(f"data: {json.dumps(chunk)}\r\n\r\n".encode() for chunk in chunks(reply))


def gemini_environment(url: str) -> dict[str, str]:
    """What Gemini CLI needs to talk to the stand-in at `url` with an API key."""
    return {"GEMINI_API_KEY": "stand-in-key", "GOOGLE_GEMINI_BASE_URL": url}


def gemini_user_settings() -> dict:
    """The settings a user has once they chose "Use Gemini API Key" and turned off what calls home.

    Gemini CLI opens its sign-in dialog in interactive mode until `security.auth.selectedType` is
    set (an API key in the environment is not enough); usage statistics go to play.googleapis.com
    and the update check to registry.npmjs.org.
    """
    return {
        "security": {"auth": {"selectedType": "gemini-api-key"}},
        "privacy": {"usageStatisticsEnabled": False},
        "general": {"enableAutoUpdate": False, "enableAutoUpdateNotification": False},
    }


class GeminiAPI:
    """The stand-in server on 127.0.0.1 (a free port), as a context manager."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self._steps: list[Step] = []
        self._by_prompt: dict[str, list[Step]] = {}
        self._changed = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.block_on_close = False  # Gemini CLI keeps its connections open
        self._thread = threading.Thread(target=self._server.serve_forever, name="gemini-api", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def script(self, steps: list[Step], prompt: str | None = None) -> None:
        """Play `steps` to the main conversation, one per request, replacing what was left of the last script.

        With `prompt`, the steps are for the conversation whose first prompt contains that text only.
        """
        with self._changed:
            if prompt is None:
                self._steps = list(steps)
            else:
                self._by_prompt[prompt] = list(steps)

    @property
    def main_requests(self) -> list[Request]:
        with self._changed:
            return [r for r in self.requests if r.main]

    @property
    def side_requests(self) -> list[Request]:
        with self._changed:
            return [r for r in self.requests if r.body is not None and not r.main]

    def wait_for_main(self, count: int, timeout: float = 20.0) -> list[Request]:
        """Wait until the main conversation sent `count` requests; return them all."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(mains := [r for r in self.requests if r.main]) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(r.method, r.path, r.main) for r in self.requests]
                    raise AssertionError(f"timed out after {timeout}s waiting for {count} main request(s); got {seen}")
                self._changed.wait(left)
            return mains

    def record(self, request: Request) -> Step | None:
        """Keep `request`; for a main conversation request, take the next step."""
        with self._changed:
            self.requests.append(request)
            step = None
            if request.main:
                steps = self._steps_for(request.body)
                step = steps.pop(0) if steps else DONE
            self._changed.notify_all()
            return step

    def _steps_for(self, body: dict) -> list[Step]:
        first = first_prompt(body)
        for prompt, steps in self._by_prompt.items():
            if prompt in first:
                return steps
        return self._steps

    def __enter__(self) -> GeminiAPI:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _handler(api: GeminiAPI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 60  # a kept-alive connection that stays quiet this long is closed

        def do_POST(self) -> None:
            size = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(size) or b"{}")
            except ValueError:
                body = {}
            method = self.path.split("?", 1)[0].rsplit(":", 1)[-1]
            main = method == "streamGenerateContent" and is_main(body)
            step = api.record(Request("POST", self.path, self._headers(), body, main=main))
            if method == "streamGenerateContent":
                self._send(200, "text/event-stream", stream(step or Text(side_text(body))))
            elif method == "generateContent":
                self._json(200, response([{"text": side_text(body)}]))
            elif method == "countTokens":
                self._json(200, {"totalTokens": 10})
            else:
                self._not_found()

        def do_GET(self) -> None:
            api.record(Request(self.command, self.path, self._headers(), None))
            self._not_found()

        def _not_found(self) -> None:
            error = {"code": 404, "message": f"the stand-in does not know {self.path}", "status": "NOT_FOUND"}
            self._json(404, {"error": error})

        def _headers(self) -> dict[str, str]:
            return {k.lower(): v for k, v in self.headers.items() if k.lower() not in HIDDEN_HEADERS}

        def _json(self, status: int, data: dict) -> None:
            self._send(status, "application/json", json.dumps(data).encode())

        def _send(self, status: int, content_type: str, payload: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args) -> None:
            pass

    return Handler
