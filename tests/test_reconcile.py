"""Every read reconciles state with tmux and the disk: drift shows as `lost`, never as running."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from orchestra.context import Context
from orchestra.models import Agent, Status
from orchestra.reconcile import observe, reconcile
from orchestra.spawning import TaskSpec, spawn, spawn_environment
from orchestra.tmux import Pane
from support import statuses, tmux, wait_for


@pytest.fixture
def slow(monkeypatch):
    monkeypatch.setenv("ORCHESTRA_DEMO_DELAY", "60")


def test_killed_tmux_server_makes_running_agents_lost(orchestra, repo, isolated, slow):
    orchestra("spawn", "--agent", "demo", "--no-attach", "one", "two")
    wait_for(lambda: set(statuses(orchestra).values()) == {"running"}, what="running")
    tmux(isolated, "kill-server")
    assert statuses(orchestra) == {"one": "lost", "two": "lost"}
    events = [json.loads(line) for line in (repo / ".git/orchestra/events.ndjson").read_text().splitlines()]
    assert [e["agent"] for e in events if e.get("status") == "lost"] == ["one", "two"]


def test_closed_window_makes_that_agent_lost(orchestra, repo, isolated, slow):
    orchestra("spawn", "--agent", "demo", "--no-attach", "one", "two")
    tmux(isolated, "kill-window", "-t", "=orchestra-project:=one")
    assert statuses(orchestra) == {"one": "lost", "two": wait_for(lambda: statuses(orchestra)["two"])}
    assert statuses(orchestra)["two"] in ("starting", "running")


def test_deleted_worktree_makes_the_agent_lost(orchestra, repo):
    orchestra("spawn", "--agent", "demo", "--no-attach", "gone")
    wait_for(lambda: statuses(orchestra) == {"gone": "exited"}, what="exit")
    shutil.rmtree(repo.parent / "project.worktrees" / "gone")
    assert statuses(orchestra) == {"gone": "lost"}


def test_agent_killed_by_a_signal_is_failed(orchestra, repo, isolated, slow):
    orchestra("spawn", "--agent", "demo", "--no-attach", "victim")
    wait_for(lambda: statuses(orchestra) == {"victim": "running"}, what="running")
    import json as _json
    import os
    import signal

    pane = _json.loads(orchestra("ls", "--json").stdout)[0]["pane"]
    launcher = int(tmux(isolated, "display-message", "-p", "-t", pane, "#{pane_pid}").stdout)
    children = Path(f"/proc/{launcher}/task/{launcher}/children").read_text().split()
    # The agent, not a notifier the launcher started when it recorded `running` (it reaps those).
    (agent_pid,) = [c for c in children if b"_notify" not in Path(f"/proc/{c}/cmdline").read_bytes()]
    os.kill(int(agent_pid), signal.SIGTERM)
    wait_for(lambda: statuses(orchestra) == {"victim": "failed"}, what="failed")
    agent = _json.loads(orchestra("ls", "--json").stdout)[0]
    assert agent["exit_code"] == 128 + signal.SIGTERM


def test_reconcile_rules_without_tmux(tmp_path):
    worktree = tmp_path / "w"
    worktree.mkdir()

    def agent(name, status, pane=None, exit_code=None):
        a = Agent(
            name=name,
            task="t",
            agent="demo",
            branch="b",
            base="x",
            worktree=str(worktree),
            pane=pane,
            exit_code=exit_code,
        )
        a.status = status
        return a

    agents = {
        "alive": agent("alive", Status.RUNNING, "%1"),
        "dead0": agent("dead0", Status.RUNNING, "%2"),
        "dead3": agent("dead3", Status.RUNNING, "%3"),
        "recorded": agent("recorded", Status.RUNNING, "%4", exit_code=0),
        "gone": agent("gone", Status.WAITING, "%9"),
        "exited": agent("exited", Status.EXITED, "%5"),
    }
    panes = {
        "%1": Pane("%1", "@1", "s", "alive", False, None, 1),
        "%2": Pane("%2", "@2", "s", "dead0", True, 0, 2),
        "%3": Pane("%3", "@3", "s", "dead3", True, 3, 3),
        "%4": Pane("%4", "@4", "s", "recorded", True, None, 4),
    }
    events = reconcile(agents, panes)
    assert {n: a.status for n, a in agents.items()} == {
        "alive": Status.RUNNING,
        "dead0": Status.EXITED,
        "dead3": Status.FAILED,
        "recorded": Status.EXITED,
        "gone": Status.LOST,
        "exited": Status.EXITED,
    }
    assert agents["dead3"].exit_code == 3
    assert sorted(e.agent for e in events) == ["dead0", "dead3", "gone", "recorded"]
    assert reconcile(agents, None)[0].agent == "alive", "no tmux server: every live agent is lost"


def test_observe_in_process(repo, monkeypatch):
    monkeypatch.chdir(repo)
    ctx = Context.open()
    result = spawn(ctx, [TaskSpec(task="direct call", agent="demo")], spawn_environment())
    assert [a.name for a in result.agents] == ["direct-call"] and not result.failures
    wait_for(lambda: [a.status for a in observe(Context.open())] == [Status.EXITED], what="exit")


def test_an_agent_still_being_spawned_is_not_lost(tmp_path):
    fresh = Agent(name="fresh", task="t", agent="demo", branch="b", base="x", worktree=str(tmp_path))
    stale = Agent(name="stale", task="t", agent="demo", branch="b", base="x", worktree=str(tmp_path))
    stale.updated_at = "2020-01-01T00:00:00.000+00:00"
    agents = {"fresh": fresh, "stale": stale}
    reconcile(agents, {})
    assert fresh.status == Status.STARTING, "its window is about to be recorded by the spawn that made it"
    assert stale.status == Status.LOST, "a spawn that died half-way leaves a lost agent, not a starting one forever"


def test_lost_agent_whose_pane_is_there_is_live_again_and_reused_ids_do_not_count(tmp_path):
    def agent(name, pane):
        a = Agent(
            name=name,
            task="t",
            agent="demo",
            branch="b",
            base="x",
            worktree=str(tmp_path),
            session="s",
            pane=pane,
            window="@1",
        )
        a.status = Status.LOST
        return a

    back, reused = agent("back", "%1"), agent("reused", "%2")
    reused.window = "@2"
    panes = {
        "%1": Pane("%1", "@1", "s", "back", False, None, 1),
        "%2": Pane("%2", "@9", "s", "somebody-else", False, None, 2),  # a new server gave the id to another window
    }
    reconcile({"back": back, "reused": reused}, panes)
    assert back.status == Status.RUNNING and back.error is None
    assert reused.status == Status.LOST


def screen_agent(tmp_path, **fields) -> Agent:
    values = dict(
        name="a",
        task="t",
        agent="codex",
        branch="b",
        base="x",
        worktree=str(tmp_path),
        pane="%1",
        window="@1",
        session="s",
        status=Status.RUNNING,
        screen_patterns={"waiting": [r"Allow command\?"], "busy": [r"esc to interrupt"]},
    )
    values.update(fields)
    return Agent(**values)


def test_the_screen_is_read_only_until_the_first_hook_event_unless_the_hooks_are_partial(tmp_path):
    panes = {"%1": Pane("%1", "@1", "s", "a", False, None, 1)}
    asking = {"%1": "some output\nAllow command? [y/n]\n"}
    agents = {"a": screen_agent(tmp_path)}
    reconcile(agents, panes, asking)
    assert agents["a"].status == Status.WAITING and agents["a"].waiting_for == "Allow command? [y/n]"
    hooked = {"a": screen_agent(tmp_path, last_hook="Stop")}  # hooks report everything: the screen is not asked
    reconcile(hooked, panes, asking)
    assert hooked["a"].status == Status.RUNNING
    partial = {"a": screen_agent(tmp_path, last_hook="Stop", status=Status.DONE, screen_after_hooks=True)}
    reconcile(partial, panes, {"%1": "working (esc to interrupt)\n"})
    assert partial["a"].status == Status.RUNNING  # a new turn, seen on the screen between two notifies
    reconcile(partial, panes, asking)
    assert partial["a"].status == Status.WAITING
    reconcile(partial, panes, {"%1": "working (esc to interrupt)\n"})
    assert partial["a"].status == Status.RUNNING and partial["a"].waiting_for is None


def test_the_board_sees_a_write_made_while_it_was_reading(orchestra, repo, monkeypatch, slow):
    """The launcher can record an exit while the board asks tmux: the board's next look must
    read again, not take that write for its own (it was stuck on the old status for 30 s)."""
    from orchestra.state import State
    from orchestra.watch import Watcher

    orchestra("spawn", "--agent", "demo", "--no-attach", "keep working")
    monkeypatch.chdir(repo)
    ctx = Context.open()
    watcher = Watcher(ctx)
    wait_for(lambda: watcher.poll() and [a.status for a in watcher.agents] == [Status.RUNNING], what="running")

    class WriteDuringTheRead(State):
        armed = False

        def read_raw(self, *args, **kwargs):
            found = super().read_raw(*args, **kwargs)
            if self.armed:
                self.armed = False
                with self.update() as agents:  # as the launcher does when the agent exits
                    agents["keep-working"].exit_code = 3
            return found

    ctx.state = WriteDuringTheRead(ctx.state.dir)
    with ctx.state.update() as agents:  # a change, so that the board reads
        agents["keep-working"].last_message = "a change"
    ctx.state.armed = True
    assert watcher.poll() and watcher.agents[0].exit_code is None  # read before the write
    assert watcher.poll(), "the write made during the last read is a change"
    assert watcher.agents[0].exit_code == 3


def test_an_idle_board_asks_tmux_once_and_git_never(orchestra, repo, monkeypatch):
    """With nothing changing, the board's look at a hookless agent's screen is one tmux call:
    no record read, no git; its full look finds every diff-stat entry fresh."""
    from orchestra import git as git_module
    from orchestra.watch import Watcher

    monkeypatch.setenv("ORCHESTRA_DEMO_DELAY", "600")
    orchestra("spawn", "--agent", "demo", "--no-attach", "sit idle")
    monkeypatch.chdir(repo)
    ctx = Context.open()
    watcher = Watcher(ctx)
    wait_for(lambda: watcher.poll() and [a.status for a in watcher.agents] == [Status.RUNNING], what="running")
    reads, gits, tmux_calls = [], [], []
    real_read, real_git, real_tmux = ctx.state.read_raw, git_module.run, ctx.tmux.start
    monkeypatch.setattr(ctx.state, "read_raw", lambda *a, **k: reads.append(1) or real_read(*a, **k))
    monkeypatch.setattr(git_module, "run", lambda *a, **k: gits.append(a) or real_git(*a, **k))
    monkeypatch.setattr(ctx.tmux, "start", lambda *a, **k: tmux_calls.append(a) or real_tmux(*a, **k))

    def idle_look() -> bool:
        """A look at the screens; True once the screen has settled and the look read nothing."""
        reads.clear(), tmux_calls.clear()
        watcher._next_screens = 0
        watcher.poll()
        return not reads

    wait_for(idle_look, what="a look at an unchanged screen that reads no records")
    assert len(tmux_calls) == 1 and gits == []
    watcher._next_full = 0  # the 30 s look: the records and tmux, and the cache for the changes
    watcher.poll()
    assert gits == [] and watcher.changes["sit-idle"] is not None


def test_the_board_renews_an_idle_watched_worktrees_entry_and_sees_an_edit_in_place(orchestra, repo, monkeypatch):
    """Where inotify watches a worktree's folders, the board's full look renews the diff-stat entry
    of a worktree that reported nothing instead of asking git when the time-to-live runs out; an
    edit in place (which changes no folder) is reported, and then git is asked."""
    from orchestra import diffstats, watch
    from orchestra import git as git_module
    from orchestra.inotify import open_inotify
    from orchestra.watch import Watcher

    if open_inotify() is None:
        pytest.skip("this system has no inotify")
    monkeypatch.setenv("ORCHESTRA_DEMO_DELAY", "600")
    orchestra("spawn", "--agent", "demo", "--no-attach", "sit idle")
    monkeypatch.chdir(repo)
    ctx = Context.open()
    worktree = Path(ctx.state.read()["sit-idle"].worktree)
    nested = worktree / "deep" / "er"
    nested.mkdir(parents=True)
    (nested / "notes.txt").write_text("one\n")
    monkeypatch.setattr(diffstats, "TTL", 1.0)
    monkeypatch.setattr(watch, "RENEW_AFTER", 0.0)
    watcher = Watcher(ctx)
    wait_for(lambda: watcher.poll() and [a.status for a in watcher.agents] == [Status.RUNNING], what="running")
    gits: list[tuple] = []
    real_git = git_module.run
    monkeypatch.setattr(git_module, "run", lambda *a, **k: gits.append(a) or real_git(*a, **k))

    def full_look_after_ttl() -> None:
        checked = diffstats.entries(ctx.state.dir)["sit-idle"].checked
        wait_for(lambda: time.time() - checked > 1.0, what="the entry's time-to-live to run out")
        gits.clear()
        watcher._next_full = 0
        watcher.poll()

    # An entry checked before its worktree's watches began is read from git once more when its
    # time-to-live ends (whether it was depends on when the first looks ran); after that, with
    # nothing reported, it is renewed.
    full_look_after_ttl()
    full_look_after_ttl()
    assert gits == [] and watcher.changes["sit-idle"]["untracked"] == 1
    (nested / "notes.txt").write_text("two\n")  # in place: no folder's modification time moves
    full_look_after_ttl()
    assert gits, "an edit in place in a watched folder must send the board to git"


@pytest.mark.parametrize("with_inotify", [True, False])
def test_the_board_looks_again_when_a_record_changes(orchestra, repo, monkeypatch, with_inotify):
    """A record written between two looks sends the board to a full look at the next tick: heard
    from inotify where there is one, found by its file's stamp where there is not."""
    from orchestra.watch import Watcher

    monkeypatch.setenv("ORCHESTRA_DEMO_DELAY", "600")
    orchestra("spawn", "--agent", "demo", "--no-attach", "sit idle")
    monkeypatch.chdir(repo)
    ctx = Context.open()
    watcher = Watcher(ctx)
    watcher.trees._unavailable = not with_inotify
    wait_for(lambda: watcher.poll() and [a.status for a in watcher.agents] == [Status.RUNNING], what="running")
    wait_for(lambda: not watcher.poll(), what="a look that finds nothing new")
    assert (watcher.trees._inotify is not None) == with_inotify
    with ctx.state.update() as agents:
        agents["sit-idle"].last_message = "a word from the agent"
    wait_for(lambda: watcher.poll() or None, what="the look after the record changed", timeout=5)
    assert watcher.agents[0].last_message == "a word from the agent"


