"""Who may use the dashboard: the token and where it travels, `Origin` on everything that
changes something, and the headers every response gets.

Anyone who can reach the server can type into the user's agents, so every API request needs the
random token printed with the URL, as `Authorization: Bearer`; a WebSocket, whose browser API
cannot set headers, offers it as a subprotocol (`orchestra.token.TOKEN`, beside `orchestra`).
The token never travels in a cookie: cookies ignore ports, so every other server on 127.0.0.1
(an agent's own dev server) would receive it. The page keeps the token it was opened with in
its tab's `sessionStorage`, which is per origin, port included. The page and its static files
hold no data, so they are served without the token: a reload has no header to send.

Browsers let any page send a POST or open a WebSocket to any address, and only `Origin` and
`Sec-Fetch-Site` say who did: a POST or WebSocket from another origin is refused, and a POST
must carry a JSON body (a `no-cors` request cannot send one).
"""

from __future__ import annotations

import secrets

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {
    "content-security-policy": POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}
SUBPROTOCOL = "orchestra"  # what the server answers a WebSocket with: a browser drops one that picks none
TOKEN_PROTOCOL = "orchestra.token."  # followed by the token, in the WebSocket's Sec-WebSocket-Protocol
READING = ("GET", "HEAD")
REFUSED = "this needs the dashboard's token: open the URL that `orchestra web` printed (it ends in ?token=...)."
CROSS_ORIGIN = "this request came from another site's page: only the dashboard's own page may change anything."
NOT_JSON = "this API takes a JSON body: send it with Content-Type: application/json."


def new_token() -> str:
    return secrets.token_urlsafe(32)


class Guard:
    """ASGI middleware in front of the whole app: `Host` when listening on loopback (a page from
    a DNS-rebinding name is refused before anything else), `Origin` and `Sec-Fetch-Site` on
    POSTs and WebSockets, the token on every request but the page's own files, a JSON body on
    every POST, and the security headers on every response."""

    def __init__(self, app: ASGIApp, token: str, hosts: set[str] | None = None) -> None:
        self.app = app
        self.token = token.encode()
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        connection = HTTPConnection(scope)
        headers = connection.headers
        host_ok = self.hosts is None or headers.get("host", "") in self.hosts
        if scope["type"] == "websocket":
            given = _offered_token(headers) or _bearer(headers)
            if not (host_ok and self._matches(given) and same_origin(headers)):
                await receive()  # websocket.connect; closing before accepting answers the handshake with 403
                await send({"type": "websocket.close", "code": 1008})
                return
            return await self.app(scope, receive, send)
        method, path = scope["method"], scope["path"]
        if not host_ok:  # a page from another name pointing at this address (DNS rebinding)
            error = "this dashboard answers only to 127.0.0.1, localhost and [::1]: use the address it printed."
            return await _refuse(403, error, scope, receive, send)
        if method not in READING and not from_own_page(headers):
            return await _refuse(403, CROSS_ORIGIN, scope, receive, send)
        if method in READING and (path == "/" or path.startswith("/static/")):
            query = connection.query_params.get("token")  # the printed URL's: the page keeps it, not the server
            if query is not None and not self._matches(query.encode()):
                return await _refuse(401, REFUSED, scope, receive, send)
            return await self.app(scope, receive, _with_headers(send))
        if not self._matches(_bearer(headers)):
            return await _refuse(401, REFUSED, scope, receive, send)
        if method not in READING and _media_type(headers) != "application/json":
            return await _refuse(415, NOT_JSON, scope, receive, send)
        await self.app(scope, receive, _with_headers(send))

    def _matches(self, given: bytes | None) -> bool:
        return given is not None and secrets.compare_digest(given, self.token)


def _bearer(headers: Headers) -> bytes | None:
    scheme, _, value = headers.get("authorization", "").partition(" ")
    return value.strip().encode() if scheme.lower() == "bearer" and value.strip() else None


def _offered_token(headers: Headers) -> bytes | None:
    """The token a browser's WebSocket offers as one of its subprotocols."""
    for offered in headers.get("sec-websocket-protocol", "").split(","):
        offered = offered.strip()
        if offered.startswith(TOKEN_PROTOCOL) and len(offered) > len(TOKEN_PROTOCOL):
            return offered[len(TOKEN_PROTOCOL) :].encode()
    return None


def _media_type(headers: Headers) -> str:
    return headers.get("content-type", "").partition(";")[0].strip().lower()


def same_origin(headers: Headers) -> bool:
    """The page that opened the WebSocket was served by this server, under the name it used."""
    origin, host = headers.get("origin"), headers.get("host")
    return bool(origin and host) and origin in (f"http://{host}", f"https://{host}")


def from_own_page(headers: Headers) -> bool:
    """A request that changes something came from the dashboard's own page, or from no browser.

    Browsers send `Origin` with every POST and `Sec-Fetch-Site` with every request; a script
    (curl) sends neither and proves itself with the token alone."""
    if "origin" in headers and not same_origin(headers):
        return False
    return headers.get("sec-fetch-site", "same-origin") == "same-origin"


async def _refuse(status: int, error: str, scope: Scope, receive: Receive, send: Send) -> None:
    await JSONResponse({"error": error}, status_code=status, headers=HEADERS)(scope, receive, send)


def _with_headers(send: Send) -> Send:
    async def sender(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            for key, value in HEADERS.items():
                if key not in headers:
                    headers[key] = value
        await send(message)

    return sender
