"""The lifecycle core: every transition from every signal, the one path that applies it, and
notifiers that hear every status change exactly once."""

from __future__ import annotations

import json
import textwrap

import pytest

from orchestra import lifecycle
from orchestra.lifecycle import DONE, EXITED, FAILED, LOST, MERGED, RUNNING, STARTING, WAITING, transition
from orchestra.models import Status
from orchestra.state import State
from support import wait_for

LIMITED = lifecycle.LIMITED
LIVE = [STARTING, RUNNING, WAITING, LIMITED, DONE]
QUEUED = lifecycle.QUEUED
ALL = [s for s in lifecycle.STATUSES if s != QUEUED]  # a queued agent has no pane or worktree: its rows below
HOOK_MOVABLE = [*LIVE, FAILED, LOST]

# (status before, signal, signal data, extra record fields) -> (status after or None, fields it sets)
TABLE = [
    # orchestra's hook events, as any agent kind's translator produces them
    (
        STARTING,
        "session-started",
        {"session_id": "s", "transcript": "/t"},
        {},
        RUNNING,
        {"session_id": "s", "transcript": "/t"},
    ),
    (LOST, "session-started", {}, {}, RUNNING, {}),
    (RUNNING, "session-started", {"session_id": "s"}, {}, None, {"session_id": "s"}),
    (STARTING, "session-started", {"resumed": True}, {}, DONE, {}),
    (RUNNING, "session-started", {"resumed": True}, {}, DONE, {}),
    (WAITING, "session-started", {"resumed": True}, {}, None, {}),
    *[(s, "prompt-submitted", {}, {}, RUNNING, {"waiting_for": None, "error": None}) for s in HOOK_MOVABLE],
    *[(s, "asked", {"question": "May I?"}, {}, WAITING, {"waiting_for": "May I?"}) for s in HOOK_MOVABLE],
    (RUNNING, "asked", {}, {}, WAITING, {"waiting_for": "a question"}),
    (WAITING, "answered", {}, {}, RUNNING, {"waiting_for": None}),
    *[(s, "answered", {}, {}, "no change", {}) for s in HOOK_MOVABLE if s != WAITING],
    (RUNNING, "idle", {}, {}, DONE, {"waiting_for": None}),
    (WAITING, "idle", {}, {}, DONE, {"waiting_for": None}),
    (DONE, "idle", {}, {}, "no change", {}),
    *[
        (s, "turn-ended", {"message": "ok"}, {}, DONE, {"last_message": "ok", "waiting_for": None})
        for s in HOOK_MOVABLE
    ],
    (RUNNING, "turn-ended", {"session_id": "thread"}, {}, DONE, {"session_id": "thread", "last_message": None}),
    (RUNNING, "turn-failed", {"error": "API Error"}, {}, FAILED, {"error": "API Error", "waiting_for": None}),
    (RUNNING, "turn-failed", {}, {}, FAILED, {"error": "the agent reported an error"}),
    *[
        (s, "limited", {"error": "429", "until": "T"}, {}, LIMITED, {"limited_until": "T", "error": "429"})
        for s in HOOK_MOVABLE
    ],
    (WAITING, "limited", {}, {}, LIMITED, {"waiting_for": None, "error": "a usage limit", "limited_until": None}),
    (RUNNING, "limited", {"error": "429", "on_limit": "fail"}, {}, FAILED, {"error": "429"}),
    (LIMITED, "idle", {}, {}, "no change", {}),
    *[(s, "session-ended", {}, {}, "no change", {}) for s in HOOK_MOVABLE],
    # an agent that has ended hears nothing from its hooks
    *[(s, e, {}, {}, "no change", {}) for s in (EXITED, MERGED) for e in lifecycle.HOOK_EVENTS],
    # the launcher
    (STARTING, "launched", {}, {}, RUNNING, {}),
    (STARTING, "launched", {"idle": True}, {}, DONE, {}),
    *[(s, "launched", {}, {}, "no change", {}) for s in ALL if s != STARTING],
    # said by an earlier launch of the agent (its launcher outlived a resume): nothing changes
    (STARTING, "launched", {"launch_id": "old"}, {"launch_id": "new"}, "no change", {}),
    (RUNNING, "pane-died", {"code": 1, "launch_id": "old"}, {"launch_id": "new"}, "no change", {}),
    (RUNNING, "pane-died", {"code": 1, "launch_id": "new"}, {"launch_id": "new"}, FAILED, {"exit_code": 1}),
    (RUNNING, "pane-died", {"code": 1, "launch_id": "old"}, {}, "no change", {}),
    # a pane's death: the launcher's recorded code first, then tmux's, else killed
    *[(s, "pane-died", {"code": 0}, {}, EXITED, {"exit_code": 0}) for s in LIVE if s != LIMITED],
    # A CLI that ends while limited gave up on its limit (aider does, after its own retries).
    (
        LIMITED,
        "pane-died",
        {"code": 0},
        {"error": "rate limited"},
        FAILED,
        {"exit_code": 0, "error": "it ended while limited: rate limited"},
    ),
    (RUNNING, "pane-died", {"code": 2}, {}, FAILED, {"exit_code": 2}),
    (RUNNING, "pane-died", {"code": 0}, {"exit_code": 3}, FAILED, {"exit_code": 3}),
    (RUNNING, "pane-died", {"code": None}, {"exit_code": 0}, EXITED, {"exit_code": 0}),
    (RUNNING, "pane-died", {"code": None}, {}, FAILED, {"error": "its process ended without an exit code"}),
    *[(s, "pane-died", {"code": 0}, {}, "no change", {}) for s in (EXITED, FAILED, LOST, MERGED)],
    # reality: panes, servers and worktrees that went away, or came back
    *[(s, "server-gone", {}, {}, LOST, {"error": "its tmux server was not running"}) for s in LIVE],
    *[(s, "pane-gone", {}, {}, LOST, {"error": "its tmux window was closed"}) for s in LIVE],
    *[
        (s, sig, {}, {}, "no change", {})
        for s in (EXITED, FAILED, MERGED, LOST)
        for sig in ("server-gone", "pane-gone")
    ],
    # a pane id that is no longer the agent's is forgotten, whatever the status
    *[
        (
            s,
            "pane-gone",
            {},
            {"pane": "%1", "window": "@1"},
            LOST if s in LIVE else None,
            {"pane": None, "window": None},
        )
        for s in ALL
    ],
    *[
        (s, "worktree-gone", {}, {}, LOST, {"error": "its worktree folder is gone"})
        for s in ALL
        if s not in (MERGED, LOST)
    ],
    (MERGED, "worktree-gone", {}, {}, "no change", {}),
    (LOST, "pane-found", {"pane": "%2", "window": "@2"}, {}, RUNNING, {"error": None, "pane": "%2", "window": "@2"}),
    *[
        (s, "pane-found", {"pane": "%2", "window": "@2"}, {}, None, {"pane": "%2", "window": "@2"})
        for s in ALL
        if s != LOST
    ],
    (RUNNING, "pane-found", {"pane": "%2", "window": "@2"}, {"pane": "%2", "window": "@2"}, "no change", {}),
    # the screen, for agents without hooks
    (RUNNING, "screen-asks", {"question": "Proceed? [y/n]"}, {}, WAITING, {"waiting_for": "Proceed? [y/n]"}),
    (DONE, "screen-asks", {"question": "q"}, {}, WAITING, {}),
    (WAITING, "screen-asks", {"question": "q"}, {}, "no change", {}),
    (WAITING, "screen-clear", {"busy": False}, {}, RUNNING, {"waiting_for": None}),
    (DONE, "screen-clear", {"busy": True}, {}, RUNNING, {}),
    (DONE, "screen-clear", {"busy": False}, {}, "no change", {}),
    (LIMITED, "screen-clear", {"busy": True}, {"error": "429"}, RUNNING, {"error": None}),
    (LIMITED, "screen-clear", {"busy": False}, {}, "no change", {}),
    # send: an answer, or a prompt to an agent without hooks; never over a change made meanwhile
    (WAITING, "sent", {"seen": "t0"}, {}, RUNNING, {"waiting_for": None}),
    (DONE, "sent", {"seen": "t0"}, {}, RUNNING, {"error": None}),
    (FAILED, "sent", {"seen": "t0"}, {"error": "boom"}, RUNNING, {"error": None}),
    (DONE, "sent", {"seen": "t0"}, {"last_hook": "Stop"}, "no change", {}),
    (DONE, "sent", {"seen": "t0"}, {"last_hook": "agent-turn-complete", "screen_after_hooks": True}, RUNNING, {}),
    (WAITING, "sent", {"seen": "earlier"}, {}, "no change", {}),
    (RUNNING, "sent", {"seen": "t0"}, {}, "no change", {}),
    (LIMITED, "sent", {"seen": "t0"}, {"last_hook": "StopFailure", "error": "429"}, RUNNING, {"error": None}),
    # merge and resume
    *[(s, "merged", {}, {}, MERGED, {"error": None}) for s in (DONE, EXITED)],
    (
        LOST,
        "resuming",
        {"launch_id": "new"},
        {"pane": "%1", "window": "@1", "exit_code": 1, "last_hook": "Stop"},
        STARTING,
        {"pane": None, "window": None, "exit_code": None, "last_hook": None, "launch_id": "new"},
    ),
    (LOST, "resuming", {"launch_id": "new"}, {"launch_id": "old"}, STARTING, {"launch_id": "new"}),
    *[(s, "resuming", {}, {}, "no change", {}) for s in ALL if s != LOST],
    (STARTING, "resume-failed", {}, {}, LOST, {"error": "resuming it failed"}),
    (STARTING, "resume-failed", {}, {"pane": "%3"}, "no change", {}),
    # a usage limit's end: orchestra tells the agent to go on
    (LIMITED, "limit-ended", {}, {"error": "429"}, RUNNING, {"error": None}),
    *[(s, "limit-ended", {}, {}, "no change", {}) for s in ALL if s != LIMITED],
    # the queue: let out by the schedule, put back when its start was cut short; nothing else moves it
    (QUEUED, "admitted", {}, {"error": "earlier"}, STARTING, {"error": None}),
    *[(s, "admitted", {}, {}, "no change", {}) for s in ALL],
    (STARTING, "requeued", {"error": "no disk"}, {}, QUEUED, {"error": "no disk"}),
    (STARTING, "requeued", {}, {"pane": "%3"}, "no change", {}),
    *[(s, "requeued", {}, {}, "no change", {}) for s in ALL if s != STARTING],
    *[
        (QUEUED, signal, {"code": 0, "pane": "%2", "window": "@2", "seen": "t0"}, {}, "no change", {})
        for signal in (
            *("launched", "pane-died", "server-gone", "pane-gone", "worktree-gone", "pane-found"),
            *("screen-asks", "screen-clear", "sent", "merged", "resuming", "resume-failed", "limit-ended"),
            *lifecycle.HOOK_EVENTS,
        )
    ],
]