# What aider 0.86.2 and OpenCode 1.18.33 showed against the stand-ins (tests/test_retried_limits_live.py).
AIDER_429 = [
    "litellm.RateLimitError: RateLimitError: OpenAIException - Rate limit reached for requests",
    "The API provider has rate limited you. Try again later or check your quotas.",
    "Retrying in 0.2 seconds...",
]
AIDER_5XX = ["The API provider's servers are down or overloaded.", "Retrying in 0.2 seconds..."]
OPENCODE_FOOTER = "   ■■■■■■⬝⬝ {} [retrying in 3s attempt #2]        esc interrupt    • OpenCode 1.18.33"
OPENCODE_IDLE = "   /tmp/repo        tab agents  ctrl+p commands    • OpenCode 1.18.33"
OPENCODE_WORKING = "   ⬝⬝⬝⬝■■■■  esc interrupt       tab agents  ctrl+p commands    • OpenCode 1.18.33"


def screen_record(kind: str, status: str) -> dict:
    from orchestra import plugins
    from orchestra.spawning import screen_patterns

    return {"status": status, "screen_patterns": screen_patterns(plugins.load().kinds[kind]), "last_hook": None}


@pytest.mark.parametrize(
    ("kind", "lines", "limited"),
    [
        ("aider", AIDER_429, True),
        ("aider", AIDER_5XX, False),
        ("opencode", [OPENCODE_FOOTER.format("Rate limit reached for requests")], True),
        ("opencode", [OPENCODE_FOOTER.format("Too Many Requests")], True),
        # Its countdown under a second, or the retry on its way: no "in 3s".
        ("opencode", [OPENCODE_FOOTER.format("Rate limit reached for requests").replace("in 3s ", "")], True),
        ("opencode", [OPENCODE_FOOTER.format("Internal server error").replace("in 3s ", "")], False),
        ("opencode", [OPENCODE_FOOTER.format("You exceeded your current quota")], True),
        ("opencode", [OPENCODE_FOOTER.format("Internal server error")], False),
        ("opencode", [OPENCODE_FOOTER.format("Provider is overloaded")], False),
    ],
)
def test_a_rate_limit_on_the_screen_is_a_limit_and_a_5xx_is_not(kind, lines, limited):
    from orchestra.reconcile import _read_screen

    read = _read_screen(screen_record(kind, Status.RUNNING.value), "\n".join(lines), {})
    assert (read is not None and read[0] == "screen-limited") == limited


@pytest.mark.parametrize(
    ("kind", "lines", "over"),
    [
        ("aider", AIDER_429, False),
        ("aider", [*AIDER_429, "Waiting for openai/gpt"], False),  # a retry on its way: still limited
        ("aider", ["Tokens: 9 sent, 2 received.", *AIDER_429], False),  # an earlier reply
        ("aider", [*AIDER_429, "Done.", "Tokens: 593 sent, 2 received."], True),
        ("opencode", [OPENCODE_FOOTER.format("Rate limit reached")], False),
        ("opencode", ["Rate limit reached", OPENCODE_WORKING], False),  # a retry on its way
        ("opencode", ["Done.", OPENCODE_IDLE], True),
    ],
)
def test_a_cli_that_waits_its_limit_out_ends_it_once_its_screen_shows_it_got_through(kind, lines, over):
    from orchestra.reconcile import _read_screen, screen_tells

    record = screen_record(kind, Status.LIMITED.value)
    assert screen_tells(record)
    assert _read_screen(record, "\n".join(lines), {}) == (("screen-clear", {"busy": True}) if over else None)
