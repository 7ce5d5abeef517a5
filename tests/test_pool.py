"""The warm worktree pool: fills, claims, what a claim refuses, drain, doctor and clean, and spawn
through the real command line claiming pooled worktrees and refilling in the background."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestra import pool
from orchestra.context import Context
from orchestra.errors import ConfigError
from support import git, wait_for, worktree_paths


def configure(repo: Path, size: int, extra: str = "") -> None:
    (repo / "orchestra.toml").write_text(f'[orchestra]\ndefault_agent = "demo"\n[worktree]\npool = {size}\n{extra}')


def opened(repo: Path) -> Context:
    return Context.open(repo)


def add_files(repo: Path, count: int = 20) -> str:
    (repo / "src").mkdir(exist_ok=True)
    for n in range(count):
        (repo / "src" / f"module_{n}.py").write_text(f"value = {n}\n")
    (repo / ".gitignore").write_text("*.log\n")
    git(repo, "add", "src", ".gitignore")
    git(repo, "commit", "-qm", "files")
    return git(repo, "rev-parse", "HEAD").strip()


def members(ctx: Context) -> dict[str, dict]:
    return {m["id"]: m for m in pool.status(ctx)["members"]}


def admin_name(worktree: Path) -> str:
    """The name of the worktree's record in .git/worktrees/: a claimed member keeps its pool id."""
    return Path(git(worktree, "rev-parse", "--git-dir").strip()).name


def test_a_claim_gives_the_agent_its_own_branch_at_the_base_by_reference_operations(repo):
    base = add_files(repo)
    configure(repo, 2)
    ctx = opened(repo)
    made = pool.fill(ctx)
    assert (made.made, made.ready, made.base) == (2, 2, base)
    before = set(members(ctx))
    target = repo.parent / "project.worktrees" / "agent"
    assert pool.claim(ctx, target, "orchestra/agent", base)
    assert git(target, "symbolic-ref", "HEAD").strip() == "refs/heads/orchestra/agent"
    assert git(repo, "rev-parse", "orchestra/agent").strip() == base
    assert git(target, "status", "--porcelain", "--untracked-files=all", "--ignored").strip() == ""
    assert (target / "src" / "module_7.py").read_text() == "value = 7\n"
    assert admin_name(target) in before, "the agent's worktree is a pool member, moved"
    listing = git(repo, "worktree", "list", "--porcelain")
    assert f"worktree {target}\nHEAD {base}\nbranch refs/heads/orchestra/agent\n" in listing
    left = members(ctx)
    assert len(left) == 1 and all(m["state"] == "ready" and m["current"] for m in left.values())
    assert not (repo.parent / "project.worktrees" / ".pool" / admin_name(target)).exists()