def record(status: str, **fields) -> dict:
    return {"name": "a", "status": status, "updated_at": "t0", "last_hook": None, "pane": None, **fields}


@pytest.mark.parametrize(("before", "signal", "data", "extra", "after", "fields"), TABLE)
def test_transition(before, signal, data, extra, after, fields):
    change = transition(record(before, **extra), signal, data)
    if after == "no change":
        assert change is None or change[0] in (None, before), f"{signal} moves a {before} agent"
        return
    assert change is not None, f"{signal} does nothing to a {before} agent"
    status, changes = change
    assert status == after and fields.items() <= changes.items()


def test_every_signal_and_status_is_in_the_table():
    """A new signal or status without its rows fails here."""
    signals = {row[1] for row in TABLE}
    documented = set(lifecycle.HOOK_EVENTS) | {
        "launched",
        "pane-died",
        "pane-gone",
        "server-gone",
        "worktree-gone",
        "pane-found",
        "screen-asks",
        "screen-clear",
        "sent",
        "merged",
        "resuming",
        "resume-failed",
        "admitted",
        "requeued",
        "limit-ended",
    }
    assert signals == documented
    assert {row[0] for row in TABLE} == set(lifecycle.STATUSES) == {s.value for s in Status} - {lifecycle.UNREACHABLE}
    with pytest.raises(ValueError, match="unknown signal"):
        transition(record(RUNNING), "no-such-signal")


