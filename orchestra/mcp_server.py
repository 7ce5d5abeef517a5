"""`orchestra mcp`: orchestra's own abilities offered to agents as MCP tools, over standard input
and output, for the project the server was started in (docs/agents-together.md).

The tools are plain methods of `Tools`, each through the same use case as its command; only
`serve` imports the MCP SDK (`mcp`), when the command runs. A refused call (an `OrchestraError`,
a guardrail, a bad argument) reaches the client as a tool error of one sentence, never a crash.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from orchestra import files, lineage, messages
from orchestra.context import Context
from orchestra.errors import OrchestraError, UnknownAgent
from orchestra.models import Agent, Event, Status, json_record

# What `wait` waits for: the agent finished its turn, ended, hit a limit, or is gone.
SETTLED = frozenset({"done", "exited", "failed", "limited", "merged", "lost", "unreachable"})
WAIT_EVERY = 0.05  # seconds between two looks at the event log's size while `wait` waits
MAX_WAIT = 24 * 3600.0
MAX_DIFF = 100_000  # characters of a diff handed to a model; `orchestra diff` shows the rest
# Variables of the calling agent CLI's process that must not reach the agents it spawns: Claude
# Code marks its children, and a claude started with the mark refuses to run inside "another session".
NOT_INHERITED = ("CLAUDECODE", "CLAUDE_CODE_ENTRYPOINT", "CLAUDE_CODE_SSE_PORT", "ORCHESTRA_AGENT", "ORCHESTRA_PORT")

T = TypeVar("T")
# Each tool's name (a public interface: agents' prompts and the docs use them) and its method of `Tools`.
TOOLS = {
    "list": "agents",
    **{name: name for name in ("spawn", "send", "wait", "report", "diff", "post", "read", "merge")},
}


class Refused(OrchestraError):
    """A tool call that orchestra will not carry out (a guardrail, a bad argument)."""


class Tools:
    """The tools of one server: the project in `cwd`, called by agent `caller` (None: a person)."""

    def __init__(self, cwd: Path, caller: str | None) -> None:
        self.cwd = cwd
        self.caller = caller

    def context(self) -> Context:
        """The project as it is now: each call reads the configuration and records afresh."""
        return Context.open(self.cwd)

    # -- the tools ----------------------------------------------------------------------------

    def agents(self) -> list[dict[str, Any]]:
        """Every agent of this project as `orchestra ls --json` shows it: name, task, status, branch,
        changes, last_message, parent (the agent that spawned it; null: a person), ..."""
        from orchestra import remote
        from orchestra.listing import rows

        ctx = self.context()
        away = remote.rows_soon(ctx)
        return [*rows(ctx), *away()]

    def spawn(self, tasks: list[str], agent: str | None = None) -> list[dict[str, Any]]:
        """Start one agent per task, each in its own git worktree and branch, through orchestra's
        queue; `agent` is the agent kind (claude, codex, ...; default: the project's). The new
        agents are your children (`parent`). Returns their records; wait for them with `wait`."""
        from orchestra.spawning import TaskSpec, spawn, spawn_environment

        if not tasks:
            raise Refused('no task given: spawn(tasks=["what the agent should do"]).')
        ctx = self.context()
        env = {k: v for k, v in spawn_environment().items() if k not in NOT_INHERITED}
        folder = ctx.state.dir / "mcp"
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        # One spawn at a time per caller, so two calls cannot both pass max_children.
        with files.locked(folder / f"spawn-{self.caller or messages.PERSON}.lock"):
            self._check_limits(ctx, len(tasks))
            specs = [TaskSpec(task=task, agent=agent, parent=self.caller) for task in tasks]
            result = spawn(ctx, specs, env)
        if result.failures and not (result.agents or result.queued):
            raise Refused(f"could not start {'; '.join(result.failures)}.")
        started = [{**a.to_dict(), "conflicts_with": []} for a in [*result.agents, *result.queued]]
        if result.failures:
            names = ", ".join(a["name"] for a in started)
            raise Refused(f"started {names}, but could not start {'; '.join(result.failures)}.")
        return started

    def send(self, name: str, text: str) -> dict[str, Any]:
        """Type `text` into agent `name`, then Enter, as `orchestra send` does: an answer to its
        question, or its next piece of work. Returns its name and status."""
        from orchestra import remote
        from orchestra.sending import send

        if name == self.caller:
            raise Refused("an agent cannot send to itself: its own text goes into its answer.")
        ctx = self.context()
        if remote.is_remote(ctx, name):
            return {"name": name, "status": remote.send(ctx, name, text)}
        agent = send(ctx, name, text)
        return {"name": agent.name, "status": agent.status.value}

    def wait(self, names: list[str], timeout_s: float = 600, stop: threading.Event | None = None) -> dict[str, Any]:
        """Block until each named agent is done, exited, failed or limited (or gone), or the
        timeout passes (or `stop` is set: the client gave up); reads orchestra's event log as it
        grows, never tmux."""
        from orchestra.reconcile import observe

        names = list(dict.fromkeys(names))
        if not names:
            raise Refused('name at least one agent to wait for: wait(names=["fix-login"]).')
        if self.caller in names:
            raise Refused(f"agent '{self.caller}' cannot wait for itself.")
        if not 0 <= timeout_s <= MAX_WAIT:
            raise Refused(f"timeout_s must be between 0 and {MAX_WAIT:.0f} seconds, not {timeout_s}.")
        deadline = time.monotonic() + timeout_s
        ctx = self.context()
        log = _Tail(ctx.state.events_path)  # from its end now: nothing that happens after the look is missed
        agents = {a.name: a for a in observe(ctx)}  # one look at tmux, for agents already gone
        self._known(ctx, names, agents)
        statuses = {n: agents[n].status.value for n in names}
        pending = {n for n in names if statuses[n] not in SETTLED}
        while pending and time.monotonic() < deadline and not (stop and stop.is_set()):
            time.sleep(WAIT_EVERY)
            for event in log.new_events():
                name = event.get("agent")
                if not isinstance(name, str) or name not in pending:
                    continue
                record = ctx.state.read().get(name)
                now = record.status.value if record is not None else "removed"
                if event.get("type") == "status" and event.get("status") in SETTLED and now not in SETTLED:
                    now = event["status"]  # the record may be written just after its event
                statuses[name] = now
                if now in SETTLED or now == "removed":
                    pending.discard(name)
        records = ctx.state.read()
        return {
            "timed_out": bool(pending),
            "agents": [_outcome(n, statuses[n], records.get(n)) for n in names],
        }

    def report(self, names: list[str] | None = None) -> list[dict[str, Any]]:
        """What the named agents (every agent without names) ended with, as `orchestra report
        --json` gives it: status, final message, commits, files and lines changed, tokens."""
        from orchestra.report import report

        ctx = self.context()
        reports = report(ctx)
        if names:
            wanted = list(dict.fromkeys(names))
            unknown = [n for n in wanted if n not in {r.name for r in reports}]
            if unknown:
                raise UnknownAgent.named(*unknown)
            reports = [r for r in reports if r.name in wanted]
        return [r.to_dict() for r in reports]  # children under their parent, as report orders them

    def diff(self, name: str) -> str:
        """Agent `name`'s changes against the commit it started from, uncommitted and new files
        included, as `git diff` shows them."""
        from orchestra import remote
        from orchestra.report import agent_diff

        ctx = self.context()
        text = remote.diff(ctx, name) if remote.is_remote(ctx, name) else agent_diff(ctx, name)
        if len(text) > MAX_DIFF:
            text = text[:MAX_DIFF] + (
                f"\n... (the diff is {len(text)} characters; cut at {MAX_DIFF}: `orchestra diff {name}` shows it whole)\n"
            )
        return text or f"agent '{name}' has no changes against its base."

    def post(self, text: str, topic: str = "general") -> dict[str, Any]:
        """Leave a message for the other agents on the project's board, under `topic`, signed
        with your name: what they should know ("the auth API is at src/auth.py")."""
        state = self.context().state
        message = messages.post(state.dir, text, self.caller, topic)
        # In the event log too, so `orchestra events` shows what agents tell each other.
        shown = {"topic": topic, "id": message["id"], "message": text[:200]}
        state.append_events([Event("posted", agent=self.caller, data=shown)])
        return message

    def read(self, topic: str = "general", since: str | None = None) -> list[dict[str, Any]]:
        """The board's messages under `topic`, oldest first, each with its id, time and author;
        with `since` (a message id, or an ISO 8601 time) only the newer ones."""
        return messages.read(self.context().state.dir, topic, since)

    def merge(self, names: list[str]) -> list[dict[str, Any]]:
        """Merge the named agents' branches into the target branch, as `orchestra merge NAME...`
        does (only where the project's orchestra.toml allows agents to)."""
        from orchestra.merging import merge

        ctx = self.context()
        if not ctx.config.mcp["allow_merge"]:
            raise Refused(
                "merging through orchestra mcp is switched off: a person merges with `orchestra merge`, "
                "or sets `allow_merge = true` under [mcp] in orchestra.toml."
            )
        if not names:
            raise Refused('name the agents to merge: merge(names=["fix-login"]).')
        return [r.to_dict() for r in merge(ctx, list(dict.fromkeys(names)))]

    # -- guardrails ---------------------------------------------------------------------------

    def _check_limits(self, ctx: Context, count: int) -> None:
        """`[mcp] max_depth` for the new generation, `max_children` for the caller's children at work."""
        records = list(ctx.state.read().values())
        if self.caller is not None and self.caller not in {a.name for a in records}:
            raise Refused(f"the calling agent '{self.caller}' is not an agent of this project any more.")
        limits = ctx.config.mcp
        generation = lineage.depth(records, self.caller) + 1
        if generation > limits["max_depth"]:
            who = f"agent '{self.caller}'" if self.caller else "a person"
            raise Refused(
                f"{who} may not spawn: its agents would be generation {generation}, past [mcp] max_depth "
                f"= {limits['max_depth']} in orchestra.toml."
            )
        if self.caller is None:
            return
        working = [a.name for a in lineage.children(records, self.caller) if _at_work(a)]
        if len(working) + count > limits["max_children"]:
            then = "wait for some to finish first" if working else "spawn fewer at once"
            raise Refused(
                f"agent '{self.caller}' has {len(working)} children at work and [mcp] max_children = "
                f"{limits['max_children']}: {count} more would pass it; {then}."
            )

    def _known(self, ctx: Context, names: list[str], agents: dict[str, Agent]) -> None:
        from orchestra import remote

        away = [n for n in names if n not in agents and remote.is_remote(ctx, n)]
        if away:
            raise Refused(f"wait covers the agents of this machine only; {', '.join(away)} run on a host.")
        unknown = [n for n in names if n not in agents]
        if unknown:
            raise UnknownAgent.named(*unknown)


class _Tail:
    """The events appended to the log after it was opened (the log is append-only; a line still
    being written waits for its end)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = self._size()
        self.pending = b""

    def _size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def new_events(self) -> list[dict[str, Any]]:
        size = self._size()
        if size < self.offset:  # the log was replaced: read it from its beginning
            self.offset, self.pending = 0, b""
        if size == self.offset:
            return []
        with open(self.path, "rb") as handle:
            handle.seek(self.offset)
            chunk = handle.read(size - self.offset)
        self.offset = size
        *lines, self.pending = (self.pending + chunk).split(b"\n")
        return [e for e in map(json_record, lines) if e is not None]


def _at_work(agent: Agent) -> bool:
    return agent.status.live or agent.status == Status.QUEUED


def _outcome(name: str, status: str, record: Agent | None) -> dict[str, Any]:
    found: dict[str, Any] = {"name": name, "status": status}
    if record is not None:
        found.update(exit_code=record.exit_code, last_message=record.last_message, error=record.error)
    return found


def refusing(tool: Callable[..., T]) -> Callable[..., T]:
    """The tool with every failure turned into one sentence for the client: the SDK reports a
    raised `ToolError` as the call's error result (isError), and anything else as a bare crash."""
    from mcp.server.mcpserver.exceptions import ToolError

    @functools.wraps(tool)
    def call(*args: Any, **kwargs: Any) -> T:
        try:
            return tool(*args, **kwargs)
        except OrchestraError as error:
            raise ToolError(str(error)) from None
        except Exception as error:  # noqa: BLE001 - the server answers the next call; the client hears why
            raise ToolError(f"unexpected error: {type(error).__name__}: {error}.") from None

    return call


def wait_async(tools: Tools) -> Callable[..., Any]:
    """`wait` in a thread that ends soon after the client cancels the call (or goes away), so
    abandoned waits do not hold the worker threads until their timeouts."""
    import anyio.to_thread

    blocking = refusing(tools.wait)

    async def wait(names: list[str], timeout_s: float = 600) -> dict[str, Any]:
        """Wait until each named agent is done with its turn, exited, failed or limited (or gone),
        or `timeout_s` seconds pass; returns each one's status, exit code and last message, and
        whether the timeout passed."""
        stop = threading.Event()
        try:
            call = functools.partial(blocking, names, timeout_s, stop)
            return await anyio.to_thread.run_sync(call, abandon_on_cancel=True)
        finally:
            stop.set()

    return wait


def build_server(tools: Tools, root: Path) -> Any:
    """An `MCPServer` with orchestra's tools, for the project at `root` and the caller of `tools`."""
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from pydantic import ValidationError

    class Server(MCPServer):
        async def call_tool(self, name: str, arguments: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
            try:
                return await super().call_tool(name, arguments, *args, **kwargs)
            except ToolError as error:
                if isinstance(error.__cause__, ValidationError):
                    raise ToolError(_bad_arguments(name, error.__cause__)) from None
                raise

    who = f"agent '{tools.caller}'" if tools.caller else "a person"
    server = Server(
        "orchestra",
        instructions=f"orchestra's tools for the project {root}, called by {who}: "
        "list, spawn, send, wait for, report on and diff its agents; post to and read its message board.",
        log_level="WARNING",
    )
    for name, method in TOOLS.items():
        server.add_tool(wait_async(tools) if name == "wait" else refusing(getattr(tools, method)), name=name)
    return server


def serve(cwd: Path | None = None, agent: str | None = None) -> None:
    """Answer MCP requests on standard input and output until the client closes them."""
    cwd = cwd or Path.cwd()
    ctx = Context.open(cwd)  # a folder that is no project fails here, before anything is served
    if agent is not None and agent not in ctx.state.read():
        raise UnknownAgent.named(agent)
    build_server(Tools(cwd, agent), ctx.project.root).run("stdio")


# -- one server for every agent of a project -----------------------------------------------------

SOCKET = "mcp.sock"  # in the state folder (orchestra/mcp_relay.py connects to it)
LOCK = "mcp.lock"  # held by the server for its whole life: one per project (orchestra/mcp_relay.py reads it)
IDLE_EXIT = 120.0  # seconds with no one connected after which the server ends
STARTUP_GRACE = 30.0  # seconds a new server waits for its first client whatever IDLE_EXIT says
MAX_LINE = 64 * 1024 * 1024  # the longest message a client may send
THREADS = 1000  # tool calls at once (each `wait` holds a thread while it waits)


def serve_main(argv: list[str]) -> int:
    """`_mcp-serve --state-dir DIR [--lock-fd N]`: started by an agent's relay (or spawn) when no
    server answers, with the folder's lock it took for this server as descriptor N."""
    if len(argv) not in (2, 4) or argv[0] != "--state-dir" or (len(argv) == 4 and argv[2] != "--lock-fd"):
        print("usage: _mcp-serve --state-dir DIR [--lock-fd N]", file=sys.stderr)
        return 2
    lock = int(argv[3]) if len(argv) == 4 and argv[3].isdigit() else None
    try:
        idle = float(os.environ.get("ORCHESTRA_MCP_IDLE_EXIT", IDLE_EXIT))
    except ValueError:
        idle = IDLE_EXIT
    try:
        return serve_project(Path(argv[1]), idle, lock)
    except OrchestraError as error:
        print(f"orchestra mcp: {error}", file=sys.stderr)
        return 1


def serve_project(state_dir: Path, idle_exit: float = IDLE_EXIT, lock: int | None = None) -> int:
    """Serve every agent of the project whose state folder is `state_dir` on its unix socket, until
    no one has been connected for `idle_exit` seconds. `lock` is the folder's lock, taken by whoever
    started this server; without it, returns 0 at once when another server holds the lock."""
    import anyio

    held = lock if lock is not None else files.try_lock(state_dir / LOCK)
    if held is None:
        return 0
    os.set_inheritable(held, False)  # the processes it starts must not keep the lock
    ctx = Context.open(Path.cwd())  # started in an agent's worktree: the project it belongs to
    if ctx.state.dir.resolve() != state_dir.resolve():
        raise OrchestraError(f"{state_dir} is not the state folder of the project at {ctx.project.root}.")
    root = ctx.project.root
    os.chdir(root)  # not the worktree it started in, which may be removed while it serves
    listener = _bind(state_dir)
    try:
        anyio.run(_serve, listener, root, idle_exit)
    finally:
        _unbind(state_dir, listener)
        os.close(held)
    return 0


def _bind(state_dir: Path) -> socket.socket:
    """The listening socket `mcp.sock` in `state_dir`, readable by this user alone; bound from its
    folder, as a unix socket's path is limited to about a hundred bytes."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    here = os.getcwd()
    mask = os.umask(0o077)
    try:
        os.chdir(state_dir)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(SOCKET)  # left by a server that died: this one holds the lock
        listener.bind(SOCKET)
        listener.listen(128)
    finally:
        os.umask(mask)
        os.chdir(here)
    return listener


def _unbind(state_dir: Path, listener: socket.socket) -> None:
    with contextlib.suppress(OSError):
        os.unlink(state_dir / SOCKET)
    listener.close()


async def _serve(listener: socket.socket, root: Path, idle_exit: float) -> None:
    import anyio
    import anyio.abc
    import anyio.to_thread

    anyio.to_thread.current_default_thread_limiter().total_tokens = THREADS
    servers: dict[str | None, Any] = {}
    connected = 0
    # Started before the agent CLI that will connect (by spawn, or by a relay that then connects):
    # the idle time counts from a while after the start.
    idle_since = time.monotonic() + max(0.0, STARTUP_GRACE - idle_exit)

    async def one(stream: anyio.abc.SocketStream) -> None:
        nonlocal connected, idle_since
        connected += 1
        try:
            await _serve_connection(stream, root, servers)
        except (anyio.EndOfStream, anyio.IncompleteRead, anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass
        except Exception:  # noqa: BLE001 - one client's failure never ends the others' server
            import traceback

            traceback.print_exc()  # to mcp-server.log in the state folder
        finally:
            connected -= 1
            idle_since = time.monotonic()
            await stream.aclose()

    async with anyio.create_task_group() as group:
        sockets = await anyio.abc.SocketListener.from_socket(listener)
        group.start_soon(sockets.serve, one)
        while connected or time.monotonic() - idle_since < idle_exit:
            await anyio.sleep(min(1.0, idle_exit))
        group.cancel_scope.cancel()


async def _serve_connection(stream: Any, root: Path, servers: dict[str | None, Any]) -> None:
    """One agent CLI's connection: its relay's first line names the agent; then MCP, one JSON
    message per line each way, as over standard input and output."""
    from anyio.streams.buffered import BufferedByteReceiveStream
    from mcp.server.stdio import stdio_server

    received = BufferedByteReceiveStream(stream)
    hello = json_record(await received.receive_until(b"\n", MAX_LINE))
    caller = hello.get("agent") if hello is not None else None
    error = None
    if hello is None or not (caller is None or isinstance(caller, str)):
        error = 'the relay\'s first line is not {"agent": NAME}.'
    elif caller is not None and caller not in Context.open(root).state.read():
        error = str(UnknownAgent.named(caller))
    await stream.send(json.dumps({"error": error} if error else {"ok": True}).encode() + b"\n")
    if error:
        return
    if caller not in servers:
        servers[caller] = build_server(Tools(root, caller), root)
    server = servers[caller]
    lines, out = _Lines(received), _Out(stream)
    async with stdio_server(lines, out) as (read, write):  # type: ignore[arg-type]
        # The SDK's own loop for one connection (what `MCPServer.run_stdio_async` runs on stdio).
        lowlevel = server._lowlevel_server
        await lowlevel.run(read, write, lowlevel.create_initialization_options())


class _Lines:
    """A connection's lines as text, as `stdio_server` reads standard input."""

    def __init__(self, received: Any) -> None:
        self.received = received

    def __aiter__(self) -> _Lines:
        return self

    async def __anext__(self) -> str:
        import anyio

        try:
            line = await self.received.receive_until(b"\n", MAX_LINE)
        except (anyio.EndOfStream, anyio.IncompleteRead, anyio.BrokenResourceError) as error:
            raise StopAsyncIteration from error
        text: str = line.decode("utf-8", errors="replace")
        return text


class _Out:
    """A connection's sending side, as `stdio_server` writes standard output."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    async def write(self, text: str) -> None:
        await self.stream.send(text.encode())

    async def flush(self) -> None:
        pass


def _bad_arguments(tool: str, error: Any) -> str:
    """One sentence for arguments that do not fit the tool's input schema."""
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item.get("loc", ())) or "arguments"
        problems.append(f"{where}: {item.get('msg', 'not valid')}")
    return f"bad arguments for {tool}: {'; '.join(problems)}."
