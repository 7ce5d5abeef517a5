"""`orchestra doctor`: check the tools and compare state with reality; repair what is safe."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from orchestra import git, integrate, tmux, trash, worktrees
from orchestra.context import Context
from orchestra.errors import OrchestraError
from orchestra.models import Agent, Check, Status
from orchestra.reconcile import observe
from orchestra.worktrees import BROKEN

MIN_TMUX = (3, 0)  # new-window -e and commands given as separate arguments
MIN_GIT = (2, 25)


def _version(text: str | None) -> tuple[int, ...] | None:
    found = re.search(r"(\d+)\.(\d+)", text or "")
    return tuple(int(x) for x in found.groups()) if found else None


def check_tools() -> list[Check]:
    checks = []
    for tool, minimum, ask in (("tmux", MIN_TMUX, tmux.version), ("git", MIN_GIT, git.version)):
        if shutil.which(tool) is None:
            checks.append(Check(tool, False, f"not installed: install {tool} {'.'.join(map(str, minimum))} or newer"))
            continue
        version = _version(ask())
        ok = version is not None and version >= minimum
        shown = ".".join(map(str, version)) if version else "unknown version"
        checks.append(
            Check(tool, ok, shown if ok else f"{shown}; orchestra needs {'.'.join(map(str, minimum))} or newer")
        )
    return checks


def check_project(ctx: Context, fix: bool) -> list[Check]:
    checks = []
    sources = ", ".join(str(p) for p in ctx.config.sources) or "built-in defaults"
    checks.append(Check("config", True, sources))
    try:
        worktrees.resolve_commit(ctx.project, ctx.config.orchestra["base"])
    except OrchestraError as error:
        checks.append(Check("base", False, str(error)))
    default = ctx.config.orchestra["default_agent"]
    # Asked first so that a plugin failing in its own check is listed with the other problems.
    from_plugins = plugin_checks(ctx)
    for problem in ctx.plugins.problems:
        checks.append(Check("plugins", False, problem))
    for name, kind in sorted(ctx.plugins.kinds.items()):
        command = ctx.config.agent_settings(name).command or kind.default_command
        if not command:
            checks.append(Check(f"agent {name}", None, "built in" if name == "demo" else "no command configured"))
        elif shutil.which(command[0]):
            checks.append(Check(f"agent {name}", True, shutil.which(command[0]) or command[0]))
        elif name == default:
            checks.append(
                Check(
                    f"agent {name}",
                    False,
                    f"'{command[0]}' is not on PATH, and {name} is the default agent "
                    f"kind: install it, or set default_agent in orchestra.toml (or spawn with --agent)",
                )
            )
        else:
            checks.append(
                Check(f"agent {name}", None, f"'{command[0]}' is not on PATH (needed only to spawn {name} agents)")
            )
    checks += from_plugins
    if default not in ctx.plugins.kinds:
        checks.append(
            Check(
                "default agent",
                False,
                f"the default agent kind '{default}' does not exist: fix default_agent in orchestra.toml",
            )
        )
    agents = observe(ctx)
    lost = [a for a in agents if a.status == Status.LOST]
    if lost:
        resumable = [a.name for a in lost if Path(a.worktree).is_dir()]
        homeless = [a.name for a in lost if not Path(a.worktree).is_dir()]
        if resumable:
            checks.append(
                Check(
                    "agents", False, f"lost their window: {', '.join(resumable)}; `orchestra resume` brings them back"
                )
            )
        if homeless:
            checks.append(
                Check(
                    "agents",
                    False,
                    f"lost their worktree: {', '.join(homeless)}; "
                    "`orchestra kill NAME --force` keeps what their branches hold and removes them",
                )
            )
    else:
        checks.append(Check("agents", True, f"{len(agents)} recorded, none lost"))
    checks += _check_agent_worktrees(ctx, agents, fix)
    checks += _check_interrupted_spawns(ctx, fix)
    checks += _check_worktrees(ctx, agents, fix)
    checks += _check_merges(ctx, fix)
    checks += _check_copied(ctx)
    checks += _check_session(ctx, fix)
    checks += _check_pool(ctx, fix)
    return checks


def _check_interrupted_spawns(ctx: Context, fix: bool) -> list[Check]:
    from orchestra.spawn_undo import undo_interrupted

    left, worked_in = undo_interrupted(ctx, undo=fix)
    checks = []
    if left:
        done = "removed" if fix else "`orchestra doctor --fix` removes them"
        checks.append(
            Check("spawns", fix, f"agents of a killed spawn, never started: {', '.join(left)}; {done}", fixed=fix)
        )
    if worked_in:
        checks.append(
            Check(
                "spawns",
                None,
                f"agents of a killed spawn, never started, but with work in them: {', '.join(worked_in)}; "
                "`orchestra kill NAME` (with --force to keep the work on a trash ref) removes them",
            )
        )
    return checks


def plugin_checks(ctx: Context) -> list[Check]:
    """What every plugin's `doctor_checks` finds; anything else one returns is a plugin problem."""
    checks = []
    for result in ctx.plugins.call("doctor_checks", root=ctx.project.root, config=ctx.config):
        for item in result if isinstance(result, (list, tuple)) else [result]:
            if isinstance(item, Check):
                checks.append(item)
            else:
                ctx.plugins.problems.append(f"a plugin's doctor_checks returned {item!r}, not a Check")
    return checks