def test_the_vocabulary_is_defined_once():
    assert [s.value for s in Status] == [*lifecycle.STATUSES, lifecycle.UNREACHABLE]  # a view's, last
    assert set(lifecycle.URGENCY) == {*lifecycle.STATUSES, lifecycle.UNREACHABLE} == set(lifecycle.PHRASES)
    assert {s.value for s in Status if s.live} == lifecycle.LIVE


def test_leaving_limited_forgets_until_when():
    records = {"a": record(LIMITED, limited_until="2026-12-03T15:00:00+00:00", name="a")}
    assert lifecycle.apply_to(records, "a", "prompt-submitted")["status"] == RUNNING
    assert records["a"]["limited_until"] is None


def test_apply_to_records_the_change_and_makes_one_status_event(tmp_path):
    records = {"a": record(RUNNING)}
    changed = lifecycle.apply_to(records, "a", "pane-died", {"code": 4}, {"by": "test"})
    assert records["a"]["status"] == FAILED and records["a"]["exit_code"] == 4 and records["a"]["updated_at"] != "t0"
    assert changed["type"] == "status" and changed["status"] == FAILED
    assert changed["data"] == {"from": RUNNING, "exit_code": 4, "by": "test"}
    assert lifecycle.apply_to(records, "a", "pane-died", {"code": 4}) is None, "a second death changes nothing"
    assert lifecycle.apply_to(records, "nobody", "merged") is None


