"""The dashboard's FastAPI app: the page, the JSON API under /api/, and the live WebSocket.

Every action goes through the same core function as the command line (`sending.send`,
`worktrees.diff`, `merging.merge`, `removal.kill`, `spawning.spawn`), each with a context
opened for that request, in FastAPI's worker threads (they block on tmux and git). An
`OrchestraError` becomes `{"error": message}` with 404 (no such agent), 409 (work at risk, a
failed merge) or 400 (anything else the user can act on).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, timezone
from importlib import resources
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from orchestra.errors import MergeFailed, OrchestraError, UnknownAgent, WorkAtRisk
from orchestra.models import parse_time
from orchestra.web.live import Board
from orchestra.web.security import SUBPROTOCOL, Guard

if TYPE_CHECKING:
    from orchestra.context import Context

DIFF_LIMIT = 1_000_000  # characters of a diff sent to the page; past that it says where to read the rest
STATIC = {
    "app.css": "text/css; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
ERROR_STATUS = ((UnknownAgent, 404), (WorkAtRisk, 409), (MergeFailed, 409))


class SendBody(BaseModel):
    text: str = Field(description="Typed into the agent literally, then Enter; an empty text presses Enter alone.")


class KillBody(BaseModel):
    force: bool = Field(
        description="Remove even with unmerged work, keeping it on a ref under refs/orchestra/trash/ first."
    )


class MergeBody(BaseModel):
    strategy: str | None = Field(None, description="merge, squash, rebase or a plugin's; default from orchestra.toml.")
    check: str | None = Field(
        None, description="Command that must pass before the target moves; default from orchestra.toml."
    )


class SpawnBody(BaseModel):
    task: str = Field(description="What the agent should do.")
    name: str | None = Field(None, description="Agent name (branch orchestra/NAME); default from the task.")
    agent: str | None = Field(None, description="Agent kind (claude, demo, ...); default from orchestra.toml.")
    base: str | None = Field(None, description="Branch, tag or commit to start from; default from orchestra.toml.")


def create_app(open_context: Callable[[], Context], token: str, hosts: set[str] | None = None) -> FastAPI:
    """The app for one project. `open_context()` gives a fresh `Context` (one per request);
    `hosts`, when given, are the only `Host` headers accepted (the server listens on loopback)."""
    board = Board(open_context)

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        yield
        await board.stop()

    app = FastAPI(
        title="orchestra dashboard",
        summary="The agents of one project, and actions on them. Every request needs the token (Authorization: Bearer);"
        " every POST a JSON body.",
        openapi_url="/api/openapi.json",
        docs_url=None,  # FastAPI's docs pages load their scripts from a CDN
        redoc_url=None,
        lifespan=lifespan,
    )
    app.add_middleware(Guard, token=token, hosts=hosts)

    @app.exception_handler(OrchestraError)
    async def orchestra_error(_request: Request, error: OrchestraError):
        status = next((code for kind, code in ERROR_STATUS if isinstance(error, kind)), 400)
        return JSONResponse({"error": str(error)}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def invalid_body(_request: Request, error: RequestValidationError):
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())
        return JSONResponse({"error": f"the request is not valid: {problems}."}, status_code=422)

    @app.get("/", include_in_schema=False)
    def page():
        return Response(_asset("index.html"), media_type="text/html; charset=utf-8")

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str):
        if name not in STATIC:
            return JSONResponse({"error": f"no such file: {name}"}, status_code=404)
        return Response(_asset(name), media_type=STATIC[name])

    @app.get("/api/agents", summary="Every agent, as `orchestra ls --json` shows it, with its changes.")
    def agents():
        from orchestra import remote
        from orchestra.listing import rows

        ctx = open_context()
        away = remote.rows_soon(ctx)
        return [*rows(ctx, reap=True), *away()]

    @app.get(
        "/api/conflicts",
        summary="The last stored conflict forecast, as `orchestra conflicts --json` prints it (null before the"
        " first), and whether it is current; an out-of-date one is refreshed in the background.",
    )
    def conflicts():
        from orchestra.lookout import look

        ctx = open_context()
        return look(ctx, list(ctx.state.read().values()), reap=True).to_dict()

    @app.get("/api/statuses", summary="The status vocabulary: most urgent first, and what each allows.")
    def statuses():
        from orchestra import lifecycle

        return {
            "order": list(lifecycle.URGENCY),
            "live": sorted(lifecycle.LIVE),
            "sendable": sorted(lifecycle.SENDABLE),
            "mergeable": sorted(lifecycle.MERGEABLE),
            "phrases": lifecycle.PHRASES,
        }

    @app.get("/api/kinds", summary="The agent kinds that can be spawned, and the default one.")
    def kinds():
        ctx = open_context()
        return {"kinds": sorted(ctx.plugins.kinds), "default": ctx.config.orchestra["default_agent"]}

    @app.get("/api/agents/{name}/diff", summary="The agent's changes against its base, uncommitted ones included.")
    def diff(name: str, stat: bool = False):
        from orchestra import remote
        from orchestra.report import agent_diff

        ctx = open_context()
        text = remote.diff(ctx, name, stat=stat) if remote.is_remote(ctx, name) else agent_diff(ctx, name, stat=stat)
        truncated = len(text) > DIFF_LIMIT
        return {"name": name, "diff": text[:DIFF_LIMIT], "truncated": truncated}

    @app.post("/api/agents/{name}/send", summary="Type text into the agent, then Enter.")
    def send(name: str, body: SendBody):
        from orchestra import remote
        from orchestra.sending import send as send_text

        ctx = open_context()
        if remote.is_remote(ctx, name):  # typed into its pane on its host, by the host's own `send`
            status = remote.send(ctx, name, body.text)
            return {"agent": {"name": name, "status": status}, "message": f"sent to {name} (now {status})"}
        agent = send_text(ctx, name, body.text)
        return {"agent": agent.to_dict(), "message": f"sent to {agent.name} (now {agent.status.value})"}

    @app.post("/api/agents/{name}/merge", summary="Integrate the agent's branch into the merge target.")
    def merge(name: str, body: MergeBody):
        from orchestra.merging import merge as merge_agents

        results = merge_agents(open_context(), [name], strategy=body.strategy, check=body.check)
        failed = [r for r in results if not r.ok]
        if failed:
            return JSONResponse({"error": failed[0].message, "results": [asdict(r) for r in results]}, status_code=409)
        return {
            "results": [asdict(r) for r in results],
            "message": "; ".join(f"{r.name}: {r.message}" for r in results),
        }

    @app.post(
        "/api/agents/{name}/kill", summary="Stop and remove the agent; refuses if it has unmerged work, unless force."
    )
    def kill(name: str, body: KillBody):
        from orchestra import remote
        from orchestra.removal import Removed
        from orchestra.removal import kill as kill_agents

        ctx = open_context()
        if remote.is_remote(ctx, name):  # refused as a local kill is; with force, its work fetched here first
            gone = remote.kill(ctx, name, force=body.force)[0]
            every = [Removed(gone["name"], gone.get("saved_ref"), gone.get("not_kept") or [])]
        else:  # with force its children (agents it spawned) go too, as `kill --force` takes them
            every = kill_agents(ctx, [name], force=body.force, children=True if body.force else None)
        removed = next(r for r in every if r.name == name)
        message = f"removed {removed.name}"
        if removed.saved_ref:
            message += f"; its work is kept at {removed.saved_ref} (get it back with: {removed.restore_command})"
        children = [r.name for r in every if r.name != name]
        if children:
            message += f"; and its children {', '.join(children)}"
        return {
            "name": removed.name,
            "saved_ref": removed.saved_ref,
            "restore_command": removed.restore_command,
            "message": message,
        }

    @app.post("/api/spawn", summary="Start an agent on a task, with the web server's environment.")
    def spawn(body: SpawnBody):
        from orchestra.spawning import TaskSpec, spawn_environment
        from orchestra.spawning import spawn as spawn_agents

        spec = TaskSpec(task=body.task, name=body.name or None, agent=body.agent or None, base=body.base or None)
        result = spawn_agents(open_context(), [spec], spawn_environment())
        if result.failures:
            error = {"error": f"could not start {result.failures[0]}", "warnings": result.warnings}
            return JSONResponse(error, status_code=400)
        names = ", ".join(f"{a.name} on {a.branch}" for a in result.agents)
        queued = ", ".join(f"{a.name} on {a.branch}" for a in result.queued)
        return {
            "agents": [a.to_dict() for a in [*result.agents, *result.queued]],
            "warnings": result.warnings,
            "message": f"spawned {names}" if names else f"queued {queued}: it starts when a slot frees",
        }

    @app.get("/api/events", summary="The event log, oldest first; `since` (ISO 8601) keeps only later events.")
    def events(since: str | None = None, limit: int = Query(500, ge=1, le=100_000)):
        found = open_context().state.read_events()
        if since:
            after = _since(since)
            found = [e for e in found if _after(e.get("time"), after)]
        return {"events": found[-limit:]}

    @app.websocket("/api/live")
    async def live(websocket: WebSocket):
        offered = websocket.scope.get("subprotocols", [])
        await websocket.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered else None)
        queue = board.subscribe()
        sender = asyncio.create_task(_forward(queue, websocket))
        try:
            while (await websocket.receive())["type"] != "websocket.disconnect":
                pass  # the page only listens; actions go through the HTTP API
        except WebSocketDisconnect:
            pass
        finally:
            board.unsubscribe(queue)
            sender.cancel()

    return app


async def _forward(queue: asyncio.Queue[str], websocket: WebSocket) -> None:
    # A send to a browser that has gone fails in server-specific ways; the receive loop notices the disconnect.
    with contextlib.suppress(Exception):
        while True:
            await websocket.send_text(await queue.get())


def _since(text: str) -> datetime:
    # An unencoded '+' in a query string arrives as a space.
    text = text.strip().replace(" ", "+").replace("Z", "+00:00")
    try:
        moment = parse_time(text)
    except ValueError:
        raise OrchestraError(f"since={text!r} is not an ISO 8601 time like 2025-01-31T12:00:00+00:00.") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _after(text: Any, moment: datetime) -> bool:  # text: an event's "time", whatever the log holds
    try:
        return parse_time(text) > moment
    except (TypeError, ValueError):
        return False


def _asset(name: str) -> bytes:
    return (resources.files("orchestra.web") / "static" / name).read_bytes()
