"""The host's side of a remote agent (`_remote`): what a host's orchestra does when the machine
that spawned its agents asks, over `ssh` (`orchestra.remote` is the asking side).

A request is one JSON object on standard input, `{"op": ..., "clone": ..., ...}`; the answer is one
JSON object on standard output, `{"ok": true, ...}`, or `{"ok": false, "error": "one sentence"}`.
Task texts, names and forwarded variables travel only there, never on a command line, and a
forwarded variable is written to no file but the agent's launch file, which its launcher reads
and removes as it starts.

The project on a host is the clone `orchestra hosts setup` made: a checkout whose HEAD is
detached at the base the agents start from, with the asking side's `orchestra.toml` beside it
(its own copy, for the host: its `[schedule] max_running` is the host's). Every operation runs the
same use case a command run on the host would: the host keeps its own state, hooks and tmux
session, exactly as for a local agent.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from orchestra.errors import OrchestraError


def main(argv: list[str]) -> int:
    try:
        request = json.loads(sys.stdin.buffer.read() or b"{}")
        if not isinstance(request, dict) or request.get("op") not in OPS:
            raise OrchestraError(
                "the request names no operation this orchestra knows: upgrade it with `orchestra hosts setup`."
            )
        answer = OPS[request["op"]](request)
    except OrchestraError as error:
        answer = {"ok": False, "error": str(error)}
    except Exception as error:  # noqa: BLE001 - the asking side must get a sentence, never a traceback
        answer = {"ok": False, "error": f"the host's orchestra failed: {type(error).__name__}: {error}"}
    sys.stdout.write(json.dumps({"ok": True, **answer} if "ok" not in answer else answer))
    sys.stdout.flush()
    return 0


def _clone(request: dict[str, Any]) -> Path:
    clone = Path(request["clone"])
    return clone if clone.is_absolute() else Path.home() / clone


def _context(request: dict[str, Any]) -> Any:
    from orchestra.context import Context

    clone = _clone(request)
    if not (clone / ".git").exists():
        raise OrchestraError(f"the host has no project clone at {clone}: run `orchestra hosts setup` for it first.")
    return Context.open(clone)


def _spawn(request: dict[str, Any]) -> dict[str, Any]:
    from orchestra import git
    from orchestra.spawning import TaskSpec, spawn, spawn_environment

    clone = _clone(request)
    # The clone's own checkout is orchestra's, never a person's: it follows the base it is asked for.
    git.run(["checkout", "--quiet", "--force", "--detach", request["base"]], clone)
    if request.get("config") is not None:
        from orchestra.files import write_atomic

        write_atomic(clone / "orchestra.toml", request["config"].encode())
    ctx = _context(request)
    env = spawn_environment()
    env.update(request.get("env") or {})
    specs = [TaskSpec(**spec) for spec in request["tasks"]]
    result = spawn(ctx, specs, env)
    return {
        "agents": [a.to_dict() for a in [*result.agents, *result.queued]],
        "failures": result.failures,
        "warnings": result.warnings,
    }


def _clone_op(request: dict[str, Any]) -> dict[str, Any]:
    """Make the project's clone if it is not there yet (as `orchestra hosts setup` does), so that
    the asking side can push to it: a checkout whose HEAD is on a branch no push names."""
    from orchestra import git

    clone = _clone(request)
    if not clone.exists():
        clone.mkdir(parents=True)
        git.run(["init", "--quiet"], clone)
        git.run(["symbolic-ref", "HEAD", "refs/heads/orchestra-host-checkout"], clone)
    elif not (clone / ".git").exists():
        raise OrchestraError(
            f"{clone} on the host is not a project clone of orchestra's: set the host's path to another folder."
        )
    return {"clone": str(clone)}


def _ls(request: dict[str, Any]) -> dict[str, Any]:
    from orchestra.listing import rows

    ctx = _context(request)
    return {"agents": rows(ctx)}


def _send(request: dict[str, Any]) -> dict[str, Any]:
    from orchestra.sending import send

    agent = send(_context(request), request["name"], request["text"])
    return {"status": agent.status.value}


def _logs(request: dict[str, Any]) -> dict[str, Any]:
    from orchestra.follow import agent_screen

    lines = request.get("lines")
    return {"lines": agent_screen(_context(request), request["name"], lines).lines}


def _kill(request: dict[str, Any]) -> dict[str, Any]:
    from orchestra.removal import kill

    removed = kill(_context(request), list(request["names"]), force=bool(request.get("force")))
    return {"removed": [{"name": r.name, "saved_ref": r.saved_ref, "not_kept": r.not_kept} for r in removed]}


def _clean(request: dict[str, Any]) -> dict[str, Any]:
    """`clean` on the host, for the asking side's agents only (`names`)."""
    from orchestra.removal import clean

    ctx = _context(request)
    wanted = set(request.get("names") or [])
    records = ctx.state.read()
    others = [name for name in records if name not in wanted]
    if others:  # agents the asking side does not know of are never touched from there
        raise OrchestraError(f"the host's clone has agents this machine does not know ({', '.join(sorted(others))}).")
    removed, kept = clean(ctx, force=bool(request.get("force")))
    return {
        "removed": [{"name": r.name, "saved_ref": r.saved_ref, "not_kept": r.not_kept} for r in removed],
        "kept": kept,
    }


