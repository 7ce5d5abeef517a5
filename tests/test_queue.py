"""The queue and the guards before a start (`orchestra.schedule`), with real git, tmux and demo agents."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from support import agents_json, git, tmux, wait_for

HOLDING = {"starting", "running", "waiting"}
ENDED = {"exited", "failed"}


def configure(repo: Path, schedule: str, extra: str = "") -> None:
    (repo / "orchestra.toml").write_text(f'[orchestra]\ndefault_agent = "demo"\n{extra}\n[schedule]\n{schedule}\n')
    git(repo, "add", "orchestra.toml")
    git(repo, "commit", "-qm", "schedule")


def spawn(orchestra, *tasks: str, delay: str = "0.2", extra: tuple[str, ...] = ()) -> list[dict]:
    env = {**os.environ, "ORCHESTRA_DEMO_DELAY": delay}
    out = orchestra("spawn", "--json", "--no-attach", *extra, *tasks, env=env).stdout
    return json.loads(out)


def state_dir(repo: Path) -> Path:
    return repo / ".git" / "orchestra"


def status_events(repo: Path) -> list[dict]:
    """The status changes in the order they were made: each one's time was taken under the state lock."""
    lines = (state_dir(repo) / "events.ndjson").read_text().splitlines()
    events = [json.loads(line) for line in lines]
    return sorted((e for e in events if e["type"] == "status"), key=lambda e: e["time"])


def most_at_once(events: list[dict]) -> int:
    now: dict[str, str] = {}
    most = 0
    for event in events:
        now[event["agent"]] = event["status"]
        most = max(most, sum(1 for s in now.values() if s in HOLDING))
    return most


def watch_until_ended(orchestra, count: int, cap: int, timeout: float = 90) -> set[str]:
    """Sample `ls` until `count` agents have ended, checking the cap on every look; returns the
    statuses seen (and that queued agents showed their place)."""
    seen: set[str] = set()

    def ended():
        agents = agents_json(orchestra)
        holding = [a["name"] for a in agents if a["status"] in HOLDING]
        assert len(holding) <= cap, f"{len(holding)} at once: {holding}"
        for a in agents:
            seen.add(a["status"])
            if a["status"] == "queued":
                assert a["queue_position"] >= 1 and a["waits_for"], a
        return len(agents) == count and all(a["status"] in ENDED for a in agents)

    wait_for(ended, timeout=timeout, interval=0.1, what=f"{count} agents to end")
    return seen


def orchestra_processes(repo: Path) -> list[str]:
    """Processes whose command line names this test's state folder (launchers, starters, notifiers)."""
    found = []
    needle = str(state_dir(repo)).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if needle in cmdline:
            found.append(cmdline.replace(b"\0", b" ").decode(errors="replace"))
    return found


def no_process_left(repo: Path) -> None:
    wait_for(lambda: not orchestra_processes(repo), timeout=20, what="no orchestra process of this project")


def test_six_tasks_run_two_at_a_time_and_all_end(repo, orchestra):
    configure(repo, "max_running = 2")
    spawned = spawn(orchestra, *(f"task {n}" for n in range(1, 7)))
    assert [a["status"] for a in spawned].count("queued") == 4
    assert {a["status"] for a in spawned} <= {"starting", "running", "queued"}
    queued = [a for a in spawned if a["status"] == "queued"]
    assert all(not Path(a["worktree"]).exists() for a in queued)  # no disk spent on a queued task
    watch_until_ended(orchestra, 6, cap=2)
    assert {a["status"] for a in agents_json(orchestra)} == {"exited"}
    events = status_events(repo)
    assert most_at_once(events) == 2
    for agent in queued:  # each left the queue once
        moves = [e for e in events if e["agent"] == agent["name"] and e["status"] == "starting"]
        assert len(moves) == 1 and moves[0]["data"]["from"] == "queued"
    no_process_left(repo)


