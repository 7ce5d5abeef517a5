"""Agents on the project's hosts, as seen from here (`spawn --host`): the asking side of
`orchestra.on_host`.

A remote agent lives on its host exactly as a local one lives here: its worktree, branch, tmux
window, launcher, hooks and state record are the host's. This side keeps a mirror of their records
in `remote.json` in the state folder (each with its `host`), brought up to date by one `ssh` per
host per look, all hosts at once, over each host's shared master connection. A host that does not
answer within `LOOK_TIMEOUT` shows its agents `unreachable` (their last known record otherwise),
and holds up nothing else. A status that changed since the last look is logged in the event log
and told to the notifiers, as a local agent's change is.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from orchestra import files, hosts, lifecycle, worktrees
from orchestra.context import Context
from orchestra.errors import OrchestraError, UnknownAgent
from orchestra.hosts import Host
from orchestra.lead import lead_task
from orchestra.models import Agent

MIRROR = "remote.json"
LOOK_TIMEOUT = 4.0  # seconds a look waits for a host before its agents are shown unreachable
ACT_TIMEOUT = 120.0  # seconds for an action (a spawn, a kill) on a host
UNREACHABLE = "unreachable"


# -- the mirror -------------------------------------------------------------------------------


def records(state_dir: Path) -> dict[str, dict[str, Any]]:
    """The last known record of each remote agent, by name (empty when there are none)."""
    try:
        data = json.loads((state_dir / MIRROR).read_bytes())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def names(ctx: Context) -> set[str]:
    return set(records(ctx.state.dir))


def _lock(ctx: Context) -> Any:
    ctx.state.dir.mkdir(parents=True, exist_ok=True)
    return files.locked(ctx.state.dir / "remote.lock")


def _save(ctx: Context, mirror: dict[str, dict[str, Any]]) -> None:
    files.write_atomic(ctx.state.dir / MIRROR, json.dumps(mirror, indent=1).encode())


def host_named(ctx: Context, name: str) -> Host:
    configured = hosts.configured(ctx.config.hosts)
    if name not in configured:
        known = ", ".join(configured) or "none is configured"
        raise OrchestraError(f"no host named '{name}' ({known}): add a [hosts.{name}] table to orchestra.toml.")
    return configured[name]


def host_of(ctx: Context, name: str) -> Host | None:
    """The host agent `name` runs on, or None for an agent that is not remote."""
    record = records(ctx.state.dir).get(name)
    return host_named(ctx, record["host"]) if record else None


def _ask(ctx: Context, host: Host, op: str, timeout: float = ACT_TIMEOUT, **fields: Any) -> dict[str, Any]:
    clone = hosts.clone_path(host, ctx.project.name)
    return hosts.call(host, {"op": op, "clone": clone, **fields}, timeout)


# -- spawn ------------------------------------------------------------------------------------


def spawn(ctx: Context, host_name: str, specs: list[Any], env: dict[str, str]) -> dict[str, Any]:
    """Start `specs` (TaskSpecs) on the host: the base pushed to its clone, then its orchestra
    spawns them there. Returns the host's answer, its agents' records with their `host`."""
    host = host_named(ctx, host_name)
    if any(spec.no_worktree for spec in specs):
        raise OrchestraError("--no-worktree runs an agent in this checkout: it cannot go to a host.")
    for spec in specs:
        worktrees.check_task(spec.task)
        if spec.name is not None:
            worktrees.check_name(spec.name)
    target = ctx.config.orchestra["base"]
    bases = {spec.base or target for spec in specs}
    commits = {ref: worktrees.resolve_commit(ctx.project, ref) for ref in bases}
    clone = _ask(ctx, host, "clone")["clone"]  # made there if it is not yet
    refs = [f"{commit}:refs/orchestra/bases/{commit}" for commit in set(commits.values())]
    hosts.push(host, ctx.project.root, clone, _target_branches(ctx), extra=refs)
    local = set(ctx.state.read()) | names(ctx)
    tasks = []
    for spec in specs:
        wanted = spec.name or worktrees.slugify(spec.task)
        name, n = wanted, 2
        while name in local:
            name, n = f"{wanted}-{n}", n + 1
        local.add(name)
        task = lead_task(spec.task) if spec.lead else spec.task
        tasks.append({"task": task, "name": name, "agent": spec.agent, "base": commits[spec.base or target]})
    forwarded = {key: env[key] for key in host.forward_env if key in env}
    answer = _ask(
        ctx,
        host,
        "spawn",
        tasks=tasks,
        base=commits[target] if target in commits else next(iter(commits.values())),
        config=_config_for(ctx, host),
        env=forwarded,
    )
    started = [{**record, "host": host.name} for record in answer.get("agents", [])]
    with _lock(ctx):
        mirror = records(ctx.state.dir)
        for record in started:
            mirror[record["name"]] = record
        _save(ctx, mirror)
    ctx.state.append_events(
        [lifecycle.event("spawned", r["name"], {"host": host.name, "task": r["task"]}) for r in started]
    )
    return {**answer, "agents": started}


def _target_branches(ctx: Context) -> list[str]:
    """The merge target, as the host needs it to tell merged work from unmerged (none when it is
    no branch, such as a detached HEAD)."""
    from orchestra.removal import merge_target

    target = merge_target(ctx)
    return [target] if worktrees.branch_exists(ctx.project, target) else []


def _config_for(ctx: Context, host: Host) -> str | None:
    """The project's configuration as the host's orchestra is to read it: this checkout's
    `orchestra.toml` (edited or not), without the hosts, with the host's own `max_running`."""
    from orchestra import config

    path = config.find_project_file(ctx.project.root, ctx.project.root)
    data: dict[str, Any] = config.read_file(path) if path is not None else {}
    data.pop("hosts", None)
    data.setdefault("schedule", {})["max_running"] = host.max_running
    targets = _target_branches(ctx)
    if targets:  # the host's checkout is detached: it is told which branch work is merged into
        data.setdefault("merge", {})["target"] = targets[0]
    orchestra_table = data.get("orchestra")
    if isinstance(orchestra_table, dict):
        orchestra_table.pop("default_host", None)
    import tomli_w

    return tomli_w.dumps(data)


