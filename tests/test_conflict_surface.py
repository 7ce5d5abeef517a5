"""Conflicts while agents work, where a person looks: `ls --json`, the table, `ls --conflicts`, and a
`conflict` notification (Slack's stand-in on 127.0.0.1) once per newly conflicting pair. Real git,
real tmux, scripted agents that edit one line each and commit."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import orchestra_notify
import orchestra_slack
import orchestra_slack.message
from orchestra.config import Config
from orchestra.launch import SAFE_PATH
from orchestra.models import Agent, Event
from orchestra.state import State
from support import git, use_editors, wait_for
from test_slack import StandIn


@pytest.fixture
def slack(monkeypatch):
    stand_in = StandIn()
    monkeypatch.setenv("SLACK_WEBHOOK_URL", stand_in.url)
    yield stand_in
    stand_in.close()


@pytest.fixture
def editors(repo):
    """Agents that edit one line each (`support.use_editors`); Slack told of conflicts only."""
    return use_editors(repo, '[plugins.slack]\nevents = ["conflict"]\n')


def state_of(repo: Path) -> State:
    return State(repo / ".git" / "orchestra")


def ls_json(orchestra, *options: str) -> dict[str, dict]:
    return {a["name"]: a for a in json.loads(orchestra("ls", "--json", *options).stdout)}


def conflict_events(repo: Path) -> list[dict]:
    return [e for e in state_of(repo).read_events() if e["type"] == "conflict"]


def settle(repo: Path) -> None:
    """Wait until no background refresh or notifier of this project is at work."""
    assert state_of(repo).wait_idle(30), "the background work did not end"


def refresh_now(repo: Path) -> None:
    """One refresh, run to its end (as the lifecycle starts it), after any still at work."""
    settle(repo)
    argv = [sys.executable, *SAFE_PATH, "-m", "orchestra", "_forecast", "--state-dir", str(state_of(repo).dir)]
    subprocess.run(argv, cwd=repo, env=dict(os.environ), check=True, timeout=60)
    settle(repo)


def spawn_editors(orchestra, **tasks: str) -> None:
    for name, task in tasks.items():
        orchestra("spawn", "--agent", "editor", "--name", name, "--no-attach", task)


def test_two_agents_editing_one_line_are_marked_and_slack_hears_it_once(orchestra, editors, slack):
    spawn_editors(orchestra, a="README.md: alpha", b="README.md: beta", c="notes.md: gamma")

    def marked():  # `ls` only reads the forecast; the agents' exits bring it up to date
        shown = ls_json(orchestra)
        done = all(a["status"] == "exited" for a in shown.values()) and len(shown) == 3
        return shown if done and shown["a"]["conflicts_with"] == ["b"] else None

    shown = wait_for(marked, what="a and b to be forecast to conflict")
    assert shown["b"]["conflicts_with"] == ["a"]
    assert shown["c"]["conflicts_with"] == []

    (request,) = wait_for(lambda: slack.requests, what="Slack to hear of the conflict")
    text = request["json"]["text"]
    assert text.startswith("a and b are heading for a conflict") and "README.md" in text
    assert "`README.md`" in json.dumps(request["json"]["blocks"])
    (event,) = conflict_events(editors)
    assert (event["agent"], event["data"]) == ("a", {"with": "b", "files": ["README.md"], "target": "main"})

    assert re.search(r"^\S+\s+a\s+conflict with b: README.md$", orchestra("events").stdout, re.MULTILINE)

    refresh_now(editors)  # the same conflict, forecast again, is no news
    assert len(conflict_events(editors)) == 1
    assert len(slack.requests) == 1

    table = orchestra("ls").stdout
    assert "CONFLICTS" in table.splitlines()[0]
    rows = {line.split()[0]: line for line in table.splitlines()[1:] if line.strip()}
    assert "✖ b" in rows["a"] and "✖ a" in rows["b"] and "✖" not in rows["c"]

    detailed = orchestra("ls", "--conflicts").stdout
    assert "✖ a and b: README.md" in detailed
    files = ls_json(orchestra, "--conflicts")
    assert files["a"]["conflict_files"] == {"b": ["README.md"]} and files["c"]["conflict_files"] == {}


def test_the_target_moving_is_seen_by_ls_and_refreshed_in_the_background(orchestra, editors, slack):
    spawn_editors(orchestra, solo="notes.md: from the agent")
    wait_for(lambda: ls_json(orchestra)["solo"]["status"] == "exited", what="the agent to finish")
    settle(editors)
    assert ls_json(orchestra)["solo"]["conflicts_with"] == []

    (editors / "notes.md").write_text("from main\n")  # the target moves under the agent, no status changes
    git(editors, "commit", "-qam", "main edits the same line")

    def against_main():
        return ls_json(orchestra)["solo"]["conflicts_with"] == ["main"]

    wait_for(against_main, what="ls to find the forecast stale and a refresh to see the conflict with main")
    settle(editors)
    assert "✖ main" in orchestra("ls").stdout
    assert conflict_events(editors) == [] and slack.requests == [], "only a pair of agents is news"


def test_ls_without_conflicts_keeps_its_table_and_json_has_an_empty_list(orchestra, editors):
    spawn_editors(orchestra, one="notes.md: one")
    shown = wait_for(lambda: ls_json(orchestra)["one"]["status"] == "exited" and ls_json(orchestra))
    settle(editors)
    assert ls_json(orchestra)["one"]["conflicts_with"] == []
    assert "CONFLICTS" not in orchestra("ls").stdout
    assert "no conflicts forecast" in orchestra("ls", "--conflicts").stdout
    assert "conflict_files" not in shown["one"]


def test_the_board_redraws_with_the_mark_and_the_files(orchestra, editors):
    """The board never asks for a forecast (its environment keeps no webhook); it shows the one the
    agents' exits bring, as soon as it is stored."""
    board = subprocess.Popen(
        [sys.executable, *SAFE_PATH, "-m", "orchestra", "ls", "--watch", "--conflicts"],
        cwd=editors,
        stdout=subprocess.PIPE,
        text=True,
    )
    printed: list[str] = []
    threading.Thread(target=lambda: printed.extend(iter(board.stdout.readline, "")), daemon=True).start()
    try:
        wait_for(lambda: any("no agents yet" in line for line in printed), what="the first board")
        spawn_editors(orchestra, a="README.md: alpha", b="README.md: beta")
        wait_for(lambda: any(re.search(r"^a\s.*✖ b", line) for line in printed), what="a marked on the board")
        wait_for(lambda: any("✖ a and b: README.md" in line for line in printed), what="the files on the board")
    finally:
        board.kill()
        board.wait()


