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
from orchestra.state import REMOTE_MIRROR

LOOK_TIMEOUT = 4.0  # seconds a look waits for a host before its agents are shown unreachable
ACT_TIMEOUT = 120.0  # seconds for an action (a spawn, a kill) on a host
UNREACHABLE = "unreachable"


# -- the mirror -------------------------------------------------------------------------------


def records(state_dir: Path) -> dict[str, dict[str, Any]]:
    """The last known record of each remote agent, by name (empty when there are none)."""
    try:
        data = json.loads((state_dir / REMOTE_MIRROR).read_bytes())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def names(ctx: Context) -> set[str]:
    return set(records(ctx.state.dir))


def _lock(ctx: Context) -> Any:
    ctx.state.dir.mkdir(parents=True, exist_ok=True)
    return files.locked(ctx.state.dir / "remote.lock")


def _save(ctx: Context, mirror: dict[str, dict[str, Any]]) -> None:
    files.write_atomic(ctx.state.dir / REMOTE_MIRROR, json.dumps(mirror, indent=1).encode())


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
    if not ctx.state.has_remote() or not records(ctx.state.dir):
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
            record = mirror.pop(name, None)
            _drop_fetched(ctx, name, record.get("branch") if record else None)
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


# -- merging, forecasting and syncing: the work fetched here ----------------------------------

FETCH_REF = "refs/orchestra/fetch/"  # on a host: an agent's work as a commit, for this side to fetch
REMOTE_REFS = "refs/orchestra/remote/"  # here: <name>/branch (its branch as last fetched), <name>/work


def fetch_work(ctx: Context, agents: list[Agent]) -> tuple[dict[str, str], list[str]]:
    """Each agent's work (on a host), fetched here as the commit that stands for it in a forecast:
    its branch tip, or a commit of its uncommitted work on top of its worktree's HEAD that its
    host made without touching the worktree, its index or its branch. Kept here at
    `refs/orchestra/remote/<name>/work`. Returns the commits by name, and a sentence for each
    host that did not give them (its agents are left out)."""
    by_host: dict[str, list[str]] = {}
    for agent in agents:
        if agent.host is not None:
            by_host.setdefault(agent.host, []).append(agent.name)
    found: dict[str, str] = {}
    problems: list[str] = []
    for host_name, wanted in sorted(by_host.items()):
        try:
            host = host_named(ctx, host_name)
            refs = _ask(ctx, host, "snapshot", timeout=LOOK_TIMEOUT * 4, names=wanted)["refs"]
            fetched = {name: f"{REMOTE_REFS}{name}/work" for name, ref in refs.items() if ref}
            if fetched:
                clone = hosts.clone_path(host, ctx.project.name)
                # The refs named here, not as the host spelled them: its answer only says which exist.
                hosts.fetch(host, ctx.project.root, clone, [f"+{FETCH_REF}{n}:{ref}" for n, ref in fetched.items()])
        except OrchestraError as error:
            problems.append(f"the work of {', '.join(sorted(wanted))} was not fetched: {error}")
            continue
        for name, ref in fetched.items():
            found[name] = _commit_of(ctx, ref) or ""
    return {name: commit for name, commit in found.items() if commit}, problems


def bring_to_merge(ctx: Context, agent: Agent, target: str) -> tuple[str | None, dict[str, Any]]:
    """Make the agent's branch here hold all its work, as a merge takes it: on its host, its
    uncommitted work is committed on its branch (as a merge does here for a local agent), then
    the branch is fetched onto the branch of the same name here. Returns the commit made of the
    uncommitted work (or None) and the agent's report as its host gives it. MergeFailed, with
    the host's sentence, when the host refuses or does not answer; nothing is lost either way:
    what the host commits stays on its branch there."""
    from orchestra.errors import MergeFailed

    # Only the branch an agent of this name has: never the target or another branch of here.
    expected = ctx.config.orchestra["branch_prefix"] + agent.name
    if agent.branch != expected or agent.branch in _target_branches(ctx):
        raise MergeFailed(
            f"its branch on host '{agent.host}' is {agent.branch}, not {expected}, so it is not fetched here: "
            "merge it on the host, or look at it with `orchestra diff`."
        )
    try:
        host = host_named(ctx, agent.host or "")
        clone = hosts.clone_path(host, ctx.project.name)
        hosts.push(host, ctx.project.root, clone, _target_branches(ctx))
        answer = _ask(ctx, host, "prepare", name=agent.name)
        marker = f"{REMOTE_REFS}{agent.name}/branch"
        before = _commit_of(ctx, marker)
        hosts.fetch(host, ctx.project.root, clone, [f"+refs/heads/{agent.branch}:{marker}"])
    except OrchestraError as error:
        raise MergeFailed(str(error)) from None
    _update_branch(ctx, agent, before, _commit_of(ctx, marker))
    return answer.get("committed"), dict(answer["report"])


