"""State: atomic writes under a lock, concurrent writers, the event log, launch files."""

from __future__ import annotations

import json
import multiprocessing
import os
import stat

from orchestra.models import Agent, Event, Status
from orchestra.state import State


def make_agent(name: str, task: str = "task") -> Agent:
    return Agent(name=name, task=task, agent="demo", branch=f"orchestra/{name}", base="0" * 40, worktree=f"/w/{name}")


def test_round_trip_keeps_every_field_and_odd_bytes(tmp_path):
    state = State(tmp_path / "s")
    task = "bytes \udcff\udc80 and 認証 and \x00 nul"
    with state.update() as agents:
        agents["a"] = make_agent("a", task)
        agents["a"].set_status(Status.RUNNING, exit_code=None, port=4100)
    read = state.read()["a"]
    assert read.task == task and read.status == Status.RUNNING and read.port == 4100
    assert json.loads(state.path.read_text())["version"] == 1


def test_no_write_when_nothing_changed(tmp_path):
    state = State(tmp_path / "s")
    with state.update() as agents:
        agents["a"] = make_agent("a")
    before = state.path.stat().st_mtime_ns
    with state.update():
        pass
    assert state.path.stat().st_mtime_ns == before


def test_an_exception_inside_update_writes_nothing(tmp_path):
    state = State(tmp_path / "s")
    try:
        with state.update() as agents:
            agents["a"] = make_agent("a")
            raise RuntimeError("half-way")
    except RuntimeError:
        pass
    assert state.read() == {}
    assert not list(state.dir.glob(".state.*"))


def _add_many(state_dir: str, prefix: str, count: int) -> None:
    state = State(state_dir)
    for n in range(count):
        with state.update() as agents:
            agents[f"{prefix}-{n}"] = make_agent(f"{prefix}-{n}")
        state.append_events([Event("spawned", agent=f"{prefix}-{n}")])


def test_concurrent_writers_lose_nothing(tmp_path):
    state_dir = str(tmp_path / "s")
    processes = [multiprocessing.Process(target=_add_many, args=(state_dir, f"p{i}", 25)) for i in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
        assert process.exitcode == 0
    state = State(state_dir)
    assert len(state.read()) == 100
    events = state.read_events()
    assert len(events) == 100 and {e["type"] for e in events} == {"spawned"}


def test_event_log_skips_torn_lines(tmp_path):
    state = State(tmp_path / "s")
    state.append_events([Event("a"), Event("b")])
    with open(state.events_path, "ab") as handle:
        handle.write(b'{"type": "torn", "ag')
    assert [e["type"] for e in state.read_events()] == ["a", "b"]


def test_launch_env_is_private_and_taken_once(tmp_path):
    state = State(tmp_path / "s")
    path = state.write_launch_env("a", {"env": {"SECRET": "s3cret"}, "setup": "", "idle": False})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(state.launch_dir.stat().st_mode) == 0o700
    assert state.take_launch_env("a")["env"]["SECRET"] == "s3cret"
    assert not path.exists()
    assert state.take_launch_env("a") is None
    assert "s3cret" not in (state.path.read_text() if state.path.exists() else "")
    assert not os.listdir(state.launch_dir)


def test_the_state_file_is_private_and_no_partial_file_stays(tmp_path):
    state = State(tmp_path / "s")
    with state.update() as agents:
        agents["a"] = make_agent("a")
    assert stat.S_IMODE(state.path.stat().st_mode) == 0o600
    assert sorted(os.listdir(state.dir)) == ["state.json", "state.lock"]


def test_kind_is_the_agent_field_under_its_own_name():
    agent = make_agent("a")
    assert agent.kind == "demo" and "kind" not in agent.to_dict() and agent.to_dict()["agent"] == "demo"


def test_the_record_check_knows_every_field_of_an_agent():
    """state.RECORD_FIELDS spells out Agent's fields for the hook handler, which does not import the models."""
    import dataclasses

    from orchestra.models import Agent
    from orchestra.state import RECORD_FIELDS, record_problem

    fields = {f.name: f for f in dataclasses.fields(Agent)}
    assert list(RECORD_FIELDS) == list(fields)
    for name, (kinds, required) in RECORD_FIELDS.items():
        field = fields[name]
        assert required == (field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING)
        assert (type(None) in kinds) == ("None" in str(field.type)), name
    record = Agent(name="a", task="t", agent="demo", branch="b", base="c", worktree="/w").to_dict()
    assert record_problem(record) is None
