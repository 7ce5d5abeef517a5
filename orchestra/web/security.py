"""Who may use the dashboard: the token, the cookie that carries it, the WebSocket's Origin,
and the headers every response gets.

Anyone who can reach the server can type into the user's agents, so every request needs the
random token printed with the URL: as `?token=` on the first page load (answered with a cookie
and a redirect that takes the token out of the address bar), then the cookie (HttpOnly,
SameSite=Strict, so other sites' pages cannot send it), or `Authorization: Bearer` for scripts.
A WebSocket must also come from the server's own origin: browsers let any page open a
WebSocket to any address, and only `Origin` tells who opened it.
"""

from __future__ import annotations

import secrets

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, RedirectResponse
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
REFUSED = "this needs the dashboard's token: open the URL that `orchestra web` printed (it ends in ?token=...)."


def new_token() -> str:
    return secrets.token_urlsafe(32)


def cookie_name(port: int | None) -> str:
    """Cookies ignore ports: two dashboards on one host each need a cookie of their own."""
    return f"orchestra_token_{port}" if port else "orchestra_token"


class Guard:
    """ASGI middleware in front of the whole app: the token on every request, `Origin` on
    WebSockets, `Host` when listening on loopback (a page from a DNS-rebinding name is refused
    before the token is even looked at), and the security headers on every response."""

    def __init__(self, app: ASGIApp, token: str, cookie: str, hosts: set[str] | None = None) -> None:
        self.app = app
        self.token = token.encode()
        self.cookie = cookie
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        connection = HTTPConnection(scope)
        given, from_query = self._given(connection)
        host_ok = self._host_allowed(connection.headers)
        allowed = host_ok and given is not None and secrets.compare_digest(given, self.token)
        if scope["type"] == "websocket":
            if not (allowed and same_origin(connection.headers)):
                await receive()  # websocket.connect; closing before accepting answers the handshake with 403
                await send({"type": "websocket.close", "code": 1008})
                return
            return await self.app(scope, receive, send)
        if not host_ok:  # a page from another name pointing at this address (DNS rebinding)
            error = "this dashboard answers only to 127.0.0.1, localhost and [::1]: use the address it printed."
            return await JSONResponse({"error": error}, status_code=403, headers=HEADERS)(scope, receive, send)
        if not allowed:
            return await JSONResponse({"error": REFUSED}, status_code=401, headers=HEADERS)(scope, receive, send)
        if given is not None and from_query and scope["method"] == "GET" and scope["path"] == "/":
            response = RedirectResponse("/", status_code=303, headers=HEADERS)
            response.set_cookie(self.cookie, given.decode(), httponly=True, samesite="strict", path="/")
            return await response(scope, receive, send)
        await self.app(scope, receive, _with_headers(send))

    def _given(self, connection: HTTPConnection) -> tuple[bytes | None, bool]:
        """The token the request carries, and whether it came in the query string."""
        query = connection.query_params.get("token")
        if query:
            return query.encode(), True
        authorization = connection.headers.get("authorization", "")
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip().encode(), False
        cookie = connection.cookies.get(self.cookie)
        return (cookie.encode(), False) if cookie else (None, False)

    def _host_allowed(self, headers: Headers) -> bool:
        return self.hosts is None or headers.get("host", "") in self.hosts


def same_origin(headers: Headers) -> bool:
    """The page that opened the WebSocket was served by this server, under the name it used."""
    origin, host = headers.get("origin"), headers.get("host")
    return bool(origin and host) and origin in (f"http://{host}", f"https://{host}")


def _with_headers(send: Send) -> Send:
    async def sender(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            for key, value in HEADERS.items():
                if key not in headers:
                    headers[key] = value
        await send(message)

    return sender
