"""What the stand-ins for the model APIs share: tests/claude_api.py, tests/openai_api.py and tests/gemini_api.py.

A stand-in is an HTTP server on 127.0.0.1 (a free port), run in a thread while its context lasts, that plays a
scripted conversation to a real agent CLI. Each request of the *main* conversation takes the next step of the
script; once the script is used up, the answer is "Done.". Side requests (titles, routing) take no step.

Each API's module says what differs: which request is the main conversation and how its first prompt is found
(its handler and its `first_prompt`), how a step becomes a response, its error body, and its tool-call step.
Standard library only, so the stand-ins run wherever the tests do.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar


@dataclass(frozen=True)
class Text:
    """A reply that says `text` and ends the turn."""

    text: str


@dataclass(frozen=True)
class Error:
    """A reply with HTTP `status` and the API's own error body, e.g. Error(400, "invalid_request_error", "...")."""

    status: int
    type: str
    message: str
    headers: tuple[tuple[str, str], ...] = ()  # e.g. (("retry-after", "2"),) with a 429


DONE = Text("Done.")


@dataclass
class Request:
    """One request as the stand-in received it, credentials left out."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any  # the JSON body; None for a GET or HEAD
    main: bool = False


class Handler(BaseHTTPRequestHandler):
    """Reading a request and sending an answer; each API's handler adds `do_POST` and `do_GET` for its own paths."""

    protocol_version = "HTTP/1.1"
    timeout = 60  # a kept-alive connection that stays quiet this long is closed
    api: ScriptedAPI  # set by the stand-in that serves this handler
    hidden_headers: frozenset[str] = frozenset()  # the credentials, never recorded
    request_id_header: str | None = None  # where the real API names each answer, if it does

    def _body(self) -> Any:
        size = int(self.headers.get("Content-Length") or 0)
        try:
            return json.loads(self.rfile.read(size) or b"{}")
        except ValueError:
            return {}

    def _headers(self) -> dict[str, str]:
        return {k.lower(): v for k, v in self.headers.items() if k.lower() not in self.hidden_headers}

    def _json(self, status: int, data: dict, headers: tuple[tuple[str, str], ...] = ()) -> None:
        self._send(status, "application/json", json.dumps(data).encode(), headers)

    def _send(self, status: int, content_type: str, payload: bytes, headers: tuple[tuple[str, str], ...] = ()) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        if self.request_id_header:
            self.send_header(self.request_id_header, f"req_{uuid.uuid4().hex[:24]}")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def log_message(self, *args) -> None:
        pass


API = TypeVar("API", bound="ScriptedAPI")


class ScriptedAPI:
    """The stand-in server on 127.0.0.1 (a free port), as a context manager.

    `first_prompt(body)` finds the task in a main request, for scripts given with a prompt. `conversation(body)`
    is what stays the same when the CLI sends a request that got an Error again: Claude Code does after a 400,
    Codex after a 404 or 5xx, each up to five times. Like the real API, the stand-in answers each of them with
    the same Error, without taking a step.
    """

    def __init__(
        self,
        handler: type[Handler],
        name: str,
        first_prompt: Callable[[dict], str],
        conversation: Callable[[dict], str] = lambda body: json.dumps(body, sort_keys=True),
    ) -> None:
        self.requests: list[Any] = []
        # The usage the main conversation's answers are billed with (each API's own shape); None: the module's default.
        self.usage: dict | None = None
        self._first_prompt = first_prompt
        self._conversation = conversation
        self._steps: list = []
        self._by_prompt: dict[str, list] = {}
        self._failed: tuple[str, Error] | None = None  # the conversation that got an Error, and that Error
        self._changed = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), type(handler.__name__, (handler,), {"api": self}))
        # The CLIs keep their connections open; closing must not wait for them.
        self._server.block_on_close = False
        self._thread = threading.Thread(target=self._server.serve_forever, name=name, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def script(self, steps: list, prompt: str | None = None) -> None:
        """Play `steps` to the main conversation, one per request, replacing what was left of the last script.

        With `prompt`, the steps are for the conversation whose first prompt contains that text only,
        so several agents can talk to the stand-in at once, each with its own script.
        """
        with self._changed:
            if prompt is None:
                self._steps = list(steps)
            else:
                self._by_prompt[prompt] = list(steps)

    @property
    def main_requests(self) -> list:
        with self._changed:
            return [r for r in self.requests if r.main]

    @property
    def side_requests(self) -> list:
        with self._changed:
            return [r for r in self.requests if r.body is not None and not r.main]

    def wait_for_main(self, count: int, timeout: float = 20.0) -> list:
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

    def record(self, request: Request) -> Any:
        """Keep `request`; for a main conversation request, take the next step (None for any other request)."""
        with self._changed:
            self.requests.append(request)
            step = None
            if request.main:
                sent = self._conversation(request.body)
                if self._failed and self._failed[0] == sent:
                    step = self._failed[1]
                else:
                    steps = self._steps_for(request.body)
                    step = steps.pop(0) if steps else DONE
                self._failed = (sent, step) if isinstance(step, Error) else None
            self._changed.notify_all()
            return step

    def recover(self) -> None:
        """Answer a request sent again after an Error with the next step, as an API whose limit reset does."""
        with self._changed:
            self._failed = None

    def _steps_for(self, body: dict) -> list:
        first = self._first_prompt(body)
        for prompt, steps in self._by_prompt.items():
            if prompt in first:
                return steps
        return self._steps

    def __enter__(self: API) -> API:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
