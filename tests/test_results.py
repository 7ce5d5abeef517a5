"""`orchestra resume`, `events` and `report` through the real command line, with demo agents."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

from support import agents_json, statuses, tmux, wait_for, wait_statuses


def test_resume_brings_a_lost_agent_back_in_its_worktree(orchestra, repo, isolated, monkeypatch):
    monkeypatch.setenv("ORCHESTRA_DEMO_DELAY", "60")
    orchestra("spawn", "--agent", "demo", "--no-attach", "keep going")
    orchestra("spawn", "--agent", "demo", "--no-attach", "stay put")
    before = {a["name"]: a for a in agents_json(orchestra)}
    tmux(isolated, "kill-server")
    assert statuses(orchestra) == {"keep-going": "lost", "stay-put": "lost"}

    result = orchestra("resume", "keep-going")
    assert "resumed keep-going" in result.stdout
    after = {a["name"]: a for a in wait_statuses(orchestra, {"keep-going": "running", "stay-put": "lost"})}
    assert after["keep-going"]["worktree"] == before["keep-going"]["worktree"]
    assert after["keep-going"]["pane"] and after["keep-going"]["session_id"] is None
    screen = lambda: tmux(isolated, "capture-pane", "-p", "-t", after["keep-going"]["pane"]).stdout  # noqa: E731
    wait_for(lambda: "task: keep going" in screen(), what="the demo agent to start again with its task")

    result = orchestra("resume")  # every lost agent: the other one
    assert "resumed stay-put" in result.stdout and "keep-going" not in result.stdout
    wait_statuses(orchestra, {"keep-going": "running", "stay-put": "running"})
    assert orchestra("resume").stdout.strip() == "no agent is lost: nothing to resume"


def test_resume_refuses_an_agent_that_is_not_lost(orchestra, repo, monkeypatch):
    monkeypatch.setenv("ORCHESTRA_DEMO_DELAY", "60")
    orchestra("spawn", "--agent", "demo", "--no-attach", "alive")
    pane = agents_json(orchestra)[0]["pane"]
    result = orchestra("resume", "alive", check=False)
    assert result.returncode == 1 and "not lost" in result.stderr and "Traceback" not in result.stderr
    assert agents_json(orchestra)[0]["pane"] == pane
    unknown = orchestra("resume", "nobody", check=False)
    assert unknown.returncode == 1 and "no agent named 'nobody'" in unknown.stderr


def test_resume_without_a_worktree_says_so_and_touches_nothing(orchestra, repo, isolated, monkeypatch):
    monkeypatch.setenv("ORCHESTRA_DEMO_DELAY", "60")
    orchestra("spawn", "--agent", "demo", "--no-attach", "homeless")
    worktree = Path(agents_json(orchestra)[0]["worktree"])
    tmux(isolated, "kill-server")
    shutil.rmtree(worktree)
    result = orchestra("resume", check=False)
    assert result.returncode == 1 and "could not resume homeless" in result.stderr and "is gone" in result.stderr
    assert statuses(orchestra) == {"homeless": "lost"}


def test_report_sums_up_each_agent(orchestra, repo):
    orchestra("spawn", "--agent", "demo", "--no-attach", "write the notes")
    orchestra("spawn", "--agent", "demo", "--no-attach", "fail on purpose")
    wait_statuses(orchestra, {"write-the-notes": "exited", "fail-on-purpose": "failed"})
    reports = {r["name"]: r for r in json.loads(orchestra("report", "--json").stdout)}
    notes = reports["write-the-notes"]
    assert [c["subject"] for c in notes["commits"]] == ["demo: write the notes"]
    assert (notes["files_changed"], notes["lines_added"], notes["lines_removed"]) == (1, 1, 0)
    assert notes["status"] == "exited" and notes["uncommitted"] is False
    failed = reports["fail-on-purpose"]
    assert failed["status"] == "failed" and failed["exit_code"] == 1 and failed["commits"] == []
    text = orchestra("report").stdout
    assert "write-the-notes" in text and "demo: write the notes" in text and "1 file changed, +1 -0" in text


def test_report_counts_work_of_an_agent_whose_worktree_is_gone(orchestra, repo):
    orchestra("spawn", "--agent", "demo", "--no-attach", "vanishing act")
    agent = wait_statuses(orchestra, {"vanishing-act": "exited"})[0]
    shutil.rmtree(agent["worktree"])
    (item,) = json.loads(orchestra("report", "--json").stdout)
    assert item["status"] == "lost" and len(item["commits"]) == 1 and item["lines_added"] == 1


def test_events_lists_the_log_as_ndjson_and_as_lines(orchestra, repo):
    orchestra("spawn", "--agent", "demo", "--no-attach", "log me")
    orchestra("spawn", "--agent", "demo", "--no-attach", "other one")
    wait_statuses(orchestra, {"log-me": "exited", "other-one": "exited"})
    lines = orchestra("events", "--json").stdout.splitlines()
    events = [json.loads(line) for line in lines]
    mine = [e for e in events if e["agent"] == "log-me"]
    assert "spawned" in [e["type"] for e in mine] and mine[-1]["status"] == "exited"
    only = [json.loads(line) for line in orchestra("events", "--json", "--agent", "log-me").stdout.splitlines()]
    assert only == mine
    text = orchestra("events").stdout
    assert "log-me" in text and "→ exited" in text


def test_events_follow_prints_new_events_as_they_happen(orchestra, repo):
    follower = subprocess.Popen(
        [sys.executable, "-m", "orchestra", "events", "--follow", "--json"],
        cwd=repo,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        text=True,
    )
    printed: list[str] = []
    # A thread reads, so that wait_for's deadline holds (a bare readline could block past it).
    threading.Thread(target=lambda: printed.extend(iter(follower.stdout.readline, "")), daemon=True).start()
    try:
        orchestra("spawn", "--agent", "demo", "--no-attach", "followed")
        seen = lambda: [json.loads(line) for line in list(printed)]  # noqa: E731
        wait_for(lambda: any(e.get("status") == "exited" for e in seen()), what="the agent's exit, followed")
        assert {(e["type"], e["agent"]) for e in seen()} >= {("spawned", "followed"), ("status", "followed")}
    finally:
        follower.kill()
        follower.wait()


def test_events_of_an_agent_the_project_never_had_is_an_error(orchestra, repo):
    orchestra("spawn", "--agent", "demo", "--no-attach", "known")
    wait_statuses(orchestra, {"known": "exited"})
    result = orchestra("events", "--agent", "knwon", check=False)
    assert result.returncode == 1 and result.stdout == ""
    assert "no agent named 'knwon'" in result.stderr and "Traceback" not in result.stderr
    orchestra("kill", "--force", "known")  # a removed agent's history is still there to read
    assert "known" in orchestra("events", "--agent", "known").stdout


def test_resume_gives_the_agent_its_kinds_environment_again(orchestra, repo, isolated, tmp_path, monkeypatch):
    from orchestra.context import Context
    from orchestra.hookspecs import hookimpl
    from orchestra.models import AgentKind
    from orchestra.resuming import resume
    from orchestra.spawning import TaskSpec, spawn, spawn_environment

    out = tmp_path / "env.txt"
    script = f"import os, time; open({str(out)!r}, 'a').write(os.environ.get('FROM_KIND', '-') + '\\n'); time.sleep(60)"

    class EnvKind:
        @hookimpl
        def register_agents(self, register):
            register(
                AgentKind(
                    name="envkind",
                    build_argv=lambda agent, settings: [sys.executable, "-c", script],
                    build_env=lambda agent, settings: {"FROM_KIND": f"hooks for {agent.name}"},
                )
            )

    monkeypatch.chdir(repo)
    ctx = Context.open()
    from orchestra import plugins as plugins_module

    ctx._plugins = plugins_module.load(extra={"envkind": EnvKind()})
    spawn(ctx, [TaskSpec(task="t", name="env", agent="envkind")], spawn_environment())
    wait_for(lambda: out.exists() and out.read_text() == "hooks for env\n", what="the spawned agent's environment")
    tmux(isolated, "kill-server")
    assert observe_status(ctx) == "lost"
    resume(ctx, ["env"], spawn_environment())
    wait_for(lambda: out.read_text() == "hooks for env\nhooks for env\n", what="the resumed agent's environment")


def observe_status(ctx) -> str:
    from orchestra.reconcile import observe

    return observe(ctx)[0].status.value