def test_a_refresh_already_waiting_makes_another_leave_at_once(editors, project):
    """One runs, one more waits behind it, any further one has nothing to add."""
    from orchestra import files, lookout

    state = project.state
    state.dir.mkdir()
    with files.locked(state.dir / lookout.QUEUE_LOCK):
        assert lookout.main(["--state-dir", str(state.dir)]) == 0
    assert not (state.dir / lookout.KEY_FILE).exists(), "it left without forecasting"
    assert lookout.main(["--state-dir", str(state.dir)]) == 0
    assert (state.dir / lookout.KEY_FILE).exists()
    assert lookout.main(["--bad"]) == 2


# -- how the notifiers and the table say it ------------------------------------------------------


def conflict_event(files: list[str]) -> Event:
    return Event("conflict", agent="api", data={"with": "tests", "files": files, "target": "main"})


def an_agent(name: str = "api") -> Agent:
    return Agent(
        name=name,
        task="build <!channel> the API",
        agent="demo",
        branch=f"orchestra/{name}",
        base="0" * 40,
        worktree="/nowhere",
    )


def test_slack_says_who_which_files_and_where_with_everything_escaped():
    built = orchestra_slack.message.build(conflict_event(["<!channel>.py", "src/app.py"]), an_agent())
    assert built["text"] == "api and tests are heading for a conflict: &lt;!channel&gt;.py, src/app.py"
    blocks = json.dumps(built["blocks"])
    assert "`src/app.py`" in blocks and "when merged into `main`" in blocks and "<!channel>" not in blocks
    assert "orchestra conflicts api tests" in blocks
    many = orchestra_slack.message.build(conflict_event([f"f{i}" for i in range(25)]), None)
    assert "and 5 more" in json.dumps(many["blocks"]) and many["text"].startswith("api and tests")


def test_slack_and_notify_take_conflict_among_their_events_and_by_default():
    from orchestra.errors import OrchestraError

    assert "conflict" in orchestra_slack.Settings().events and "conflict" in orchestra_notify.Settings().events
    assert orchestra_slack.Settings.from_table({"events": ["conflict"]}).events == ("conflict",)
    with pytest.raises(OrchestraError, match="and conflict"):
        orchestra_notify.Settings.from_table({"events": ["conflicts"]})
    headline = orchestra_notify.conflict_headline(conflict_event([f"f{i}" for i in range(7)]), an_agent())
    assert headline == "api and tests would conflict in f0, f1, f2, f3, f4 and 2 more"


def test_a_status_only_notifier_is_not_handed_a_conflict_as_a_status(slack):
    """A conflict event carries no status: slack configured for statuses alone posts nothing."""
    config = Config(
        orchestra={}, worktree={}, ports={}, merge={}, plugins={"settings": {"slack": {"events": ["done"]}}}
    )
    orchestra_slack.notifier(event=conflict_event(["a.py"]), agent=an_agent(), config=config)
    assert slack.requests == []


def test_paths_from_the_forecast_are_printed_as_text():
    from orchestra import render

    console = render.console()
    with console.capture() as captured:
        console.print(render.conflict_lines([("api", "tests", ["evil\x1b[2Jname.py"])], current=False))
    shown = captured.get()
    assert "\x1b[2J" not in shown and "evil\\x1b[2Jname.py" in shown
    assert "from the last forecast" in shown


def test_a_merged_agent_neither_shows_nor_is_shown_as_a_conflict():
    """Its work is in the target now, even where the stored forecast predates the merge."""
    from orchestra.forecast import Forecast, Pair, Standing
    from orchestra.lookout import Conflicts

    forecast = Forecast(
        "main",
        "0" * 40,
        {"a": Standing([], []), "b": Standing([], []), "c": Standing(["x.py"], [])},
        [Pair(("a", "b"), ["README.md"], []), Pair(("a", "c"), ["y.py"], [])],
        ["a", "b", "c"],
    )
    shown = Conflicts(forecast, True, frozenset({"b"}))
    assert (shown.of("a"), shown.of("b"), shown.of("c")) == (["c"], [], ["a", "main"])
    assert shown.files_of("c") == {"a": ["y.py"], "main": ["x.py"]}
    assert shown.lines() == [("a", "c", ["y.py"]), ("c", "main", ["x.py"])]