def place(ctx: Context, count: int) -> list[str]:
    """Where `--host auto` puts each of `count` new agents: on the host (this machine, "local",
    included) with the most free slots (its `max_running`, or `[schedule] max_running` here, less
    the agents holding one there; no cap counts as many), then the fewest agents at work, then
    here first. Hosts that do not answer now get none; each agent placed counts for the next."""
    from orchestra.reconcile import observe
    from orchestra.statuses import SLOT_HOLDERS

    configured = hosts.configured(ctx.config.hosts)
    found = rows(ctx)  # every host that runs agents of this project, asked at once
    answered = {r["host"] for r in found if r.get("status") != UNREACHABLE}
    asked = {r["host"] for r in found}
    holding = {"local": sum(1 for a in observe(ctx) if a.status.value in SLOT_HOLDERS)}
    caps = {"local": int(ctx.config.schedule.get("max_running") or 0)}
    for name, host in configured.items():
        if name in answered or (name not in asked and _answers(ctx, host)):
            caps[name] = host.max_running
            holding[name] = sum(1 for r in found if r["host"] == name and r.get("status") in SLOT_HOLDERS)
    chosen = []
    for _ in range(count):

        def free(name: str) -> float:
            return caps[name] - holding[name] if caps[name] else float("inf")

        best = max(caps, key=lambda name: (free(name), -holding[name], name == "local"))
        holding[best] += 1
        chosen.append(best)
    return chosen


def _answers(ctx: Context, host: Host) -> bool:
    """Whether the host's orchestra answers now (within a look's time)."""
    try:
        _ask(ctx, host, "hello", timeout=LOOK_TIMEOUT)
    except OrchestraError:
        return False
    return True


# -- looking ----------------------------------------------------------------------------------


