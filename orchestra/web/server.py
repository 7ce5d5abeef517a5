"""Serving the dashboard: the listening socket, the URL with its token, uvicorn, the browser.

The socket is bound before uvicorn starts, so that `--port 0` can print the port the system
chose, and so that the browser may be opened at once: connections wait in the backlog.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import webbrowser
from collections.abc import Callable
from typing import TYPE_CHECKING

from orchestra.errors import OrchestraError

if TYPE_CHECKING:
    from starlette.types import ASGIApp


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0: any free one)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as error:
        raise OrchestraError(
            f"cannot listen on {host} port {port}: {error.strerror or error}; choose another --port or --host."
        ) from None
    return sock


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def url_host(host: str) -> str:
    """How a browser names the server: a wildcard address becomes this machine's name."""
    if host in ("0.0.0.0", "::", ""):
        return socket.gethostname()
    return f"[{host}]" if ":" in host else host


def local_hosts(host: str, port: int) -> set[str]:
    """The `Host` headers a browser on this machine sends to a server on loopback."""
    return {f"{name}:{port}" for name in {url_host(host), "127.0.0.1", "localhost", "[::1]"}}


def serve(app: ASGIApp, sock: socket.socket) -> None:
    """Run until Ctrl-C. No access log: the first request's URL carries the token."""
    import uvicorn

    config = uvicorn.Config(app, access_log=False, log_level="warning", timeout_graceful_shutdown=2, lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])


def open_browser(url: str, opener: Callable[[str], bool] = webbrowser.open) -> bool:
    """Open the page in the user's browser, in the background; False when there is none.

    A text-mode browser (lynx, w3m) would take over this terminal, so only a graphical one counts.
    """
    try:
        browser = webbrowser.get()
    except webbrowser.Error:
        return False
    if isinstance(browser, webbrowser.GenericBrowser) and not isinstance(browser, webbrowser.BackgroundBrowser):
        return False
    threading.Thread(target=_quietly, args=(browser.open, url), daemon=True).start()
    return True


def _quietly(open_url: Callable[[str], bool], url: str) -> None:
    with contextlib.suppress(Exception):  # a browser that fails to start must not stop the dashboard
        open_url(url)
