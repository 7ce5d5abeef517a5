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
Side requests get an answer that fits their schema and take no step. The server itself is
tests/standin.py's; standard library only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import standin
from standin import Error, Text  # the tests import them from here


@dataclass(frozen=True)
class FunctionCall:
    """A reply that calls Gemini CLI's tool `name` with `args`; the CLI runs it and sends the result back."""

    name: str
    args: dict


Step = Text | FunctionCall
SIDE_TEXT = "OK"
USAGE = {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15}


class Request(standin.Request):
    """A request to the Gemini API, with what the tests read from it."""

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
        return "\n".join(
            p["text"] for c in self.contents for p in c.get("parts") or [] if isinstance(p.get("text"), str)
        )


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
    schema = (body.get("generationConfig") or {}).get("responseJsonSchema") or (body.get("generationConfig") or {}).get(
        "responseSchema"
    )
    return json.dumps(fill(schema)) if schema else SIDE_TEXT


def response(parts: list[dict], finished: bool = True, usage: dict | None = None) -> dict:
    candidate: dict = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finished:
        candidate["finishReason"] = "STOP"
    return {"candidates": [candidate], "usageMetadata": usage or USAGE, "modelVersion": "gemini-stand-in"}


def chunks(reply: Step, usage: dict | None = None) -> list[dict]:
    """The streamed pieces of `reply`: a text comes in two halves, for the CLI to put back together."""
    if isinstance(reply, FunctionCall):
        return [response([{"functionCall": {"name": reply.name, "args": reply.args}}], usage=usage)]
    middle = len(reply.text) // 2
    first = response([{"text": reply.text[:middle]}], finished=False, usage=usage)
    return [first, response([{"text": reply.text[middle:]}], usage=usage)]


def stream(reply: Step, usage: dict | None = None) -> bytes:
    return b"".join(f"data: {json.dumps(chunk)}\r\n\r\n".encode() for chunk in chunks(reply, usage))


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


class GeminiAPI(standin.ScriptedAPI):
    """The stand-in server on 127.0.0.1 (a free port), as a context manager."""

    requests: list[Request]

    def __init__(self) -> None:
        super().__init__(GeminiHandler, "gemini-api", first_prompt)


class GeminiHandler(standin.Handler):
    """The Gemini API's answers: `generateContent`, `streamGenerateContent` and `countTokens`."""

    api: GeminiAPI
    hidden_headers = frozenset({"x-goog-api-key", "authorization"})

    def do_POST(self) -> None:
        body = self._body()
        method = self.path.split("?", 1)[0].rsplit(":", 1)[-1]
        main = method == "streamGenerateContent" and is_main(body)
        step = self.api.record(Request("POST", self.path, self._headers(), body, main=main))
        if isinstance(step, Error):
            error = {"code": step.status, "message": step.message, "status": step.type}
            self._json(step.status, {"error": error}, step.headers)
        elif method == "streamGenerateContent":
            usage = self.api.usage if main else None
            self._send(200, "text/event-stream", stream(step or Text(side_text(body)), usage))
        elif method == "generateContent":
            self._json(200, response([{"text": side_text(body)}]))
        elif method == "countTokens":
            self._json(200, {"totalTokens": 10})
        else:
            self._not_found()

    def do_GET(self) -> None:
        self.api.record(Request(self.command, self.path, self._headers(), None))
        self._not_found()

    def _not_found(self) -> None:
        error = {"code": 404, "message": f"the stand-in does not know {self.path}", "status": "NOT_FOUND"}
        self._json(404, {"error": error})