def _update_branch(ctx: Context, agent: Agent, before: str | None, new: str | None) -> None:
    """Move the branch here that mirrors the agent's (on its host) to `new`: made if missing,
    moved if it is still where the last fetch left it or `new` contains it; never when it holds
    commits of someone else's, or is checked out somewhere."""
    from orchestra import git
    from orchestra.errors import MergeFailed

    ref = f"refs/heads/{agent.branch}"
    current = _commit_of(ctx, ref)
    if new is None or current == new:
        return
    if current is not None:
        held = any(branch == agent.branch for branch in worktrees.registered_worktrees(ctx.project).values())
        moves = current == before or git.succeeds(["merge-base", "--is-ancestor", current, new], ctx.project.root)
        if held or not moves:
            why = "is checked out here" if held else "has commits the agent's branch on its host lacks"
            raise MergeFailed(
                f"the branch {agent.branch} here {why}, so the agent's branch from host '{agent.host}' "
                "cannot be fetched onto it: rename or remove that branch here, and merge again."
            )
    result = git.run(["update-ref", ref, new, current or ""], ctx.project.root, check=False)
    if result.returncode != 0:
        raise MergeFailed(f"the branch {agent.branch} here moved meanwhile: merge again.")


def _commit_of(ctx: Context, ref: str) -> str | None:
    from orchestra import git

    found = git.run(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], ctx.project.root, check=False)
    return found.stdout.strip() if found.returncode == 0 else None


def record_merge(ctx: Context, agent: Agent, result: Any) -> None:
    """Tell the agent's host what its merge here did (its status there becomes `merged`, or its
    pull request is recorded), and log the outcome here. A host that does not answer now is
    named in the result's message: the merge itself is done."""
    from orchestra.models import Event

    try:
        host = host_named(ctx, agent.host or "")
        _ask(ctx, host, "merged", name=agent.name, outcome=result.outcome, message=result.message, url=result.url)
    except OrchestraError as error:
        result.message += f" (its host was not told: {error})"
    outcome = {"outcome": result.outcome, "message": result.message, "url": result.url, "host": agent.host}
    ctx.state.append_events([Event("merged", agent=agent.name, data=outcome)])


def sync(ctx: Context, names: list[str], every: bool) -> list[dict[str, Any]]:
    """`sync` on the hosts: the named agents (with `every`, every one not working) brought up to
    date with the target as it is here (pushed to each host first), in their worktrees there."""
    by_host = _names_by_host(ctx)
    chosen = set(names)
    found: list[dict[str, Any]] = []
    for host_name, there in sorted(by_host.items()):
        wanted = sorted(there) if every else sorted(chosen & set(there))
        if not wanted:
            continue
        try:
            host = host_named(ctx, host_name)
            hosts.push(host, ctx.project.root, hosts.clone_path(host, ctx.project.name), _target_branches(ctx))
            answer = _ask(ctx, host, "sync", names=wanted, every=every)
        except OrchestraError as error:
            found.extend(
                {"name": n, "ok": False, "message": str(error), "conflicts": [], "committed": None} for n in wanted
            )
            continue
        found.extend(answer["synced"])
    return found


def _drop_fetched(ctx: Context, name: str, branch: str | None) -> None:
    """An agent gone from its host: what was fetched of it here goes too, the branch that mirrored
    its branch only while it is still exactly what was fetched (its work is merged, or was kept
    on a trash ref by the removal)."""
    from orchestra import git

    marker = f"{REMOTE_REFS}{name}/branch"
    fetched = _commit_of(ctx, marker)
    if branch and fetched and _commit_of(ctx, f"refs/heads/{branch}") == fetched:
        held = any(b == branch for b in worktrees.registered_worktrees(ctx.project).values())
        if not held:
            git.run(["update-ref", "-d", f"refs/heads/{branch}", fetched], ctx.project.root, check=False)
    for ref in (marker, f"{REMOTE_REFS}{name}/work"):
        git.run(["update-ref", "-d", ref], ctx.project.root, check=False)