def test_an_ended_agent_forgets_its_gone_pane_without_a_new_time():
    """`ls` shows how long an agent has had its status: a reboot does not make every exited agent
    look as if it had exited just now."""
    for signal in ("server-gone", "pane-gone"):
        records = {"a": record(EXITED, pane="%1", window="@1")}
        assert lifecycle.apply_to(records, "a", signal) is None
        assert (records["a"]["pane"], records["a"]["window"], records["a"]["updated_at"]) == (None, None, "t0")
    records = {"a": record(RUNNING, pane="%1", window="@1")}
    assert lifecycle.apply_to(records, "a", "server-gone")["status"] == LOST
    assert records["a"]["updated_at"] != "t0", "a status change is news"


def test_change_logs_the_event_and_leaves_a_record_alone_when_nothing_moves(tmp_path):
    state = State(tmp_path / "state")
    with state.update_raw() as records:
        # A whole record, as spawn writes it: the state file refuses records that lack fields.
        fields = {"task": "t", "agent": "demo", "branch": "b", "base": "c", "updated_at": "2025-01-01T00:00:00+00:00"}
        records["a"] = record(STARTING, worktree=str(tmp_path), **fields)
    assert lifecycle.change(state, "a", "launched")["status"] == RUNNING
    assert lifecycle.change(state, "a", "launched") is None
    assert [(e["type"], e["status"]) for e in state.read_events()] == [("status", RUNNING)]


LISTENER = '''
    """A notifier plugin as a third party writes one: it records what it hears."""
    import json, os
    from orchestra.hookspecs import hookimpl

    @hookimpl
    def notifier(event, agent, config):
        with open(os.environ["HEARD"], "a") as out:
            out.write(json.dumps([event.agent, event.status, event.data.get("from")]) + "\\n")
'''


@pytest.fixture
def listener(tmp_path, monkeypatch):
    """A plugin installed the way `orchestra plugins install` installs one: a distribution with an
    entry point in the `orchestra` group, on the path of every orchestra process."""
    site = tmp_path / "site"
    (site / "orchestra_listener").mkdir(parents=True)
    (site / "orchestra_listener" / "__init__.py").write_text(textwrap.dedent(LISTENER))
    info = site / "orchestra_listener-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: orchestra-listener\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[orchestra]\nlistener = orchestra_listener\n")
    heard = tmp_path / "heard.ndjson"
    monkeypatch.setenv("PYTHONPATH", str(site))
    monkeypatch.setenv("HEARD", str(heard))
    return heard