def rows(ctx: Context, timeout: float = LOOK_TIMEOUT) -> list[dict[str, Any]]:
    """Every remote agent's row as `ls --json` shows it, asked of its host now: one `ssh` per
    host, all at once. A host that does not answer in `timeout` shows its agents `unreachable`."""
    mirror = records(ctx.state.dir)
    if not mirror:
        return []
    wanted = sorted({r["host"] for r in mirror.values()})
    configured = hosts.configured(ctx.config.hosts)
    answers: dict[str, dict[str, Any] | str] = {}

    def ask(name: str) -> None:
        if name not in configured:
            answers[name] = f"host '{name}' is no longer configured"
            return
        try:
            answers[name] = _ask(ctx, configured[name], "ls", timeout=timeout)
        except OrchestraError as error:
            answers[name] = str(error)

    if len(wanted) == 1:
        ask(wanted[0])
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(len(wanted), 16)) as pool:
            list(pool.map(ask, wanted))
    found: list[dict[str, Any]] = []
    events: list[tuple[str, str, dict[str, Any]]] = []
    with _lock(ctx):
        mirror = records(ctx.state.dir)  # as it is now, under the lock
        kept: dict[str, dict[str, Any]] = {}
        for name, record in sorted(mirror.items()):
            answer = answers.get(record["host"])
            if isinstance(answer, dict):
                fresh = {r["name"]: r for r in answer.get("agents", []) if isinstance(r, dict) and "name" in r}
                if name not in fresh:
                    continue  # gone from its host (removed there): gone from here
                row = {**fresh[name], "host": record["host"]}
                kept[name] = row
                if row.get("status") != record.get("status"):
                    events.append(_status_event(row, record.get("status")))
            else:
                # Shown unreachable; the mirror keeps the status it was last seen in, so that its
                # host's return is news only when that changed meanwhile. Told once.
                row = {**record, "status": UNREACHABLE, "error": answer or "not asked"}
                row.pop("unreachable", None)
                kept[name] = {**record, "unreachable": row["error"]}
                if not record.get("unreachable"):
                    events.append(_status_event(row, record.get("status")))
            found.append(row)
        if kept != mirror:
            _save(ctx, kept)
    lifecycle.seen_on_hosts(ctx.state, events)
    return found


def rows_soon(ctx: Context) -> Callable[[], list[dict[str, Any]]]:
    """`rows`, asked in a thread now and waited for when called: no thread, and no wait, when
    the project has no remote agents."""
    if not (ctx.state.dir / MIRROR).exists() or not records(ctx.state.dir):
        return list
    import threading

    found: list[list[dict[str, Any]]] = []
    thread = threading.Thread(target=lambda: found.append(rows(ctx)), daemon=True)
    thread.start()

    def wait() -> list[dict[str, Any]]:
        thread.join()
        return found[0] if found else []

    return wait


def _status_event(row: dict[str, Any], before: str | None) -> tuple[str, str, dict[str, Any]]:
    data = {"host": row["host"], "from": before}
    for key in ("exit_code", "error", "waiting_for", "last_message"):
        if row.get(key) is not None:
            data[key] = row[key]
    return row["name"], row["status"], data


def agents_of(found: list[dict[str, Any]]) -> list[Agent]:
    """Rows as Agents, for the table and the board (an unknown status shows as `lost`)."""
    from orchestra.models import Status

    agents = []
    for row in found:
        status = row.get("status")
        agent = Agent.from_dict({**row, "status": status if status in Status._value2member_map_ else "lost"})
        agent.host = row["host"]
        agents.append(agent)
    return agents


# -- acting on one ----------------------------------------------------------------------------


def send(ctx: Context, name: str, text: str) -> str:
    host = _host_or_unknown(ctx, name)
    return str(_ask(ctx, host, "send", name=name, text=text)["status"])


def logs(ctx: Context, name: str, lines: int | None) -> list[str]:
    host = _host_or_unknown(ctx, name)
    return list(_ask(ctx, host, "logs", name=name, lines=lines)["lines"])


def diff(ctx: Context, name: str, stat: bool = False) -> str:
    """The agent's changes against its base, uncommitted ones included, as its host's `diff` shows them."""
    host = _host_or_unknown(ctx, name)
    return str(_ask(ctx, host, "diff", name=name, stat=stat)["diff"])


def _names_by_host(ctx: Context) -> dict[str, list[str]]:
    """The remote agents' names, by the host they run on."""
    by_host: dict[str, list[str]] = {}
    for name, record in records(ctx.state.dir).items():
        by_host.setdefault(record["host"], []).append(name)
    return by_host


def reports(ctx: Context) -> tuple[list[dict[str, Any]], list[str]]:
    """Each remote agent's report (`orchestra report`), asked of its host; and a sentence for each
    host that did not answer."""
    by_host = _names_by_host(ctx)
    found: list[dict[str, Any]] = []
    problems: list[str] = []
    for host_name, wanted in sorted(by_host.items()):
        try:
            answer = _ask(ctx, host_named(ctx, host_name), "report", timeout=LOOK_TIMEOUT * 4, names=wanted)
        except OrchestraError as error:
            problems.append(f"no report of {', '.join(sorted(wanted))}: {error}")
            continue
        found.extend({**item, "host": host_name} for item in answer.get("reports", []))
    return found, problems


