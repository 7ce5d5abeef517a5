"""How an agent CLI reaches orchestra's MCP server: `<python> -I -S <this file> --state-dir DIR
--agent NAME`.

One server per project answers every agent of it (`orchestra.mcp_server.serve_project`, on the
unix socket `mcp.sock` in the state folder). This relay, one per agent CLI, passes the CLI's
standard input and output to that server, after a first line that names the agent; the server's
first line says whether it serves it. When no server answers, the relay starts one and waits for
it. It needs only the standard library (and orchestra's `files`), and starts without the site module: about 20 ms and a
few MB per agent, where a server of its own took one to two seconds and 60 MB.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import selectors
import socket
import subprocess
import sys
import time

if not __package__:  # run as a file (`python -I -S .../mcp_relay.py`): orchestra's folder on the path
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from orchestra import files  # standard library only, like this file

SOCKET = "mcp.sock"  # in the state folder; connected to from there, since a path may be too long for one
LOCK = "mcp.lock"  # held by the project's server for its whole life (orchestra.mcp_server)
SERVER_LOG = "mcp-server.log"
START_TIMEOUT = 30.0  # seconds a started server has to answer
CHUNK = 65536
# A server that is going away may take a connection and close it unanswered: connect again.
TRIES = 3


def main(argv: list[str]) -> int:
    try:
        state_dir, agent = _arguments(argv)
    except ValueError as error:
        print(f"orchestra mcp relay: {error}", file=sys.stderr)
        return 2
    for _ in range(TRIES):
        conn = _connect_or_start(state_dir)
        if conn is None:
            return 1
        conn.sendall(json.dumps({"agent": agent}).encode() + b"\n")
        answer, rest = _first_line(conn)
        if answer is None:  # closed unanswered: a server on its way out
            conn.close()
            continue
        said = json.loads(answer)
        if "error" in said:
            print(f"orchestra's MCP server: {said['error']}", file=sys.stderr)
            return 1
        if rest:
            _write_all(1, rest)
        _relay(conn)
        return 0
    print("orchestra's MCP server closed every connection; see " + os.path.join(state_dir, SERVER_LOG), file=sys.stderr)
    return 1


def _arguments(argv: list[str]) -> tuple[str, str | None]:
    state_dir: str | None = None
    agent: str | None = None
    rest = list(argv)
    while rest:
        option = rest.pop(0)
        if option in ("--state-dir", "--agent") and rest:
            value = rest.pop(0)
            if option == "--state-dir":
                state_dir = value
            else:
                agent = value
        else:
            raise ValueError(f"unexpected argument {option!r}; usage: --state-dir DIR [--agent NAME]")
    if not state_dir:
        raise ValueError("usage: --state-dir DIR [--agent NAME]")
    return state_dir, agent


def _connect(state_dir: str) -> socket.socket | None:
    """A connection to the project's server, or None when none listens."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    here = os.open(".", os.O_RDONLY)
    try:
        os.chdir(state_dir)  # the socket's name relative to its folder: a unix socket's path is short
        conn.connect(SOCKET)
        return conn
    except OSError as error:
        conn.close()
        if error.errno in (errno.ENOENT, errno.ECONNREFUSED):
            return None
        raise
    finally:
        os.fchdir(here)
        os.close(here)


def _connect_or_start(state_dir: str) -> socket.socket | None:
    server: subprocess.Popen[bytes] | None = None
    deadline = time.monotonic() + START_TIMEOUT
    pause = 0.01
    while time.monotonic() < deadline:
        conn = _connect(state_dir)
        if conn is not None:
            return conn
        if server is not None and server.poll() is not None:
            print(f"orchestra's MCP server did not start; see {os.path.join(state_dir, SERVER_LOG)}", file=sys.stderr)
            return None
        if server is None:  # None while another holds the folder's lock: a server starting or ending
            server = _start_server(state_dir)
        time.sleep(pause)
        pause = min(pause * 2, 0.1)
    print(f"orchestra's MCP server did not answer within {START_TIMEOUT:.0f} s", file=sys.stderr)
    return None


def start_soon(state_dir: str, cwd: str) -> None:
    """Start the project's server in `cwd` (in the project) unless one answers, and return at once:
    `orchestra spawn` calls it before it opens windows, for CLIs that hold their first request
    until their MCP servers answer (codex, gemini), so the server's start is not added to it."""
    conn = _connect(state_dir)
    if conn is not None:
        conn.close()
    else:
        _start_server(state_dir, cwd)  # nothing, while one starts for another agent of the batch


def _start_server(state_dir: str, cwd: str | None = None) -> subprocess.Popen[bytes] | None:
    """The project's server, in a session of its own: it outlives this relay and serves the
    project's other agents, and ends by itself once no one has been connected for a while. None
    when another holds the folder's lock (a server serving, starting or ending). The lock is taken
    here and handed to the server, so no second one starts while the first loads."""
    argv = [sys.executable, *(("-P",) if sys.version_info >= (3, 11) else ()), "-m", "orchestra", "_mcp-serve"]
    with contextlib.suppress(FileExistsError):
        os.mkdir(state_dir, 0o700)  # a project where nothing ran yet; never its parents
    lock = files.try_lock(os.path.join(state_dir, LOCK))
    if lock is None:
        return None
    log = os.open(os.path.join(state_dir, SERVER_LOG), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        return subprocess.Popen(
            [*argv, "--state-dir", state_dir, "--lock-fd", str(lock)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
            cwd=cwd,
            start_new_session=True,
            pass_fds=(lock,),
        )
    finally:
        os.close(log)
        os.close(lock)  # the server's copy holds it now


def _first_line(conn: socket.socket) -> tuple[bytes | None, bytes]:
    """The server's first line, and what came after it; (None, b"") if it closed first."""
    got = b""
    while b"\n" not in got:
        data = conn.recv(CHUNK)
        if not data:
            return None, b""
        got += data
    line, _, rest = got.partition(b"\n")
    return line, rest


def _relay(conn: socket.socket) -> None:
    """The CLI's input to the server and the server's output to the CLI, until the server closes
    (the CLI closing its side is passed on and the server's last answers still come back)."""
    selector = selectors.DefaultSelector()
    selector.register(0, selectors.EVENT_READ, "in")
    selector.register(conn, selectors.EVENT_READ, "server")
    while True:
        for key, _ in selector.select():
            if key.data == "in":
                data = os.read(0, CHUNK)
                if data:
                    conn.sendall(data)
                else:
                    selector.unregister(0)
                    conn.shutdown(socket.SHUT_WR)
            else:
                data = conn.recv(CHUNK)
                if not data:
                    return
                _write_all(1, data)


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data) :]


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except (BrokenPipeError, ConnectionResetError, KeyboardInterrupt):
        sys.exit(0)
    except OSError as error:
        print(f"orchestra's MCP relay: {error.strerror or error}: {error.filename or ''}".rstrip(": "), file=sys.stderr)
        sys.exit(1)