def heard(path) -> list:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_no_notifier_process_starts_for_an_event_no_plugin_acts_on(tmp_path, monkeypatch):
    state = State(tmp_path / "state")
    started = []
    monkeypatch.setattr(lifecycle, "in_background", lambda state, argv, reap=True: started.append(argv))
    running = lifecycle.event("status", "a", {"from": STARTING}, RUNNING)
    lifecycle.publish(state, [running], listened=["done", "conflict"])
    assert started == [] and [e["status"] for e in state.read_events()] == [RUNNING], "logged all the same"
    lifecycle.publish(state, [running], listened=None)
    assert [argv[argv.index("-m") + 2] for argv in started] == ["_notify"], "nobody said: told"
    started.clear()
    # A status the forecast follows still starts its refresh, notified or not.
    exited = lifecycle.event("status", "a", {"from": RUNNING}, EXITED)
    lifecycle.publish(state, [exited], listened=["done"])
    assert [argv[argv.index("-m") + 2] for argv in started] == ["_forecast"]
    started.clear()
    lifecycle.publish(state, [exited, lifecycle.event("conflict", "a", {"with": "b"})], listened=["exited"])
    (notify,) = [argv for argv in started if "_notify" in argv]
    told = json.loads(notify[notify.index("_notify") + 3])
    assert [(e["type"], e.get("status")) for e in told] == [("status", EXITED)], "only what a plugin acts on"


LISTENER_OF_SOME = (
    LISTENER
    + """
    @hookimpl
    def notifier_events(config):
        return ["exited", "merged"]
"""
)


def test_a_notifier_that_says_its_events_hears_those_alone(orchestra, listener, repo, tmp_path):
    """Tried as a plugin author would: the same spawn, exit and merge, with `notifier_events`."""
    (tmp_path / "site" / "orchestra_listener" / "__init__.py").write_text(textwrap.dedent(LISTENER_OF_SOME))
    orchestra("spawn", "--agent", "demo", "--no-attach", "one")
    wait_for(lambda: heard(listener) == [["one", "exited", "running"]], what="the exit alone")
    orchestra("merge", "one")
    wait_for(lambda: heard(listener)[-1:] == [["one", "merged", "exited"]], what="merged")
    logged = [e["status"] for e in State(repo / ".git" / "orchestra").read_events() if e["type"] == "status"]
    assert logged[:2] == [STARTING, RUNNING], "every change is still logged"
    assert heard(listener) == [["one", "exited", "running"], ["one", "merged", "exited"]]


def test_a_notifier_plugin_hears_every_status_change_once(orchestra, listener, repo):
    """Tried as a plugin author would: it heard `exited` but never `starting` or `running`."""
    orchestra("spawn", "--agent", "demo", "--no-attach", "one")
    expected = [["one", "starting", None], ["one", "running", "starting"], ["one", "exited", "running"]]
    wait_for(lambda: sorted(heard(listener), key=str) == sorted(expected, key=str), what="three notifications")
    for _ in range(3):
        orchestra("ls")  # reading again notifies nothing new
    orchestra("merge", "one")
    wait_for(lambda: heard(listener)[-1:] == [["one", "merged", "exited"]], what="merged")
    logged = [
        (e["agent"], e["status"]) for e in State(repo / ".git" / "orchestra").read_events() if e["type"] == "status"
    ]
    assert sorted(map(tuple, (h[:2] for h in heard(listener)))) == sorted(logged), "the log and the notifiers agree"


@pytest.mark.parametrize(
    "notified",
    [None, "done", {"events": ["done"]}, {"events": "done", "key": []}, {"events": ["done"], "key": [["a"]]}],
    ids=["none", "text", "no-key", "events-text", "short-entry"],
)
def test_a_record_without_a_sound_answer_tells_every_notifier(notified):
    assert lifecycle.listened({"name": "a", "notified": notified}) is None


def test_an_answer_holds_while_its_files_are_as_they_were(tmp_path):
    config = tmp_path / "config.toml"
    key = lifecycle.notified_key([str(config), str(tmp_path)])
    record = {"notified": {"events": ["done", "waiting"], "key": key}}
    assert lifecycle.listened(record) == ["done", "waiting"]
    config.write_text("")  # appears (and so its folder changes too)
    assert lifecycle.listened(record) is None