def kill(ctx: Context, name: str, force: bool) -> list[dict[str, Any]]:
    """Remove the agent on its host, refusing as a local kill does; with `force`, its work is kept
    on a trash ref on the host and fetched here into `refs/orchestra/trash/` before it goes."""
    host = _host_or_unknown(ctx, name)
    # The host judges what is merged against its copy of the target: bring it up to date first.
    hosts.push(host, ctx.project.root, hosts.clone_path(host, ctx.project.name), _target_branches(ctx))
    answer = _ask(ctx, host, "kill", names=[name], force=force)
    removed = list(answer["removed"])
    saved = [r["saved_ref"] for r in removed if r.get("saved_ref")]
    if saved:
        clone = hosts.clone_path(host, ctx.project.name)
        hosts.fetch(host, ctx.project.root, clone, [f"+{ref}:{ref}" for ref in saved])
    _forget(ctx, host, [r["name"] for r in removed])
    return removed


def clean(ctx: Context, force: bool = False) -> tuple[list[dict[str, Any]], list[str]]:
    """`clean` on every host that runs agents of this project: finished agents whose work is merged
    (into the target as it is here, pushed first) or empty go; with `force`, the others too, their
    work fetched here onto `refs/orchestra/trash/`. Returns what went, and why each other was kept."""
    by_host = _names_by_host(ctx)
    removed: list[dict[str, Any]] = []
    kept: list[str] = []
    for host_name, names_there in sorted(by_host.items()):
        try:
            host = host_named(ctx, host_name)
            clone = hosts.clone_path(host, ctx.project.name)
            hosts.push(host, ctx.project.root, clone, _target_branches(ctx))
            answer = _ask(ctx, host, "clean", names=names_there, force=force)
        except OrchestraError as error:
            kept.append(f"the agents on host '{host_name}' ({', '.join(sorted(names_there))}): {error}")
            continue
        gone = list(answer.get("removed", []))
        saved = [r["saved_ref"] for r in gone if r.get("saved_ref")]
        if saved:
            hosts.fetch(host, ctx.project.root, clone, [f"+{ref}:{ref}" for ref in saved])
        _forget(ctx, host, [r["name"] for r in gone])
        removed.extend(gone)
        kept.extend(f"{line} (on host '{host_name}')" for line in answer.get("kept", []))
    return removed, kept


def _forget(ctx: Context, host: Host, gone: list[str]) -> None:
    with _lock(ctx):
        mirror = records(ctx.state.dir)
        for name in gone:
            mirror.pop(name, None)
        _save(ctx, mirror)
    ctx.state.append_events([lifecycle.event("killed", name, {"host": host.name}) for name in gone])


def resume(ctx: Context, name: str, env: dict[str, str]) -> dict[str, Any]:
    host = _host_or_unknown(ctx, name)
    forwarded = {key: env[key] for key in host.forward_env if key in env}
    return _ask(ctx, host, "resume", names=[name], env=forwarded)


def attach_argv(ctx: Context, name: str) -> list[str]:
    """`ssh -t` to the host, whose orchestra puts the terminal on the agent's window
    (`_remote-attach`). Its words are constant but for the clone's path in base64 and the
    agent's name, which the name rule keeps to letters, digits, `-`, `_` and `.`."""
    import base64

    host = _host_or_unknown(ctx, name)
    worktrees.check_name(name)
    clone = base64.b64encode(hosts.clone_path(host, ctx.project.name).encode()).decode()
    argv = hosts.ssh_argv(host, [*hosts.REMOTE_ATTACH, clone, name])
    return [argv[0], "-t", *argv[1:]]


def follow_argv(ctx: Context, name: str, lines: int) -> list[str]:
    """`ssh` to the host, whose orchestra prints the agent's screen and then its new lines as they
    come (`_remote-follow`), until the agent's pane goes or this end is interrupted. Its words are
    constant but for the clone's path in base64, the agent's name (see `attach_argv`) and a number."""
    import base64

    host = _host_or_unknown(ctx, name)
    worktrees.check_name(name)
    clone = base64.b64encode(hosts.clone_path(host, ctx.project.name).encode()).decode()
    return hosts.ssh_argv(host, [*hosts.REMOTE_FOLLOW, clone, name, str(int(lines))])


def _host_or_unknown(ctx: Context, name: str) -> Host:
    host = host_of(ctx, name)
    if host is None:
        raise UnknownAgent.named(name)
    return host


def is_remote(ctx: Context, name: str) -> bool:
    return name in records(ctx.state.dir)