def test_queue_carries_on_after_tmux_kill_server_and_resume(repo, orchestra, isolated):
    configure(repo, "max_running = 2")
    spawn(orchestra, *(f"task {n}" for n in range(1, 7)), delay="1")

    def two_running_after_one_ended() -> bool:
        # One look: two looks could see task 1 running, then ended along with task 2 (they start
        # together), while task 3 is still starting, which a killed server sends back to the queue.
        found = [a["status"] for a in agents_json(orchestra)]
        return found.count("running") == 2 and "exited" in found

    wait_for(two_running_after_one_ended, timeout=60, what="two running after one ended")
    tmux(isolated, "kill-server")
    shown = {a["name"]: a["status"] for a in agents_json(orchestra)}
    assert "queued" in shown.values() and "lost" in shown.values(), shown
    # Lost agents keep their slots: nothing new starts before they are resumed.
    assert sum(1 for s in shown.values() if s in HOLDING | {"lost"}) <= 2, shown
    orchestra("resume")
    watch_until_ended(orchestra, 6, cap=2)
    events = status_events(repo)
    now: dict[str, str] = {}
    for event in events:
        now[event["agent"]] = event["status"]
        assert sum(1 for s in now.values() if s in HOLDING | {"lost"}) <= 2, event
    no_process_left(repo)


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_agents_wait_for_disk_and_start_once_it_is_freed(repo, orchestra, small_disk):
    configure(repo, 'min_free_disk = "1MB"', extra=f'worktree_root = "{small_disk}/wt"')
    filler = small_disk / "filler"
    with open(filler, "wb") as handle, contextlib.suppress(OSError):  # writing stops where it is full
        handle.write(b"\0" * (2 * 1024 * 1024))
    spawned = spawn(orchestra, "first task", "second task")
    assert [a["status"] for a in spawned] == ["queued", "queued"]
    listed = orchestra("ls").stdout
    assert "waits for disk" in listed
    assert all(a["waits_for"].startswith("disk") for a in agents_json(orchestra))
    filler.unlink()
    # The next look at the agents (this `ls`, the board's refresh, an agent's event) starts them.
    watch_until_ended(orchestra, 2, cap=2)
    assert {a["status"] for a in agents_json(orchestra)} == {"exited"}
    no_process_left(repo)


def test_concurrent_spawns_and_finishes_start_each_queued_agent_once(repo, orchestra):
    configure(repo, "max_running = 2")
    with ThreadPoolExecutor(3) as pool:
        batches = list(pool.map(lambda n: spawn(orchestra, *(f"batch {n} task {m}" for m in range(3))), range(3)))
    names = [a["name"] for batch in batches for a in batch]
    assert len(set(names)) == 9
    watch_until_ended(orchestra, 9, cap=2)
    events = status_events(repo)
    assert most_at_once(events) <= 2
    for name in names:
        starts = [e for e in events if e["agent"] == name and e["status"] == "starting"]
        assert len(starts) == 1, (name, starts)
        assert [e["status"] for e in events if e["agent"] == name][-1] == "exited"
    no_process_left(repo)


def test_kill_of_a_queued_agent_removes_it(repo, orchestra):
    configure(repo, "max_running = 1")
    first, second, third = spawn(orchestra, "first task", "second task", "third task", delay="0.5")
    assert (second["status"], third["status"]) == ("queued", "queued")
    assert orchestra("kill", second["name"]).returncode == 0
    watch_until_ended(orchestra, 2, cap=1)
    assert [a["name"] for a in agents_json(orchestra)] == [first["name"], third["name"]]
    assert not any(e["agent"] == second["name"] and e["status"] == "starting" for e in status_events(repo))
    assert f"orchestra/{second['name']}" not in git(repo, "branch", "--format=%(refname:short)").split()


def test_parallel_caps_one_spawn_and_stagger_spaces_starts(repo, orchestra):
    configure(repo, 'stagger = "1s"')
    spawned = spawn(orchestra, "one", "two", "three", extra=("-p", "2"))
    assert [a["status"] for a in spawned] == ["starting", "queued", "queued"]
    watch_until_ended(orchestra, 3, cap=2)
    events = status_events(repo)
    assert most_at_once(events) <= 2
    from datetime import datetime

    # `started_at`: the moment the schedule let each one start (the spawn's first at its reservation)
    starts = sorted(datetime.fromisoformat(a["started_at"]) for a in agents_json(orchestra))
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(starts)]
    assert len(starts) == 3 and min(gaps) >= 0.95, gaps


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("max_running = -1", "max_running"),
        ('min_free_disk = "lots"', "min_free_disk"),
        ('stagger = "soon"', "stagger"),
    ],
)
def test_bad_schedule_values_are_one_sentence(repo, orchestra, line, words):
    configure(repo, line)
    result = orchestra("ls", check=False)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in result.stderr, result.stderr


