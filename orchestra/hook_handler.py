"""The agent hook handler: what an agent CLI runs on each of its hook events.

`python -I -S orchestra/hook_start.py --state-dir DIR [--from-file FILE] NAME [PAYLOAD]` (or
`python -m orchestra _hook ...`, as agents spawned by older versions run it) takes one event of
the agent CLI's own (as PAYLOAD, or as JSON on stdin), appends it to the event log and moves
the agent's status. With `--from-file`, FILE (the file of the agent kind's `hook_translator`;
`--from MODULE` names the module instead) turns the CLI's payload into orchestra's hook event
(`orchestra.lifecycle.HOOK_EVENTS`, docs/plugins.md); without it, the payload is orchestra's
hook event already. The status moves through the lifecycle's one path, which also tells the
notifiers.

It runs on every event, so it starts with as little as it can: no site module
(`orchestra.hook_start`), the standard library, `orchestra.state` and `orchestra.lifecycle`,
working on records as plain JSON objects. The translator module is loaded from its file without
running its package's `__init__` (which loads the plugin machinery), so it must import only the
standard library. The handler never
blocks or fails the agent: any problem is written to the event log and it exits 0.
"""

from __future__ import annotations

import os
import sys

from orchestra import cjson, lifecycle
from orchestra.state import State

# `typing.TYPE_CHECKING` without importing typing, on the hook handler's path (mypy reads it as True)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from types import ModuleType
    from typing import Any

USAGE = "usage: python -I -S orchestra/hook_start.py --state-dir DIR [--from-file FILE | --from MODULE] NAME [PAYLOAD]"
TEXT_LIMIT = 2000  # characters kept of each string in a logged payload


def _trimmed(value: Any) -> Any:
    """The payload as logged: long strings cut (a Write's whole file content is not news)."""
    if isinstance(value, str):
        return value if len(value) <= TEXT_LIMIT else value[:TEXT_LIMIT] + "…"
    if isinstance(value, dict):
        return {k: _trimmed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_trimmed(v) for v in value[:50]]
    return value


class TranslatorFile(str):
    """A translator's file, as `--from-file` names it: a path, told apart from a module's name
    without pathlib (which the handler's start does without)."""


def translator_file(module: str) -> Path:
    """The file of `module` (say `orchestra_claude.hooks`), found without running its package's
    `__init__`: spawn puts it in the hook command, so the handler needs no import path for plugins."""
    import importlib.util
    from pathlib import Path

    top, _, rest = module.partition(".")
    spec = importlib.util.find_spec(top)  # a top-level name is found, not run
    if spec is None:
        raise ImportError(f"no module named {top!r}")
    if not rest:
        if spec.origin is None or not spec.origin.endswith(".py"):
            raise ImportError(f"the module {module!r} is not a Python file")
        return Path(spec.origin)
    for folder in spec.submodule_search_locations or []:
        path = Path(folder, *rest.split(".")).with_suffix(".py")
        if path.is_file():
            return path
    raise ImportError(f"no module named {module!r}")


def load_translator(translator: str | os.PathLike[str]) -> ModuleType:
    """A translator module, loaded from its file (a `TranslatorFile` or a path) or found by its
    module name (a plain `str`, as agents spawned before `--from-file` name it), never through its
    package's `__init__`."""
    # importlib.machinery, not importlib.util (whose import, with contextlib and functools, takes
    # ~3 ms of the handler's start): the loader runs the file's cached bytecode into a new module.
    from importlib.machinery import ModuleSpec, SourceFileLoader

    is_file = isinstance(translator, (TranslatorFile, os.PathLike))
    # A plain str: a str subclass would become the code's file name, which marshal cannot write
    # into the module's cached bytecode ("unmarshallable object"), and the import would fail.
    path = str(os.fspath(translator)) if is_file else str(translator_file(str(translator)))
    name = f"orchestra_translator_{os.path.splitext(os.path.basename(path))[0]}"
    loader = SourceFileLoader(name, path)
    loaded: ModuleType = type(sys)(name)  # a new module (`types.ModuleType`, without importing types)
    loaded.__file__, loaded.__loader__ = path, loader
    loaded.__spec__ = ModuleSpec(name, loader, origin=path)
    loader.exec_module(loaded)
    return loaded


