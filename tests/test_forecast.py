"""`orchestra conflicts`: forecasting conflicts between agents and with the target from real git
repositories, without changing anything on disk."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from orchestra import forecast as forecasting
from orchestra import git as git_module
from orchestra.context import Context
from orchestra.forecast import Forecast, Pair, Standing, order_of
from orchestra.models import Agent, Status
from support import git

LINES = "".join(f"line {n}\n" for n in range(1, 21))


class World:
    """A project whose agents are real worktrees on their own branches, recorded in the state."""

    def __init__(self, repo: Path, tmp_path: Path) -> None:
        self.repo = repo
        self.tmp = tmp_path
        self.ctx = Context.open(repo)
        self.count = 0

    def agent(self, name: str, base: str = "main", status: Status = Status.EXITED) -> Path:
        worktree = self.tmp / "worktrees" / name
        git(self.repo, "worktree", "add", "-q", "-b", f"orchestra/{name}", str(worktree), base)
        self.count += 1
        record = Agent(
            name=name,
            task=f"task of {name}",
            agent="demo",
            branch=f"orchestra/{name}",
            base=git(self.repo, "rev-parse", base).strip(),
            worktree=str(worktree),
            status=status,
            created_at=f"2026-01-01T00:00:{self.count:02d}+00:00",
        )
        with self.ctx.state.update() as agents:
            agents[name] = record
        return worktree

    def forecast(self, *names: str, **options) -> Forecast:
        return forecasting.forecast(self.ctx, list(names) or None, **options)


def commit(cwd: Path, message: str = "work") -> None:
    git(cwd, "add", "--all")
    git(cwd, "commit", "-qm", message)


def edit_line(path: Path, number: int, text: str) -> None:
    lines = path.read_text().splitlines(keepends=True)
    lines[number - 1] = text + "\n"
    path.write_text("".join(lines))


def pair(fc: Forecast, a: str, b: str) -> Pair | None:
    wanted = tuple(sorted((a, b)))
    return next((p for p in fc.pairs if p.agents == wanted), None)


@pytest.fixture
def world(repo, tmp_path, monkeypatch) -> World:
    (repo / "a.txt").write_text(LINES)
    (repo / "b.txt").write_text(LINES)
    (repo / "d").mkdir()
    (repo / "d" / "x.txt").write_text("x\n")
    (repo / "d" / "y.txt").write_text("y\n")
    (repo / "image.bin").write_bytes(bytes(range(256)) * 4)
    commit(repo, "files")
    monkeypatch.chdir(repo)
    return World(repo, tmp_path)


@pytest.fixture
def later(monkeypatch) -> None:
    """The forecast's clock ten seconds on, as if the work had been made a while before: a
    snapshot of files changed within the last seconds is not cached (`forecast.RACY`)."""
    monkeypatch.setattr(forecasting, "_clock", lambda: time.time_ns() + 10_000_000_000)


def swap_lines(path: Path, one: int, other: int) -> None:
    """Line `one` gets line `other`'s text and line `other` its plain "line N": the same size when
    both numbers have one digit. The modification time is put back as it was."""
    before = os.lstat(path)
    lines = path.read_text().splitlines(keepends=True)
    lines[one - 1], lines[other - 1] = lines[other - 1], f"line {other}\n"
    path.write_text("".join(lines))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.lstat(path)
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (before.st_size, before.st_mtime_ns, before.st_ino)


@pytest.fixture
def calls(monkeypatch) -> list[str]:
    """The git commands orchestra runs (their first word), one entry per merge `git merge-tree` is asked for."""
    asked: list[str] = []
    real = git_module.run

    def counting(args, cwd, *rest, **kwargs):
        words = [a for a in args if not a.startswith("-")]
        if words[0] == "merge-tree":
            asked.extend("merge-tree" for _ in (kwargs.get("input") or "").splitlines())
        else:
            asked.append(words[0])
        return real(args, cwd, *rest, **kwargs)

    monkeypatch.setattr(git_module, "run", counting)
    return asked


def test_committed_changes_to_the_same_lines_conflict_and_other_files_do_not(world):
    one, two, three = world.agent("one"), world.agent("two"), world.agent("three")
    edit_line(one / "a.txt", 2, "one's line")
    commit(one)
    edit_line(two / "a.txt", 2, "two's line")
    commit(two)
    edit_line(three / "b.txt", 2, "three's line")
    commit(three)
    fc = world.forecast()
    assert fc.target == "main"
    assert fc.target_commit == git(world.repo, "rev-parse", "main").strip()
    assert fc.pairs == [Pair(("one", "two"), ["a.txt"], [])]
    assert fc.agents == {n: Standing([], []) for n in ("one", "two", "three")}
    assert fc.conflicts_with("one") == ["two"] and fc.conflicts_with("three") == []
    assert fc.order == ["three", "one", "two"]


def test_changes_to_the_same_file_that_merge_cleanly_are_overlaps(world):
    one, two = world.agent("one"), world.agent("two")
    edit_line(one / "a.txt", 2, "one's line")
    commit(one)
    edit_line(two / "a.txt", 18, "two's line")
    commit(two)
    assert world.forecast().pairs == [Pair(("one", "two"), [], ["a.txt"])]


def test_uncommitted_and_untracked_work_counts(world):
    one, two, three = world.agent("one"), world.agent("two"), world.agent("three")
    edit_line(one / "a.txt", 2, "one's line, committed")
    commit(one)
    edit_line(two / "a.txt", 2, "two's line, not committed")
    (two / "new.txt").write_text("two's new file, untracked\n")
    (three / "new.txt").write_text("three's new file, staged\n")
    git(three, "add", "new.txt")
    fc = world.forecast()
    assert pair(fc, "one", "two") == Pair(("one", "two"), ["a.txt"], [])
    assert pair(fc, "two", "three") == Pair(("three", "two"), ["new.txt"], [])
    assert pair(fc, "one", "three") is None


def test_renames_follow_the_file_and_two_renames_of_one_file_conflict(world):
    one, two, three = world.agent("one"), world.agent("two"), world.agent("three")
    git(one, "mv", "a.txt", "renamed.txt")
    commit(one)
    edit_line(two / "a.txt", 5, "two's line")
    commit(two)
    git(three, "mv", "a.txt", "elsewhere.txt")  # uncommitted rename
    fc = world.forecast()
    assert pair(fc, "one", "two") == Pair(("one", "two"), [], ["a.txt"])  # the edit follows the rename
    clash = pair(fc, "one", "three")
    assert clash is not None and clash.conflicts and set(clash.conflicts) <= {"a.txt", "renamed.txt", "elsewhere.txt"}


def test_a_deleted_file_conflicts_with_an_edit_of_it(world):
    one, two = world.agent("one"), world.agent("two")
    (one / "b.txt").unlink()  # deleted, not committed
    edit_line(two / "b.txt", 3, "two's line")
    commit(two)
    assert world.forecast().pairs == [Pair(("one", "two"), ["b.txt"], [])]


def test_binary_changes_conflict(world):
    one, two = world.agent("one"), world.agent("two")
    (one / "image.bin").write_bytes(b"\0one" * 100)
    commit(one)
    (two / "image.bin").write_bytes(b"\0two" * 100)
    assert world.forecast().pairs == [Pair(("one", "two"), ["image.bin"], [])]


def test_a_file_where_the_other_has_a_folder_conflicts_under_its_own_name(world):
    one, two = world.agent("one"), world.agent("two")
    (one / "thing").write_text("a file\n")
    commit(one)
    (two / "thing").mkdir()
    (two / "thing" / "inner.txt").write_text("a file in a folder\n")
    fc = world.forecast()
    found = pair(fc, "one", "two")
    assert found is not None and "thing" in found.conflicts
    assert not any("~" in path for path in found.conflicts)  # git's moved-aside name is not reported


def test_a_file_added_to_a_folder_the_other_renamed_meets_that_rename(world):
    """A folder one side renamed takes the other side's new files along (git's directory rename
    detection): the prefilter must not call that pair clean."""
    one, two = world.agent("one"), world.agent("two")
    git(one, "mv", "d", "e")
    (one / "e" / "new.txt").write_text("one's new file\n")
    commit(one)
    (two / "d" / "new.txt").write_text("two's new file\n")
    commit(two)
    found = pair(world.forecast(), "one", "two")
    assert found is not None and "e/new.txt" in found.conflicts


def test_a_three_way_conflict_group_goes_after_the_clean_agents(world):
    names = ["one", "two", "three", "four"]
    trees = {name: world.agent(name) for name in names}
    for name in names[:3]:
        edit_line(trees[name] / "a.txt", 2, f"{name}'s line")
        commit(trees[name])
    edit_line(trees["four"] / "b.txt", 2, "four's line")
    fc = world.forecast()
    assert [(p.agents, p.conflicts) for p in fc.pairs] == [
        (("one", "three"), ["a.txt"]),
        (("one", "two"), ["a.txt"]),
        (("three", "two"), ["a.txt"]),
    ]
    assert fc.order == ["four", "one", "two", "three"]
    assert fc.conflicts_with("two") == ["one", "three"]


def test_agents_based_on_different_commits(world):
    early = world.agent("early")
    edit_line(early / "b.txt", 4, "early's line")
    commit(early)
    edit_line(world.repo / "b.txt", 4, "main's line")
    edit_line(world.repo / "a.txt", 10, "main's other line")
    commit(world.repo, "main moves")
    late = world.agent("late")  # based on the new main: it has main's b.txt
    edit_line(late / "a.txt", 1, "late's line")
    commit(late)
    other = world.agent("other")
    edit_line(other / "a.txt", 20, "other's line")
    fc = world.forecast()
    assert fc.agents["early"] == Standing(["b.txt"], [])
    assert fc.agents["late"] == Standing([], [])
    # merged at their merge base, late brings main's change of the line early changed too
    assert pair(fc, "early", "late") == Pair(("early", "late"), ["b.txt"], [])
    assert pair(fc, "late", "other") == Pair(("late", "other"), [], ["a.txt"])
    assert fc.order == ["late", "other", "early"]


def test_an_agent_conflicts_with_the_target_once_the_target_moves(world):
    one, two = world.agent("one"), world.agent("two")
    edit_line(one / "a.txt", 2, "one's line")
    commit(one)
    edit_line(two / "b.txt", 2, "two's line")
    assert world.forecast().order == ["one", "two"]
    edit_line(world.repo / "a.txt", 2, "main's line")
    edit_line(world.repo / "b.txt", 19, "main's other line")
    commit(world.repo, "main moves")
    fc = world.forecast()
    assert fc.agents == {"one": Standing(["a.txt"], []), "two": Standing([], ["b.txt"])}
    assert fc.conflicts_with("one") == ["main"]
    assert fc.order == ["two", "one"]


def test_merged_agents_are_left_out_and_names_choose(world):
    for name in ("one", "two"):
        world.agent(name)
    world.agent("gone", status=Status.MERGED)
    assert list(world.forecast().agents) == ["one", "two"]
    assert list(world.forecast("two").agents) == ["two"]


def test_nothing_on_disk_changes_during_a_forecast(world):
    trees = [world.agent(name) for name in ("one", "two", "three", "four")]
    one, two, three, four = trees
    edit_line(one / "a.txt", 2, "one's line")
    commit(one)
    edit_line(two / "a.txt", 2, "two's line")  # unstaged
    (two / "untracked.txt").write_text("new\n")
    edit_line(three / "b.txt", 2, "three's line")
    git(three, "add", "b.txt")  # staged
    edit_line(three / "b.txt", 3, "three's unstaged line")
    (four / "sub").mkdir()
    (four / "sub" / "new.txt").write_text("new\n")

    def snapshot() -> list:
        seen = []
        for tree in [world.repo, *trees]:
            index = Path(git(tree, "rev-parse", "--path-format=absolute", "--git-path", "index").strip())
            info = index.stat()
            status = git(tree, "--no-optional-locks", "status", "--porcelain", "--untracked-files=all")
            seen += [status, index.read_bytes(), info.st_mtime_ns]
            seen.append(sorted(p.name for p in tree.rglob("*") if ".git" not in p.parts))
        seen += [git(world.repo, "for-each-ref"), git(world.repo, "worktree", "list", "--porcelain")]
        seen.append(git(world.repo, "stash", "list"))
        return seen

    before = snapshot()
    fc = world.forecast()
    assert pair(fc, "one", "two") is not None  # the forecast did its work
    assert snapshot() == before


def test_files_orchestra_placed_are_left_out(world):
    one, two = world.agent("one"), world.agent("two")
    (one / ".env").write_text("KEY=one\n")  # `[worktree] copy` holds .env by default
    (two / ".env").write_text("KEY=two\n")
    (two / "real.txt").write_text("two's work\n")
    assert world.forecast().pairs == []


def test_a_second_forecast_of_unchanged_work_runs_no_merge(world, calls, later):
    trees = {name: world.agent(name) for name in ("one", "two", "three")}
    for name, tree in trees.items():
        edit_line(tree / "a.txt", 2, f"{name}'s line")
    first = world.forecast()
    # the three pairs; against the target, which has not moved, nothing can meet
    assert calls.count("merge-tree") == 3 and calls.count("commit-tree") == 3
    calls.clear()
    assert world.forecast().to_dict() == first.to_dict()
    assert "merge-tree" not in calls and "commit-tree" not in calls  # snapshots and pairs all cached
    edit_line(trees["three"] / "a.txt", 2, "three's second thought")
    world.forecast()
    assert calls.count("merge-tree") == 2 and calls.count("commit-tree") == 1  # three against one and two
    cached = json.loads((world.ctx.project.state_dir / "forecast-cache.json").read_text())
    assert len(cached["pairs"]) == 9  # three new entries for three, against one, two and the target


def test_pairs_whose_changes_cannot_meet_run_no_merge(world, calls):
    trees = {name: world.agent(name) for name in ("one", "two", "three")}
    edit_line(trees["one"] / "a.txt", 2, "one's line")
    edit_line(trees["two"] / "b.txt", 2, "two's line")
    (trees["three"] / "d" / "z.txt").write_text("three's new file\n")
    fc = world.forecast()
    assert "merge-tree" not in calls and fc.pairs == []


def test_a_file_changed_again_is_seen_again(world):
    one, two = world.agent("one"), world.agent("two")
    edit_line(one / "a.txt", 2, "one's line")
    commit(one)
    edit_line(two / "a.txt", 18, "two's line")
    assert world.forecast().pairs == [Pair(("one", "two"), [], ["a.txt"])]
    edit_line(two / "a.txt", 2, "two's line")  # the same file, already changed, changed again in place
    assert world.forecast().pairs == [Pair(("one", "two"), ["a.txt"], [])]
    git(two, "add", "a.txt")
    git(two, "commit", "-qm", "two's work")
    assert world.forecast().pairs == [Pair(("one", "two"), ["a.txt"], [])]


def test_an_agent_branched_from_another_has_its_work(world):
    first = world.agent("first")
    edit_line(first / "a.txt", 2, "first's line")
    commit(first)
    second = world.agent("second", base="orchestra/first")
    edit_line(second / "a.txt", 3, "second's line")
    commit(second)
    fc = world.forecast()
    assert fc.pairs == [] and fc.agents == {"first": Standing([], []), "second": Standing([], [])}
    edit_line(first / "a.txt", 3, "first's second thought")  # now they meet
    assert world.forecast().pairs == [Pair(("first", "second"), ["a.txt"], [])]


def test_a_stored_forecast_names_only_new_conflicts(world):
    one, two, three = world.agent("one"), world.agent("two"), world.agent("three")
    edit_line(one / "a.txt", 2, "one's line")
    edit_line(two / "a.txt", 2, "two's line")
    assert forecasting.stored(world.ctx) is None
    assert world.forecast(store=False).new_conflicts == []
    assert forecasting.stored(world.ctx) is None  # store=False keeps no forecast
    first = world.forecast()
    assert first.new_conflicts == [Pair(("one", "two"), ["a.txt"], [])]
    stored = forecasting.stored(world.ctx)
    assert stored is not None and stored.to_dict() == first.to_dict()
    assert world.forecast().new_conflicts == []
    edit_line(three / "a.txt", 2, "three's line")
    assert [p.agents for p in world.forecast().new_conflicts] == [("one", "three"), ("three", "two")]


def test_a_damaged_forecast_file_is_no_forecast(world):
    world.agent("one")
    world.forecast()
    (world.ctx.project.state_dir / "forecast.json").write_text("{not json")
    (world.ctx.project.state_dir / "forecast-cache.json").write_text('{"version": 1, "pairs": {"x": 3}}')
    assert forecasting.stored(world.ctx) is None
    assert list(world.forecast().agents) == ["one"]


def test_the_order_rule():
    def standing(conflicts: bool) -> Standing:
        return Standing(["f"] if conflicts else [], [])

    spawned = ["a", "b", "c", "d", "e", "f", "g"]
    against_target = {"b", "f"}
    fc = Forecast(
        "main",
        "0" * 40,
        {n: standing(n in against_target) for n in spawned},
        [
            Pair(("c", "d"), ["x"], []),
            Pair(("c", "e"), ["x"], []),
            Pair(("d", "g"), [], ["y"]),  # an overlap is no conflict
            Pair(("b", "g"), ["z"], []),
        ],
        [],
    )
    # clean (a; g's only partner conflicts with the target anyway but is a partner), then fewest partners, then target
    assert order_of(fc, spawned) == ["a", "d", "e", "g", "c", "b", "f"]
    assert order_of(fc, ["e", "d", "a"]) == ["a", "d", "e"]  # partners count only among those given
    assert order_of(fc, ["c", "zed", "a"]) == ["a", "c", "zed"]


def test_conflicts_json_and_table(world, orchestra):
    one, two = world.agent("one"), world.agent("two")
    edit_line(one / "a.txt", 2, "one's line")
    edit_line(two / "a.txt", 2, "two's line")
    data = json.loads(orchestra("conflicts", "--json").stdout)
    assert data["pairs"] == [{"agents": ["one", "two"], "conflicts": ["a.txt"], "overlaps": []}]
    assert data["agents"] == {"one": {"conflicts": [], "overlaps": []}, "two": {"conflicts": [], "overlaps": []}}
    assert data["order"] == ["one", "two"] and data["target"] == "main"
    table = orchestra("conflicts").stdout
    assert "one x two: conflict in a.txt" in table and "merge order: one, two" in table


def test_conflicts_with_an_unknown_name_says_so(world, orchestra):
    world.agent("one")
    result = orchestra("conflicts", "one", "nobody", check=False)
    assert result.returncode == 1 and result.stdout == ""
    assert (
        result.stderr.strip()
        == "orchestra: there is no agent named 'nobody' in this project: `orchestra ls` lists them."
    )


def test_an_agent_that_merged_the_target_in_carries_the_targets_changes(world):
    synced, other = world.agent("synced"), world.agent("other")
    edit_line(synced / "a.txt", 2, "synced's line")
    commit(synced)
    edit_line(world.repo / "b.txt", 2, "main's line")
    commit(world.repo, "main moves")
    git(synced, "merge", "-q", "--no-edit", "main")  # brought up to date, as `orchestra sync` does
    edit_line(other / "b.txt", 2, "other's line")
    fc = world.forecast()
    assert fc.agents == {"synced": Standing([], []), "other": Standing(["b.txt"], [])}
    assert fc.pairs == [Pair(("other", "synced"), ["b.txt"], [])]
    assert fc.order == ["synced", "other"]


def test_a_snapshot_holds_exactly_what_add_all_would_commit(world, tmp_path, later):
    tree = world.agent("one")
    git(tree, "mv", "a.txt", "moved.txt")  # a staged rename, then edited
    edit_line(tree / "moved.txt", 3, "edited after the move")
    (tree / "b.txt").unlink()  # deleted, not staged
    git(tree, "rm", "-q", "image.bin")  # deleted, staged
    (tree / "d" / "x.txt").write_text("staged\n")
    git(tree, "add", "d/x.txt")
    (tree / "d" / "x.txt").write_text("then changed again\n")
    (tree / "new" / "deep").mkdir(parents=True)
    (tree / "new" / "deep" / "f.txt").write_text("untracked\n")
    agent = world.ctx.state.read()["one"]
    before = git(tree, "status", "--porcelain")
    snapshot, stamp = forecasting._side(agent, forecasting._branch_tips(world.ctx.project), [], {})
    index = Path(git(tree, "rev-parse", "--path-format=absolute", "--git-path", "index").strip())
    scratch = tmp_path / "index-copy"
    scratch.write_bytes(index.read_bytes())
    env = {**os.environ, "GIT_INDEX_FILE": str(scratch)}
    subprocess.run(["git", "add", "--all"], cwd=tree, env=env, check=True)
    expected = subprocess.run(["git", "write-tree"], cwd=tree, env=env, check=True, capture_output=True, text=True)
    assert git(tree, "rev-parse", f"{snapshot}^{{tree}}").strip() == expected.stdout.strip()
    assert git(tree, "rev-parse", f"{snapshot}^").strip() == git(tree, "rev-parse", "HEAD").strip()
    assert stamp and git(tree, "status", "--porcelain") == before  # the worktree's own index untouched


def test_a_cached_snapshot_git_has_pruned_is_made_again(world, later):
    one, two = world.agent("one"), world.agent("two")
    edit_line(one / "a.txt", 2, "one's line")
    edit_line(two / "a.txt", 2, "two's line")
    first = world.forecast()
    path = world.ctx.project.state_dir / "forecast-cache.json"
    cache = json.loads(path.read_text())
    assert len(cache["snapshots"]) == 2
    cache["snapshots"] = dict.fromkeys(cache["snapshots"], "1" * 40)  # as if `git gc` had pruned them
    cache["pairs"] = {}
    path.write_text(json.dumps(cache))
    assert world.forecast().to_dict() == first.to_dict()
    assert "1" * 40 not in path.read_text()


def test_a_snapshot_of_files_changed_just_now_is_not_cached(world, monkeypatch):
    one = world.agent("one")
    edit_line(one / "a.txt", 2, "one's line")
    world.forecast()
    cache = world.ctx.project.state_dir / "forecast-cache.json"
    assert json.loads(cache.read_text())["snapshots"] == {}  # its times are within RACY of the forecast
    monkeypatch.setattr(forecasting, "_clock", lambda: time.time_ns() + 10_000_000_000)
    world.forecast()
    assert len(json.loads(cache.read_text())["snapshots"]) == 1


@pytest.mark.parametrize("moved_on", [False, True], ids=["real clock", "clock moved on"])
def test_an_edit_keeping_size_and_mtime_after_a_forecast_is_seen(world, monkeypatch, moved_on):
    if moved_on:  # the snapshot is cached, and the edit must not find it
        monkeypatch.setattr(forecasting, "_clock", lambda: time.time_ns() + 10_000_000_000)
    one, two = world.agent("one"), world.agent("two")
    edit_line(one / "a.txt", 2, "one's line")
    edit_line(two / "a.txt", 9, "two's line")
    assert world.forecast().pairs == [Pair(("one", "two"), [], ["a.txt"])]
    cached = json.loads((world.ctx.project.state_dir / "forecast-cache.json").read_text())["snapshots"]
    assert len(cached) == (2 if moved_on else 0)
    swap_lines(two / "a.txt", 2, 9)  # two's line moves onto one's: same size, same modification time
    assert world.forecast().pairs == [Pair(("one", "two"), ["a.txt"], [])]


def test_an_edit_keeping_size_and_mtime_in_a_clean_worktree_is_seen(world, later):
    one, two = world.agent("one"), world.agent("two")
    edit_line(one / "a.txt", 2, "one's line")
    edit_line(two / "a.txt", 9, "two's line")
    commit(two)
    assert world.forecast().pairs == [Pair(("one", "two"), [], ["a.txt"])]
    swap_lines(two / "a.txt", 2, 9)
    assert world.forecast().pairs == [Pair(("one", "two"), ["a.txt"], [])]


def test_uncommitted_work_that_meets_nothing_makes_no_snapshot(world, calls):
    one, two, three = world.agent("one"), world.agent("two"), world.agent("three")
    edit_line(one / "a.txt", 2, "one's line")  # uncommitted, and three changes the same line
    edit_line(two / "b.txt", 2, "two's line")  # uncommitted, and no one else changes b.txt
    (two / "d" / "new.txt").write_text("two's new file\n")
    edit_line(three / "a.txt", 2, "three's line")
    commit(three)
    fc = world.forecast()
    assert calls.count("commit-tree") == 1  # one's snapshot only
    assert fc.pairs == [Pair(("one", "three"), ["a.txt"], [])]
    assert fc.agents["two"] == Standing([], [])


def test_an_uncommitted_folder_rename_meets_a_file_the_other_adds_to_it(world):
    one, two = world.agent("one"), world.agent("two")
    git(one, "mv", "d", "e")  # staged, not committed
    (one / "e" / "new.txt").write_text("one's new file\n")
    (two / "d" / "new.txt").write_text("two's new file\n")
    commit(two)
    found = pair(world.forecast(), "one", "two")
    assert found is not None and "e/new.txt" in found.conflicts


def test_an_agent_on_a_host_is_forecast_from_the_commit_given_for_it_and_its_worktree_is_never_read(world, monkeypatch):
    looked: list[str] = []
    real = forecasting._look
    monkeypatch.setattr(forecasting, "_look", lambda agent, *rest: looked.append(agent.name) or real(agent, *rest))
    one = world.agent("one")
    edit_line(one / "a.txt", 2, "one's line")
    edit_line(one / "b.txt", 1, "one's first line")
    commit(one)
    # Work fetched from a host: a commit here, with no branch of its name; and a folder at the path
    # its host gives for its worktree, whose uncommitted edit would conflict in b.txt if it were read.
    away = world.tmp / "away"
    git(world.repo, "worktree", "add", "-q", "--detach", str(away), "main")
    edit_line(away / "a.txt", 2, "the host's line")
    commit(away)
    fetched = git(away, "rev-parse", "HEAD").strip()
    edit_line(away / "b.txt", 1, "not this machine's to read")
    remote = Agent(name="far", task="t", agent="demo", branch="orchestra/far", base="", worktree=str(away), host="box")
    remote.created_at = "2026-01-01T00:01:00+00:00"
    agents = [*world.ctx.state.read().values(), remote]
    fc = world.forecast(agents=agents, store=False, sides={"far": fetched})
    assert fc.pairs == [Pair(("far", "one"), ["a.txt"], [])]
    # Without a given side (its host did not answer), it is left out: its worktree is not read either.
    fc = world.forecast(agents=agents, store=False)
    assert set(fc.agents) == {"one"}
    assert looked == ["one", "one"]