def test_parallel_must_be_positive(repo, orchestra):
    result = orchestra("spawn", "--no-attach", "-p", "0", "a task", check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--parallel" in result.stderr


def test_a_queued_agent_runs_with_the_environment_of_its_spawn(repo, orchestra):
    configure(repo, "max_running = 1", extra="")
    (repo / "orchestra.toml").write_text(
        (repo / "orchestra.toml").read_text()
        + f'\n[agents.envy]\ncommand = ["{sys.executable}", "-c", "import os; open(os.environ[\'OUT\'], \'w\').write(os.environ[\'MARK\'])", "{{task}}"]\n'
    )
    out = repo.parent / "mark.txt"
    env = {**os.environ, "MARK": "from the spawning shell", "OUT": str(out)}
    orchestra("spawn", "--json", "--no-attach", "--agent", "envy", "first", "second", env=env)
    wait_for(lambda: all(a["status"] in ENDED for a in agents_json(orchestra)), timeout=30, what="both ended")
    assert out.read_text() == "from the spawning shell"
    assert {a["status"] for a in agents_json(orchestra)} == {"exited"}


# -- the schedule's decision, pure ------------------------------------------------------------


def _records(*rows: tuple[str, str, dict]) -> dict[str, dict]:
    return {
        name: {"name": name, "status": status, "argv": ["x"], "created_at": f"t{n}", **extra}
        for n, (name, status, extra) in enumerate(rows)
    }


def test_plan_takes_the_queue_in_order_under_each_cap():
    from orchestra.schedule import Limits, plan

    records = _records(
        ("a", "running", {"spawn_batch": "s1"}),
        ("b", "queued", {"ticket": 3, "spawn_batch": "s1", "parallel": 1}),
        ("c", "queued", {"ticket": 4, "spawn_batch": "s2"}),
        ("d", "queued", {"ticket": 5, "spawn_batch": "s2"}),
        ("e", "done", {}),
        ("f", "lost", {}),
    )
    found = plan(records, Limits(max_running=3), lambda: None, now=0.0)
    # a and f hold slots (lost until resumed), done does not; b waits for its spawn's own cap
    assert found.admit == ["c"]
    assert found.positions == {"b": 1, "c": 2, "d": 3}
    assert "--parallel 1" in found.reasons["b"] and "max_running 3 taken, 1 of them lost" in found.reasons["d"]
    assert found.wait is None


def test_plan_waits_for_disk_holds_and_the_stagger():
    from orchestra.schedule import Limits, plan

    records = _records(("a", "queued", {"ticket": 1}), ("b", "queued", {"ticket": 2, "agent": "claude"}))
    short = plan(records, Limits(min_free_disk=5_000_000_000), lambda: 1_000_000_000, now=0.0)
    assert short.admit == [] and short.reasons["a"].startswith("disk: 1.0 GB free")
    held = plan(records, Limits(), lambda: None, now=0.0, holds=[lambda r: "a usage limit" if r.get("agent") else None])
    assert held.admit == ["a"] and held.reasons["b"] == "a usage limit"
    records["z"] = {"name": "z", "status": "exited", "started_at": "1970-01-01T00:00:10+00:00", "argv": ["x"]}
    staggered = plan(records, Limits(stagger=2.0), lambda: None, now=11.0)
    assert staggered.admit == [] and staggered.wait == pytest.approx(1.0)
    later = plan(records, Limits(stagger=2.0), lambda: None, now=12.5)
    assert later.admit == ["a"] and later.wait == pytest.approx(2.0)  # one start, then the next stagger


def test_sizes_and_durations():
    from orchestra.config import parse_duration, parse_size

    assert parse_size("5GB") == 5_000_000_000 and parse_size("1.5GiB") == int(1.5 * 2**30) and parse_size("") == 0
    assert parse_duration("2s") == 2.0 and parse_duration("500ms") == 0.5 and parse_duration("1m") == 60.0
    for bad in ("lots", "-1GB", "5 parsecs"):
        with pytest.raises(ValueError, match="is not a size"):
            parse_size(bad)


def test_an_admitted_agent_whose_starter_died_goes_back_to_the_queue(repo, orchestra):
    from orchestra import lifecycle
    from orchestra.state import State

    configure(repo, "max_running = 1")
    first, second = spawn(orchestra, "first task", "second task", delay="30")
    state = State(state_dir(repo))
    lock = state_dir(repo) / "spawning" / f"{second['name']}.lock"
    with state.update_raw() as records:  # what a starter killed between its decision and the window leaves
        lifecycle.apply_to(records, second["name"], "admitted")
        lock.write_text("")
    assert orchestra("doctor", "--fix", check=False).returncode in (0, 1)
    shown = {a["name"]: a for a in agents_json(orchestra)}
    assert shown[second["name"]]["status"] == "queued", shown[second["name"]]
    assert shown[second["name"]]["error"] == "its start was interrupted"
    orchestra("kill", "--force", first["name"])  # its slot frees: the queue goes on
    wait_for(
        lambda: {a["name"]: a["status"] for a in agents_json(orchestra)} == {second["name"]: "running"},
        timeout=30,
        what="the second agent running",
    )