def handle(
    state: State, name: str, raw: bytes, translator: str | os.PathLike[str] | None = None
) -> dict[str, Any] | None:
    """Log one hook event and apply it; returns the status event if the status changed."""
    try:
        payload = cjson.loads(raw)
        if not isinstance(payload, dict):
            raise ValueError("not a JSON object")
    except ValueError as error:
        state.append_events([lifecycle.event("hook-error", name, {"message": f"unreadable hook event: {error}"})])
        return None
    translated = load_translator(translator).translate(payload) if translator else payload
    translated = translated if isinstance(translated, dict) else {}
    signal = translated.get("event")
    if signal is not None and signal not in lifecycle.HOOK_EVENTS:
        problem = f"unknown hook event {signal!r}: orchestra's hook events are {', '.join(lifecycle.HOOK_EVENTS)}"
        state.append_events([lifecycle.event("hook-error", name, {"message": problem})])
        return None
    if signal == "limited":  # rare: orchestra.toml says what a limit does (`orchestra.limits`)
        from orchestra import limits

        translated = limits.prepare(state, translated)
    hook = str(translated.get("hook") or signal or "unknown")
    logged = lifecycle.event("hook", name, {"hook": hook, **_trimmed(payload)})
    changed, wanted = None, None
    with state.update_raw() as agents:
        agent = agents.get(name)
        if agent is not None:
            wanted = lifecycle.listened(agent)  # no notifier process for an event no plugin acts on
        if agent is None:
            logged["data"]["problem"] = "no agent of this name is recorded"
        elif agent.get("status") in lifecycle.HOOK_MOVABLE:
            agent["last_hook"] = hook
            agent["updated_at"] = logged["time"]
            if signal is not None:
                changed = lifecycle.apply_to(agents, name, signal, translated, {"hook": hook})
    # reap=False: this process ends now.
    lifecycle.publish(state, [logged] + ([changed] if changed else []), reap=False, listened=wanted)
    return changed


def _parse(argv: list[str]) -> tuple[State, str | None, str, str | None] | None:
    if len(argv) < 3 or argv[0] != "--state-dir":
        return None
    state, rest = State(argv[1]), argv[2:]
    translator: str | None = None
    if rest[0] in ("--from", "--from-file") and len(rest) >= 2:
        translator = rest[1] if rest[0] == "--from" else TranslatorFile(rest[1])
        rest = rest[2:]
    if len(rest) not in (1, 2):
        return None
    return state, translator, rest[0], (rest[1] if len(rest) == 2 else None)


def main(argv: list[str]) -> int:
    """Entry point for `_hook`: always exits 0, so the agent is never held up or failed."""
    parsed = _parse(argv)
    if parsed is None:
        print(USAGE, file=sys.stderr)
        return 0
    state, translator, name, payload = parsed
    try:
        handle(
            state,
            name,
            payload.encode("utf-8", "surrogateescape") if payload is not None else sys.stdin.buffer.read(),
            translator,
        )
    except Exception as error:  # noqa: BLE001 - a hook handler must never fail the agent
        try:
            state.append_events([lifecycle.event("hook-error", name, {"message": f"{type(error).__name__}: {error}"})])
        except Exception:  # noqa: BLE001 - not even the log may fail it
            pass
    return 0


def notify(argv: list[str]) -> int:
    """Entry point for `_notify` (started by `lifecycle.publish`): the notifier plugins, with each
    status event in order, in a process of their own; with `--forecast`, first the start of a
    conflict forecast refresh (`_forecast`)."""
    import contextlib

    if len(argv) not in (3, 4) or argv[0] != "--state-dir" or argv[3:] not in ([], ["--forecast"]):
        return 2
    if argv[3:]:  # asked by the hook handler, which has ended by now (not niced: it was not before)
        lifecycle.forecast_in_background(State(argv[1]), reap=False)
    # Below the agents: a spawn of ten starts ten of these (one per `running`) while its
    # launchers still start, and loading the plugins costs more than a launcher's whole work.
    with contextlib.suppress(OSError):
        os.nice(10)
    state = State(argv[1])
    try:
        from pathlib import Path

        from orchestra.context import Context
        from orchestra.models import Agent, Event

        payload = cjson.loads(argv[2])
        events = [
            Event(**{k: e[k] for k in ("type", "agent", "status", "data", "time") if k in e})
            for e in (payload if isinstance(payload, list) else [payload])
        ]
        records = state.read()
        first = records.get(events[0].agent or "") if events else None
        where = Path(first.worktree) if first is not None and Path(first.worktree).is_dir() else state.dir.parent.parent
        ctx = Context.open(where)
        away = None
        for one in events:
            agent = records.get(one.agent or "")
            if agent is None and one.agent and (one.data or {}).get("host"):
                from orchestra.remote import records as remote_records

                away = remote_records(state.dir) if away is None else away
                agent = Agent.from_dict(away[one.agent]) if one.agent in away else None
            ctx.plugins.call("notifier", event=one, agent=agent, config=ctx.config)
        problems = ctx.plugins.problems
    except Exception as error:  # noqa: BLE001 - nobody watches this process
        problems = [f"notifiers could not run: {error}"]
    if problems:
        with contextlib.suppress(OSError):  # its state folder gone (the repository deleted meanwhile)
            state.append_events([lifecycle.event("plugin-error", None, {"message": p}) for p in problems])
    return 0