def test_a_member_behind_a_moved_base_is_brought_to_it_when_claimed_and_when_filled(repo):
    add_files(repo)
    configure(repo, 2)
    ctx = opened(repo)
    pool.fill(ctx)
    (repo / "src" / "module_3.py").write_text("value = 'moved'\n")
    (repo / "later.txt").write_text("later\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "the base moves")
    moved = git(repo, "rev-parse", "HEAD").strip()
    assert [m["current"] for m in members(ctx).values()] == [False, False]
    target = repo.parent / "project.worktrees" / "late"
    assert pool.claim(ctx, target, "orchestra/late", moved)
    assert git(target, "rev-parse", "HEAD").strip() == moved
    assert (target / "later.txt").read_text() == "later\n"
    assert (target / "src" / "module_3.py").read_text() == "value = 'moved'\n"
    assert git(target, "status", "--porcelain", "--untracked-files=all").strip() == ""
    refilled = pool.fill(ctx)
    assert (refilled.refreshed, refilled.made, refilled.ready) == (1, 1, 2)
    assert all(m["current"] and m["state"] == "ready" for m in members(ctx).values())


def _edit_tracked(member: Path) -> None:
    (member / "src" / "module_1.py").write_text("value = 'edited'\n")


def _add_untracked(member: Path) -> None:
    (member / "notes.txt").write_text("someone's notes\n")


def _add_ignored(member: Path) -> None:
    (member / "build.log").write_text("ignored, but not from the checkout\n")


def _commit(member: Path) -> None:
    (member / "notes.txt").write_text("committed here\n")
    git(member, "add", "notes.txt")
    git(member, "commit", "-qm", "work on a pool member")


def _switch_branch(member: Path) -> None:
    git(member, "switch", "-q", "-c", "someones-branch")


@pytest.mark.parametrize("change", [_edit_tracked, _add_untracked, _add_ignored, _commit, _switch_branch])
def test_a_member_that_was_changed_is_never_claimed_and_keeps_what_it_holds(repo, change):
    base = add_files(repo)
    configure(repo, 1)
    ctx = opened(repo)
    pool.fill(ctx)
    [member] = members(ctx).values()
    path = Path(member["path"])
    change(path)
    snapshot = {p.relative_to(path): p.read_bytes() for p in path.rglob("*") if p.is_file() and ".git" not in p.parts}
    target = repo.parent / "project.worktrees" / "agent"
    assert not pool.claim(ctx, target, "orchestra/agent", base)
    assert not target.exists() and "orchestra/agent" not in git(repo, "branch")
    assert {p.relative_to(path): p.read_bytes() for p in path.rglob("*") if p.is_file() and ".git" not in p.parts} == (
        snapshot
    )
    [after] = members(ctx).values()
    assert after["state"] == "set aside" and after["problem"].startswith("not claimed: ")
    assert not pool.claim(ctx, target, "orchestra/agent", base), "a set-aside member is never offered again"


def test_a_spawn_with_a_changed_member_falls_back_to_a_fresh_worktree(orchestra, repo):
    add_files(repo)
    configure(repo, 1)
    orchestra("pool", "fill")
    ctx = opened(repo)
    [member] = members(ctx).values()
    _add_untracked(Path(member["path"]))
    [agent] = json.loads(orchestra("spawn", "--json", "--no-attach", "fresh one").stdout)
    worktree = Path(agent["worktree"])
    assert admin_name(worktree) != member["id"]
    assert not (worktree / "notes.txt").exists()
    assert (Path(member["path"]) / "notes.txt").read_text() == "someone's notes\n"
    wait_for(lambda: pool.status(ctx)["ready"] == 1, what="the background fill to replace the set-aside member")
    assert members(ctx)[member["id"]]["state"] == "set aside"


def test_copy_symlink_and_setup_apply_to_a_claimed_worktree(orchestra, repo, recorder):
    (repo / ".env").write_text("SECRET=1\n")
    (repo / "shared").mkdir()
    with open(repo / "orchestra.toml", "a") as handle:
        handle.write('[worktree]\npool = 1\ncopy = [".env"]\nsymlink = ["shared"]\nsetup = "echo set-up > setup.txt"\n')
    orchestra("pool", "fill")
    [member] = members(opened(repo)).values()
    [agent] = json.loads(orchestra("spawn", "--agent", "recorder", "--json", "--name", "setup", "task").stdout)
    worktree = Path(agent["worktree"])
    assert admin_name(worktree) == member["id"], "it was claimed from the pool"
    wait_for(lambda: (recorder / "setup.done").exists(), what="the agent to start after setup")
    assert (worktree / ".env").read_text() == "SECRET=1\n"
    assert (worktree / "shared").is_symlink() and (worktree / "shared").resolve() == (repo / "shared").resolve()
    assert (worktree / "setup.txt").read_text() == "set-up\n"
    wait_for(lambda: pool.status(opened(repo))["ready"] == 1, what="the background fill")


def test_two_fills_at_once_never_overfill(orchestra, repo):
    add_files(repo)
    configure(repo, 3)
    command = [sys.executable, "-m", "orchestra", "pool", "fill"]
    runs = [subprocess.Popen(command, cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)]
    runs.append(subprocess.Popen(command, cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = [run.communicate(timeout=60) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    said = sorted(out for out, _ in outputs)
    assert said[0].startswith("made 3: the pool holds 3 of 3") or said[1].startswith("made 3: the pool holds 3 of 3")
    assert any(out.startswith("nothing to do: the pool holds 3 of 3") for out, _ in outputs)
    pooled = [p for p in worktree_paths(repo) if "/.pool/" in p]
    assert len(pooled) == 3 and len(members(opened(repo))) == 3


def test_the_background_fill_runs_below_the_agents(orchestra, repo):
    """The refill a spawn starts runs niced (10) from its start, so the agents starting with it
    come first; read from the kernel while it works."""
    add_files(repo)
    configure(repo, 2)
    (repo / ".git" / "orchestra").mkdir(exist_ok=True)  # as the spawn that starts it leaves it
    fill = subprocess.Popen([sys.executable, "-m", "orchestra", "_pool-fill", str(repo)], cwd=repo)
    seen = []  # the nice value, field 19 of /proc/PID/stat, while it runs
    while fill.poll() is None:
        with contextlib.suppress(OSError, ValueError, IndexError):
            seen.append(int(Path(f"/proc/{fill.pid}/stat").read_text().rsplit(")", 1)[1].split()[16]))
    assert fill.returncode == 0 and len(members(opened(repo))) == 2
    niced = os.nice(0) + 10
    # (the first moments are Python's own start, before orchestra's first line)
    assert seen and seen[-1] == niced and seen.count(niced) > len(seen) // 2, seen


def test_fill_removes_members_over_the_size(orchestra, repo):
    configure(repo, 3)
    orchestra("pool", "fill")
    configure(repo, 1)
    assert orchestra("pool", "fill").stdout.startswith("removed 2 over the size: the pool holds 1 of 1")
    assert len([p for p in worktree_paths(repo) if "/.pool/" in p]) == 1


def test_drain_removes_clean_members_and_refuses_work(orchestra, repo):
    add_files(repo)
    configure(repo, 3)
    orchestra("pool", "fill")
    dirty, committed, clean = (Path(m["path"]) for m in members(opened(repo)).values())
    _add_untracked(dirty)
    _commit(committed)
    lone = git(committed, "rev-parse", "HEAD").strip()
    result = orchestra("pool", "drain", check=False)
    assert result.returncode == 1
    assert result.stdout.startswith("removed 1 pool worktree\n")
    [line] = result.stderr.splitlines()
    assert line.startswith("orchestra: kept pool worktree ")
    assert "notes.txt" in line and "commits on no branch" in line and "git worktree remove --force" in line
    assert not clean.exists()
    assert (dirty / "notes.txt").read_text() == "someone's notes\n" and git(
        committed, "rev-parse", "HEAD"
    ).strip() == lone
    states = {m["path"]: m["state"] for m in members(opened(repo)).values()}
    assert states == {str(dirty): "set aside", str(committed): "set aside"}
    git(committed, "branch", "kept-work")  # what the sentence says: a branch for its commits
    git(repo, "worktree", "remove", "--force", str(dirty))
    assert orchestra("pool", "drain").stdout.startswith("removed 2 pool worktrees")
    assert [p for p in worktree_paths(repo) if "/.pool/" in p] == []
    assert git(repo, "rev-parse", "kept-work").strip() == lone


def test_pool_commands_without_a_pool_say_so(orchestra, repo):
    result = orchestra("pool", "fill", check=False)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "orchestra: [worktree] pool is 0 in orchestra.toml, so there is no pool to fill: set `pool = N` in its "
        "[worktree] table (N worktrees kept ready for spawns)."
    ]
    assert (
        orchestra("pool", "status").stdout
        == "pool: 0 of 0 ready at the base " + git(repo, "rev-parse", "HEAD").strip()[:12] + "\n"
    )
    assert orchestra("pool", "drain").stdout == "removed 0 pool worktrees\n"
    assert orchestra("pool", "empty", check=False).returncode == 2


@pytest.mark.parametrize("value", ["-1", '"2"', "true", "1.5"])
def test_a_pool_size_that_is_not_a_count_is_refused_in_one_sentence(repo, value):
    (repo / "orchestra.toml").write_text(f"[worktree]\npool = {value}\n")
    with pytest.raises(ConfigError) as caught:
        opened(repo)
    assert str(caught.value).startswith(f"{repo / 'orchestra.toml'}, line 2: 'worktree.pool' must be a whole number")


@pytest.mark.slow
def test_doctor_and_clean_know_the_pool(orchestra, repo):
    add_files(repo)
    configure(repo, 3)
    orchestra("pool", "fill")
    gone, changed, ready = (Path(m["path"]) for m in members(opened(repo)).values())
    subprocess.run(["rm", "-rf", str(gone)], check=True)
    leftover = gone.parent / "leftover"
    git(repo, "worktree", "add", "-q", "--detach", str(leftover))  # a folder the record does not name
    _add_untracked(changed)  # a ready member someone wrote into: found when it is claimed or drained
    doctor = orchestra("doctor", "--json", check=False)
    assert doctor.returncode == 1
    [problem, summary] = [c for c in json.loads(doctor.stdout) if c["name"] == "pool"]
    assert problem["ok"] is False
    assert f"{gone.name} (gone: its folder or git's record of it is missing)" in problem["detail"]
    assert "leftover (stray: not in the pool's record)" in problem["detail"]
    assert (summary["ok"], summary["detail"]) == (True, "2 of 3 ready")
    # clean treats no pool member as an orphan: it removes only broken entries that hold nothing
    cleaned = orchestra("clean").stdout.splitlines()
    assert cleaned == [f"removed broken pool worktrees: {', '.join(sorted([gone.name, 'leftover']))}"]
    assert ready.exists() and (changed / "notes.txt").exists() and not leftover.exists()
    assert [p for p in worktree_paths(repo) if "/.pool/" in p] == sorted([str(changed), str(ready)])
    checks = [c for c in json.loads(orchestra("doctor", "--json").stdout) if c["name"] == "pool"]
    assert checks == [{"name": "pool", "ok": True, "detail": "2 of 3 ready", "fixed": False}]


def test_doctor_fix_removes_an_abandoned_member_and_keeps_a_changed_one(orchestra, repo):
    configure(repo, 2)
    orchestra("pool", "fill")
    ctx = opened(repo)
    abandoned, changed = sorted(members(ctx).values(), key=lambda m: m["id"])
    record = json.loads(pool._record_path(ctx).read_text())
    finished = subprocess.Popen(["true"])
    finished.wait()
    record["members"][abandoned["id"]]["taken_by"] = finished.pid  # a claim killed part-way
    record["members"][changed["id"]]["set_aside"] = "found changed"
    pool._record_path(ctx).write_text(json.dumps(record))
    _add_untracked(Path(changed["path"]))
    states = {m["id"]: m["state"] for m in members(ctx).values()}
    assert states == {abandoned["id"]: "abandoned", changed["id"]: "set aside"}
    fixed = [c for c in json.loads(orchestra("doctor", "--json", "--fix", check=False).stdout) if c["name"] == "pool"]
    assert fixed[0] == {
        "name": "pool",
        "ok": True,
        "detail": f"removed broken pool worktrees: {abandoned['id']}",
        "fixed": True,
    }
    assert fixed[1]["ok"] is False and "notes.txt" in fixed[1]["detail"]
    assert not Path(abandoned["path"]).exists() and (Path(changed["path"]) / "notes.txt").exists()


@pytest.mark.slow
def test_spawn_claims_pooled_worktrees_and_the_pool_refills_in_the_background(orchestra, repo):
    add_files(repo)
    configure(repo, 2)
    orchestra("pool", "fill")
    pooled = set(members(opened(repo)))
    created = json.loads(orchestra("spawn", "--json", "--no-attach", "first task", "second task").stdout)
    base = git(repo, "rev-parse", "HEAD").strip()
    assert {admin_name(Path(a["worktree"])) for a in created} == pooled
    for agent in created:
        worktree = Path(agent["worktree"])
        assert git(worktree, "symbolic-ref", "--short", "HEAD").strip() == agent["branch"]
        assert agent["base"] == base and (worktree / "src" / "module_0.py").exists()
    ready = wait_for(
        lambda: (found := pool.status(opened(repo)))["ready"] == 2 and found, what="the pool to refill itself"
    )
    assert not pooled & {m["id"] for m in ready["members"]}
    assert len([p for p in worktree_paths(repo) if "/.pool/" in p]) == 2
    assert os.path.isdir(repo.parent / "project.worktrees" / ".pool")


def test_a_spawn_claims_for_all_its_agents_at_once_and_leaves_nothing_taken(orchestra, repo):
    """One change of the record takes a member per agent, one more settles them: the clean one is
    claimed, the changed one set aside with what it holds, the third agent gets a fresh worktree."""
    add_files(repo)
    configure(repo, 2)
    orchestra("pool", "fill")
    ctx = opened(repo)
    changed, clean = sorted(members(ctx).values(), key=lambda m: m["id"])
    _add_untracked(Path(changed["path"]))
    created = json.loads(orchestra("spawn", "--json", "--no-attach", "one", "two", "three").stdout)
    claimed = [a for a in created if admin_name(Path(a["worktree"])) == clean["id"]]
    assert len(claimed) == 1 and len(created) == 3
    assert (Path(changed["path"]) / "notes.txt").read_text() == "someone's notes\n"
    settled = wait_for(
        lambda: (found := members(opened(repo))) and found[changed["id"]]["state"] == "set aside" and found,
        what="the changed member set aside",
    )
    assert clean["id"] not in settled
    assert not [m for m in settled.values() if m["state"] in ("taken", "abandoned")]


def test_members_taken_for_agents_a_spawn_never_reached_are_put_back(repo):
    add_files(repo)
    configure(repo, 2)
    ctx = opened(repo)
    pool.fill(ctx)
    base = pool.base(ctx)
    with pool.claims(ctx, [base, base]) as batch:
        assert all(batch.members) and pool.status(ctx)["ready"] == 0, "both taken for this spawn"
        assert batch.claim(0, repo.parent / "first", "orchestra/first", base)
        # the spawn stops here (an error in another agent's worktree, a Ctrl-C): the second is untried
    after = pool.status(ctx)
    assert after["ready"] == 1 and [m["id"] for m in after["members"]] == [batch.members[1].id]
    assert git(repo.parent / "first", "symbolic-ref", "--short", "HEAD").strip() == "orchestra/first"