def _resume(request: dict[str, Any]) -> dict[str, Any]:
    from orchestra.resuming import resume
    from orchestra.spawning import spawn_environment

    env = spawn_environment()
    env.update(request.get("env") or {})
    result = resume(_context(request), list(request["names"]), env)
    return {
        "resumed": [{"name": r.agent.name, "continued": r.continued} for r in result.resumed],
        "skipped": result.skipped,
        "warnings": result.warnings,
    }


def _diff(request: dict[str, Any]) -> dict[str, Any]:
    from orchestra.report import agent_diff

    return {"diff": agent_diff(_context(request), request["name"], stat=bool(request.get("stat")))}


def _report(request: dict[str, Any]) -> dict[str, Any]:
    from orchestra.report import report

    wanted = set(request.get("names") or [])
    return {"reports": [r.to_dict() for r in report(_context(request)) if r.name in wanted]}


def _hello(request: dict[str, Any]) -> dict[str, Any]:
    """Whether this orchestra answers, and which it is."""
    from orchestra import __version__

    return {"version": __version__}


OPS = {
    "hello": _hello,
    "clone": _clone_op,
    "diff": _diff,
    "report": _report,
    "spawn": _spawn,
    "ls": _ls,
    "send": _send,
    "logs": _logs,
    "kill": _kill,
    "clean": _clean,
    "resume": _resume,
}


def attach_main(argv: list[str]) -> int:
    """`_remote-attach CLONE_BASE64 NAME`, run by `ssh -t`: this terminal onto the agent's window."""
    import base64

    try:
        if len(argv) != 2:
            raise OrchestraError("usage: _remote-attach CLONE_BASE64 NAME")
        from orchestra.attaching import place_of

        ctx = _context({"clone": base64.b64decode(argv[0]).decode()})
        place = place_of(ctx, argv[1])
        ctx.tmux.select_window(place.window, place.pane)
        ctx.tmux.attach(ctx.session)
    except OrchestraError as error:
        print(f"orchestra: {error}", file=sys.stderr)
        return 1
    return 0


def follow_main(argv: list[str]) -> int:
    """`_remote-follow CLONE_BASE64 NAME LINES`, run by `ssh`: the agent's last LINES lines, then each
    new line as it appears (`orchestra logs --follow` of a remote agent)."""
    import base64

    try:
        if len(argv) != 3 or not argv[2].isdigit():
            raise OrchestraError("usage: _remote-follow CLONE_BASE64 NAME LINES")
        from orchestra.follow import agent_screen, follow_screen

        ctx = _context({"clone": base64.b64decode(argv[0]).decode()})
        lines = max(1, int(argv[2]))
        screen = agent_screen(ctx, argv[1], None)
        for line in screen.lines[-lines:]:
            print(line, flush=True)
        for line in follow_screen(ctx, screen):
            print(line, flush=True)
    except OrchestraError as error:
        print(f"orchestra: {error}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, BrokenPipeError):  # the other end stopped following
        return 0
    return 0
