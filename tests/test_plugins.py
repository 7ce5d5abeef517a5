"""The plugin seam: bundled plugins through the entry-point group, fault isolation, vetoes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from orchestra import plugins as plugins_module
from orchestra.context import Context
from orchestra.errors import SpawnVetoed
from orchestra.hookspecs import hookimpl
from orchestra.models import Agent, AgentKind, AgentSettings, Check
from orchestra.spawning import TaskSpec, spawn, spawn_environment
from support import branches


def test_bundled_plugins_load_through_entry_points():
    loaded = plugins_module.load()
    assert {"claude", "command", "demo"} <= set(loaded.kinds)
    assert loaded.kinds["claude"].plugin == "claude"
    assert loaded.problems == []


def test_disabled_plugin_is_not_loaded():
    loaded = plugins_module.load(disabled=["demo"])
    assert "demo" not in loaded.kinds and "claude" in loaded.kinds


def test_custom_kind_from_config_uses_the_command_template():
    loaded = plugins_module.load(custom_commands={"mybot": ["mybot", "--task", "{task}"]})
    kind = loaded.kinds["mybot"]
    agent = Agent(name="n", task="do it", agent="mybot", branch="b", base="x", worktree="/w", port=4100)
    assert kind.build_argv(agent, AgentSettings(command=["mybot", "--task", "{task}", "--port={port}"])) == [
        "mybot",
        "--task",
        "do it",
        "--port=4100",
    ]


def test_claude_argv_passes_the_task_after_double_dash():
    kind = plugins_module.load().kinds["claude"]
    agent = Agent(name="n", task="--help me", agent="claude", branch="b", base="x", worktree="/w")
    settings = AgentSettings(command=["claude"], args=["--permission-mode", "acceptEdits"], model="opus")
    assert kind.build_argv(agent, settings) == [
        "claude",
        "--permission-mode",
        "acceptEdits",
        "--model",
        "opus",
        "--",
        "--help me",
    ]


class Raising:
    @hookimpl
    def pre_spawn(self, agent):
        raise RuntimeError("boom")


class Vetoing:
    @hookimpl
    def pre_spawn(self, agent):
        raise SpawnVetoed(f"no agents named {agent.name} today")


class Rewriting:
    @hookimpl
    def pre_spawn(self, agent, env):
        env["ADDED_BY_PLUGIN"] = "1"
        agent.argv = [*agent.argv[:-1], agent.argv[-1].upper()]


class DoubleKind:
    @hookimpl
    def register_agents(self, register):
        register(AgentKind(name="demo", build_argv=lambda a, s: ["x"]))


def context_with(repo, monkeypatch, *extra):
    monkeypatch.chdir(repo)
    ctx = Context.open()
    for n, plugin in enumerate(extra):
        ctx.plugins.manager.register(plugin, name=f"test-plugin-{n}")
    return ctx


def test_a_raising_hook_is_reported_and_skipped(repo, monkeypatch):
    ctx = context_with(repo, monkeypatch, Raising(), Rewriting())
    result = spawn(ctx, [TaskSpec(task="shout", agent="demo")], spawn_environment())
    assert result.agents[0].argv[-1] == "SHOUT"
    assert any("test-plugin-0" in w and "boom" in w for w in result.warnings)


def test_a_veto_stops_the_spawn_before_anything_is_made(repo, monkeypatch):
    ctx = context_with(repo, monkeypatch, Vetoing())
    with pytest.raises(SpawnVetoed, match="no agents named vetoed today"):
        spawn(ctx, [TaskSpec(task="vetoed", agent="demo")], spawn_environment())
    assert branches(repo) == ["main"] and ctx.state.read() == {}


def test_two_plugins_claiming_one_kind_is_reported():
    loaded = plugins_module.load(extra={"double": DoubleKind()})
    assert loaded.kinds["demo"].plugin == "demo", "the first registered keeps the kind"
    assert loaded.problems == ["plugins 'demo' and 'double' both provide the agent kind 'demo'; using 'demo'."]


class BrokenRegistration:
    @hookimpl
    def register_agents(self, register):
        raise ValueError("cannot register")


def test_a_failing_registration_is_reported_and_the_rest_load():
    loaded = plugins_module.load(extra={"broken": BrokenRegistration()})
    assert {"claude", "demo"} <= set(loaded.kinds)
    assert loaded.problems == ["plugin 'broken' failed in register_agents: cannot register"]


def test_command_template_never_substitutes_inside_the_task():
    kind = plugins_module.load().kinds["command"]
    agent = Agent(
        name="n1", task="use {port} and {name}", agent="command", branch="b", base="x", worktree="/w", port=4100
    )
    argv = kind.build_argv(agent, AgentSettings(command=["bot", "--prompt={task}", "--port={port}"]))
    assert argv == ["bot", "--prompt=use {port} and {name}", "--port=4100"]


def test_claude_agents_report_through_hooks_and_resume_their_session():
    import json
    import shlex

    kind = plugins_module.load().kinds["claude"]
    assert kind.session_ids and kind.build_resume_argv is not None
    agent = Agent(name="n", task="t", agent="claude", branch="b", base="x", worktree="/w", session_id="sid")
    handler = ["/opt/my python/bin/python", "-m", "orchestra", "_hook", "--state-dir", "/r/.git/orchestra", "n"]
    settings = AgentSettings(command=["claude"], hook_command=handler)
    argv = kind.build_argv(agent, settings)
    hooks = json.loads(argv[argv.index("--settings") + 1])["hooks"]
    assert set(hooks) == {
        "SessionStart",
        "UserPromptSubmit",
        "PermissionRequest",
        "Notification",
        "PostToolUse",
        "Stop",
        "StopFailure",
        "SessionEnd",
    }
    for entries in hooks.values():
        (entry,) = entries
        (hook,) = entry["hooks"]
        assert shlex.split(hook["command"]) == handler  # Claude Code runs it with /bin/sh -c
    assert argv[argv.index("--session-id") + 1] == "sid" and argv[-2:] == ["--", "t"]
    resumed = kind.build_resume_argv(agent, settings)
    assert resumed[-2:] == ["--resume", "sid"] and "t" not in resumed and "--settings" in resumed


# -- what the core asks every plugin: a conversation id's owner, doctor's checks -------------

TAKEN = "11111111-1111-4111-8111-111111111111"
RECORDED = "22222222-2222-4222-8222-222222222222"
FRESH = "33333333-3333-4333-8333-333333333333"


class Claiming:
    @hookimpl
    def session_id_taken(self, kind, session_id):
        return session_id == TAKEN if kind.name == "claude" else None


def test_a_session_id_that_an_agent_or_a_plugin_uses_is_drawn_again(repo, monkeypatch):
    import uuid

    from orchestra.spawning import new_session_id, taken_by_plugins

    ctx = context_with(repo, monkeypatch, Claiming())
    ids = iter([uuid.UUID(TAKEN), uuid.UUID(RECORDED), uuid.UUID(FRESH)])
    monkeypatch.setattr(uuid, "uuid4", lambda: next(ids))
    recorded = {
        "a": Agent(name="a", task="t", agent="claude", branch="b", base="x", worktree="/w", session_id=RECORDED)
    }
    assert new_session_id(recorded, taken_by_plugins(ctx, ctx.plugins.kind("claude"))) == FRESH
    # The claude plugin answers only for its own kind; with no transcripts, no id is taken.
    assert ctx.plugins.call_first("session_id_taken", kind=ctx.plugins.kind("demo"), session_id=TAKEN) is None
    plain = Context.open()
    assert plain.plugins.call_first("session_id_taken", kind=plain.plugins.kind("claude"), session_id=TAKEN) is False


class Checking:
    @hookimpl
    def doctor_checks(self, root, config):
        return [
            Check("probe", None, f"looked at {root.name}, default agent {config.orchestra['default_agent']}"),
            "oops",
        ]


class FailingCheck:
    @hookimpl
    def doctor_checks(self):
        raise RuntimeError("cannot look")


def test_plugins_doctor_checks_are_listed_and_their_failures_reported(repo, monkeypatch):
    from orchestra.doctor import check_project

    checks = check_project(context_with(repo, monkeypatch, Checking(), FailingCheck()), fix=False)
    names = [c.name for c in checks]
    assert Check("probe", None, "looked at project, default agent claude") in checks
    assert names.index("probe") > max(i for i, name in enumerate(names) if name.startswith("agent "))
    problems = [c.detail for c in checks if c.name == "plugins"]
    assert any("test-plugin-1" in p and "cannot look" in p for p in problems)
    assert any("returned 'oops', not a Check" in p for p in problems)


DOCTOR_PROBE = """
from orchestra.hookspecs import hookimpl
from orchestra.models import Check