def _check_agent_worktrees(ctx: Context, agents: list[Agent], fix: bool) -> list[Check]:
    """Worktrees a stopped command left half-made (never checked out) or half-removed (no `.git`):
    `--fix` finishes the checkout, or finishes the agent's removal keeping what the folder holds."""
    from orchestra.removal import merge_target, remove

    checks = []
    for agent in agents:
        if agent.no_worktree:
            continue  # the main checkout is the user's, never an agent's worktree to finish or remove
        worktree = Path(agent.worktree)
        if trash.is_broken(worktree):
            if not fix:
                checks.append(
                    Check(
                        "worktree", False, f"agent {agent.name}: " + BROKEN.format(worktree=worktree, name=agent.name)
                    )
                )
                continue
            try:
                removed = remove(ctx, agent, merge_target(ctx))
            except OrchestraError as error:
                checks.append(Check("worktree", False, f"agent {agent.name}: {error}"))
                continue
            kept = f", its work kept at {removed.saved_ref}" if removed.saved_ref else ""
            detail = f"agent {agent.name}: finished removing its broken worktree{kept}"
            checks.append(Check("worktree", True, detail, fixed=True))
        elif trash.is_unpopulated(worktree) and agent.status != Status.STARTING:  # not a spawn under way
            if fix:
                trash.finish_checkout(worktree)
            what = f"agent {agent.name}: its worktree was never checked out (a spawn stopped part-way)"
            checks.append(Check("worktree", fix, f"{what}; checked it out" if fix else what, fixed=fix))
    return checks


def _check_worktrees(ctx: Context, agents: list[Agent], fix: bool) -> list[Check]:
    checks = []
    registered = worktrees.registered_worktrees(ctx.project)
    missing = [path for path in registered if not path.exists()]
    if missing:
        if fix:
            worktrees.prune_worktrees(ctx.project)
        checks.append(Check("worktrees", fix, f"git records {len(missing)} worktree(s) that are gone", fixed=fix))
    known = {Path(a.worktree) for a in agents}
    prefix = ctx.config.orchestra["branch_prefix"]
    strays = [
        str(path)
        for path, branch in registered.items()
        if branch and branch.startswith(prefix) and path not in known and path.exists()
    ]
    if strays:
        checks.append(Check("worktrees", None, f"orchestra branches with no agent record: {', '.join(strays)}"))
    if not missing and not strays:
        checks.append(Check("worktrees", True, f"{len(registered)} registered, all present"))
    launch_dir = ctx.state.launch_dir
    waiting = {a.name for a in agents if a.status in (Status.STARTING, Status.QUEUED)}
    stale = [p for p in launch_dir.glob("*.env.json") if p.name.removesuffix(".env.json") not in waiting]
    if stale:
        if fix:
            for path in stale:
                path.unlink(missing_ok=True)
        checks.append(Check("launch files", fix, f"{len(stale)} left over from agents that never started", fixed=fix))
    return checks


class _MergeRunning(Exception):
    pass


def _give_up() -> None:
    raise _MergeRunning


def _check_merges(ctx: Context, fix: bool) -> list[Check]:
    """Scratch worktrees a killed `orchestra merge` left; never those of a merge running now."""
    try:
        with integrate.merge_lock(ctx.project, busy=_give_up):
            found = integrate.remove_leftovers(ctx.project) if fix else integrate.leftovers(ctx.project)
    except _MergeRunning:
        return [Check("merges", None, "a merge is running; its scratch worktree is left alone")]
    if not found:
        return []
    what = f"{len(found)} scratch worktree(s) left by a merge that was stopped ({', '.join(p.name for p in found)})"
    if fix:
        return [Check("merges", True, f"removed {what}", fixed=True)]
    return [Check("merges", False, f"{what}: `orchestra doctor --fix` removes them")]


