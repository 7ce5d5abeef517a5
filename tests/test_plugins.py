"""The plugin seam: bundled plugins through the entry-point group, fault isolation, vetoes."""

from __future__ import annotations

import pytest

from orchestra import plugins as plugins_module
from orchestra.context import Context
from orchestra.errors import SpawnVetoed
from orchestra.hookspecs import hookimpl
from orchestra.models import Agent, AgentKind, AgentSettings
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
        "mybot", "--task", "do it", "--port=4100",
    ]  # fmt: skip


def test_claude_argv_passes_the_task_after_double_dash():
    kind = plugins_module.load().kinds["claude"]
    agent = Agent(name="n", task="--help me", agent="claude", branch="b", base="x", worktree="/w")
    settings = AgentSettings(command=["claude"], args=["--permission-mode", "acceptEdits"], model="opus")
    assert kind.build_argv(agent, settings) == ["claude", "--permission-mode", "acceptEdits", "--model", "opus", "--", "--help me"]


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
    agent = Agent(name="n1", task="use {port} and {name}", agent="command", branch="b", base="x", worktree="/w", port=4100)
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
    assert set(hooks) == {"SessionStart", "UserPromptSubmit", "PermissionRequest", "Notification", "PostToolUse",
                          "Stop", "StopFailure", "SessionEnd"}  # fmt: skip
    for entries in hooks.values():
        (entry,) = entries
        (hook,) = entry["hooks"]
        assert shlex.split(hook["command"]) == handler  # Claude Code runs it with /bin/sh -c
    assert argv[argv.index("--session-id") + 1] == "sid" and argv[-2:] == ["--", "t"]
    resumed = kind.build_resume_argv(agent, settings)
    assert resumed[-2:] == ["--resume", "sid"] and "t" not in resumed and "--settings" in resumed