@hookimpl
def doctor_checks(root):
    return [Check("probe", False, f"the probe cannot work in {root.name}: install the probe tool")]
"""


def test_a_plugins_doctor_check_is_in_orchestra_doctor(orchestra, repo, tmp_path, monkeypatch):
    from test_plugin_admin import fake_distribution

    fake_distribution(tmp_path / "site", "doctor_probe", DOCTOR_PROBE, "probe")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "site"))
    result = orchestra("doctor", check=False)
    assert result.returncode == 1  # a check that is not ok is a problem
    assert "✗ probe          the probe cannot work in project: install the probe tool" in result.stdout.splitlines()
    checks = json.loads(orchestra("doctor", "--json", check=False).stdout)
    assert {
        "name": "probe",
        "ok": False,
        "detail": "the probe cannot work in project: install the probe tool",
        "fixed": False,
    } in checks


class Hearing:
    """A notifier that says which events it acts on."""

    def __init__(self, events):
        self.events = events

    @hookimpl
    def notifier_events(self, config):
        return self.events

    @hookimpl
    def notifier(self, event, agent, config):
        pass


class HearingAll:
    @hookimpl
    def notifier(self, event, agent, config):
        pass


class FailingToSay(Hearing):
    @hookimpl
    def notifier_events(self, config):
        raise RuntimeError("cannot tell")


def test_the_events_notifiers_act_on_are_what_every_one_says(repo, monkeypatch):
    # The bundled notify and slack plugins say their configured events, as plain strings.
    (repo / "orchestra.toml").write_text('[plugins.notify]\nevents = ["done"]\n[plugins.slack]\nevents = ["failed"]\n')
    assert context_with(repo, monkeypatch).plugins.notified(Context.open().config) == ["done", "failed"]
    ctx = context_with(repo, monkeypatch, Hearing(["conflict", "waiting"]))
    assert ctx.plugins.notified(ctx.config) == ["conflict", "done", "failed", "waiting"]
    # One that does not say, or cannot, hears everything: then every event goes to the notifiers.
    ctx = context_with(repo, monkeypatch, Hearing(["waiting"]), HearingAll())
    assert ctx.plugins.notified(ctx.config) is None
    ctx = context_with(repo, monkeypatch, FailingToSay(None))
    assert ctx.plugins.notified(ctx.config) is None
    assert any("notifier_events" in p and "cannot tell" in p for p in ctx.plugins.problems)
    # A spawn asks for each agent it starts: the failure is said once all the same.
    result = spawn(ctx, [TaskSpec(task="one", agent="demo"), TaskSpec(task="two", agent="demo")], spawn_environment())
    assert [w for w in result.warnings if "notifier_events" in w] == [
        "plugin 'test-plugin-0' failed in notifier_events: cannot tell"
    ]
    ctx = context_with(repo, monkeypatch, Hearing("done"))  # not a list of names: all of them
    assert ctx.plugins.notified(ctx.config) is None


FIND = """
import json, sys
from orchestra import plugins
found = {f.name: f.value for f in plugins.entry_points()}
print(json.dumps([found.get("cached_probe"), "importlib.metadata" in sys.modules]))
"""


def test_entry_points_are_found_again_only_when_a_distribution_changes(tmp_path, monkeypatch):
    """Kept in the user's cache for this interpreter and path: a second command does not import
    importlib.metadata; a distribution that appears, changes its entry points or goes is seen."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.setenv("PYTHONPATH", str(site))

    def find() -> list:
        result = subprocess.run([sys.executable, "-c", FIND], capture_output=True, text=True, check=True)
        return json.loads(result.stdout)

    assert find() == [None, True]  # found, and kept
    assert find() == [None, False]  # from the cache
    info = site / "cached_probe-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: cached_probe\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[orchestra]\ncached_probe = cached_probe\n")
    assert find() == ["cached_probe", True]  # installed: found again
    assert find() == ["cached_probe", False]
    entry_points = info / "entry_points.txt"
    entry_points.write_text("[orchestra]\ncached_probe = cached_probe:plugin\n")
    os.utime(entry_points, ns=(entry_points.stat().st_mtime_ns + 10**9,) * 2)  # a later edit, whatever the clock
    assert find() == ["cached_probe:plugin", True]
    shutil.rmtree(info)
    assert find() == [None, True]  # uninstalled


def test_an_entry_point_loads_its_module_or_attribute():
    from orchestra.plugins import Found

    assert Found("x", "orchestra.hookspecs", None, None).load().__name__ == "orchestra.hookspecs"
    assert Found("x", "orchestra.hookspecs:hookimpl", None, None).load() is hookimpl
    assert Found("x", "orchestra.hookspecs : hookimpl [extra]", None, None).load() is hookimpl