def _check_copied(ctx: Context) -> list[Check]:
    """`[worktree] copy`/`symlink` files git does not ignore: orchestra never commits them, but an
    agent's own `git add -A` would, and `git status` lists them in every worktree."""
    entries = ctx.config.worktree["copy"] + ctx.config.worktree["symlink"]
    exposed = [
        entry
        for entry in integrate.placed_files(ctx.project.root, entries)
        if (ctx.project.root / entry).exists()
        and not git.succeeds(["check-ignore", "-q", "--", entry], ctx.project.root)
    ]
    if not exposed:
        return []
    return [
        Check(
            "worktree copy",
            None,
            f"{', '.join(exposed)} {'is' if len(exposed) == 1 else 'are'} copied into every worktree but git does not "
            "ignore it: orchestra never commits it, but an agent's `git add -A` would; add it to .gitignore",
        )
    ]


def _check_session(ctx: Context, fix: bool) -> list[Check]:
    if shutil.which("tmux") is None:
        return []
    if not ctx.tmux.has_session(ctx.session):
        return [Check("session", None, f"{ctx.session} is not running (`orchestra up` starts it)")]
    owner = ctx.tmux.session_root(ctx.session)
    if owner and owner != str(ctx.project.root):
        return [
            Check(
                "session",
                False,
                f"{ctx.session} belongs to {owner}: set a different `session` name "
                "in the [orchestra] table of orchestra.toml",
            )
        ]
    if fix and ctx.tmux.ensure_board(ctx.session, ctx.project.root, ctx.board_argv(), ctx.board_env()):
        return [Check("session", True, f"{ctx.session}: put the board back in window 0", fixed=True)]
    return [Check("session", True, f"{ctx.session} is running")]


def _check_pool(ctx: Context, fix: bool) -> list[Check]:
    """The warm pool: how many members are ready at the base; members that are gone, set aside,
    abandoned or strays (`--fix` removes those that hold nothing); members kept with pool = 0."""
    from orchestra import pool

    if not pool.size(ctx) and not pool.read(ctx)[0] and not pool.folder(ctx).exists():
        return []
    found = pool.status(ctx)
    wanted, members = found["size"], found["members"]
    checks = []
    broken = [m for m in members if m["state"] not in ("ready", "taken")]
    if broken and fix:
        tidied = pool.tidy(ctx)
        if tidied.removed:
            checks.append(
                Check("pool", True, f"removed broken pool worktrees: {', '.join(tidied.removed)}", fixed=True)
            )
        checks += [Check("pool", False, kept) for kept in tidied.kept]
    elif broken:
        listed = "; ".join(f"{m['id']} ({m['state']}: {m['problem']})" for m in broken)
        checks.append(
            Check(
                "pool", False, f"{listed}: `orchestra doctor --fix` removes those that hold nothing, and names the rest"
            )
        )
    stale = sum(1 for m in members if m["state"] == "ready" and not m["current"])
    summary = f"{found['ready']} of {wanted} ready" + (
        f", {stale} not at the base (a claim or fill refreshes them)" if stale else ""
    )
    if not wanted:
        checks.append(
            Check(
                "pool",
                None,
                f"{len(members)} pool worktree(s) kept while [worktree] pool = 0: `orchestra pool drain` removes them",
            )
        )
    elif found["fill_error"]:
        checks.append(Check("pool", False, f"{summary}; the last background fill failed: {found['fill_error']}"))
    else:
        checks.append(
            Check(
                "pool",
                True if found["ready"] else None,
                summary + ("" if found["ready"] else ": `orchestra pool fill` fills it"),
            )
        )
    return checks


def diagnose(fix: bool = False, cwd: Path | None = None) -> list[Check]:
    """Every check for the project at `cwd` (the current folder): the tools, then, when they are
    usable, the project itself. Outside a project, or with a config every command refuses, that is
    one check more rather than an error, since doctor is what one runs when things are wrong."""
    from orchestra.errors import ConfigError

    checks = check_tools()
    try:
        ctx = Context.open(cwd)
    except ConfigError as error:  # inside a project whose orchestra.toml every command refuses
        checks.append(Check("config", False, str(error)))
    except OrchestraError as error:
        checks.append(Check("project", None, str(error)))
    else:
        checks.append(Check("project", True, str(ctx.project.root)))
        if all(c.ok is not False for c in checks):
            checks += check_project(ctx, fix)
    return checks
