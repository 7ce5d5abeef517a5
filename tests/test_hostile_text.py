"""Text that did not come from orchestra (tasks, agents' messages, checks' output, paths) is never
rich markup and never reaches a terminal as control characters; `--json` keeps it exact."""

from __future__ import annotations

import json

from support import git, make_repo, wait_statuses

ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x9b1m"  # a title change, a screen clear, a C1 CSI
MARKUP = "Fixed the 500 on [/api/users] and [bold]x[/bold] [/]"


def assert_harmless(text: str) -> None:
    assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text, repr(text)
    assert "\\x1b" in text, repr(text)


def _finished_agent(orchestra, repo) -> dict:
    orchestra("spawn", "--agent", "demo", "--name", "hostile", "--no-attach", "a task")
    wait_statuses(orchestra, {"hostile": "exited"})
    path = repo / ".git" / "orchestra" / "state.json"
    data = json.loads(path.read_text())
    record = data["agents"]["hostile"]
    record["task"] = f"task {ESCAPES} {MARKUP}"
    record["last_message"] = f"{MARKUP} {ESCAPES}"
    path.write_text(json.dumps(data))
    return record


def test_ls_and_report_show_agents_text_as_it_is_and_harmless(orchestra, repo):
    _finished_agent(orchestra, repo)
    listing = orchestra("ls").stdout
    assert "[/api/users]" in listing and "[bold]x[/bold]" in listing
    assert_harmless(listing)
    report = orchestra("report").stdout
    assert MARKUP in report
    assert_harmless(report)
    (reported,) = json.loads(orchestra("report", "--json").stdout)
    assert reported["last_message"] == f"{MARKUP} {ESCAPES}"
    (listed,) = json.loads(orchestra("ls", "--json").stdout)
    assert listed["task"] == f"task {ESCAPES} {MARKUP}"


def test_events_show_tasks_harmless_and_json_keeps_them(orchestra, repo):
    orchestra("spawn", "--agent", "demo", "--name", "hostile", "--no-attach", f"task {ESCAPES} {MARKUP}")
    wait_statuses(orchestra, {"hostile": "exited"})
    shown = orchestra("events").stdout
    assert "[/api/users]" in shown
    assert_harmless(shown)
    tasks = [e["data"].get("task") for e in map(json.loads, orchestra("events", "--json").stdout.splitlines())]
    assert f"task {ESCAPES} {MARKUP}" in tasks


def test_a_failing_checks_output_is_shown_harmless(orchestra, repo):
    orchestra("spawn", "--agent", "demo", "--name", "checked", "--no-attach", "a task")
    wait_statuses(orchestra, {"checked": "exited"})
    check = "printf '\\033]0;pwned\\007 [/] [bold]x[/bold] failed'; exit 1"
    result = orchestra("merge", "checked", "--check", check, check=False)
    assert result.returncode == 1
    assert "[/] [bold]x[/bold] failed" in result.stderr
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr


def test_a_repository_path_with_markup(orchestra, tmp_path):
    checkout = make_repo(tmp_path / "a[/]b[bold]")
    result = orchestra("spawn", "--agent", "demo", "--name", "one", "--no-attach", "a task", cwd=checkout)
    assert "a[/]b[bold]" in result.stdout

    def run(*args: str):
        return orchestra(*args, cwd=checkout)

    wait_statuses(run, {"one": "exited"})
    assert "one" in run("ls").stdout
    assert "one" in run("report").stdout
    git(checkout, "status")


def test_the_board_shows_agents_text_as_it_is():
    from orchestra import render
    from orchestra.models import Agent, Status

    agent = Agent(name="a", task="t", agent="demo", branch="b", base="c", worktree="/w", status=Status.DONE)
    agent.last_message = f"{MARKUP} {ESCAPES}"
    console = render.console()
    with console.capture() as captured:
        console.print(render.board([agent], {}, "p[/]x", error=f"oops [/] {ESCAPES}"))
    shown = captured.get()
    assert "[/api/users]" in shown and "p[/]x" in shown and "oops [/]" in shown
    assert_harmless(shown)


def test_a_plugins_table_cell_is_never_markup():
    from orchestra import render

    console = render.console()
    with console.capture() as captured:
        console.print(render.table(["FIRST PROMPT"], [[f"{MARKUP} {ESCAPES}"]]))
    assert "[/api/users]" in captured.get()
    assert_harmless(captured.get())


def test_printable_keeps_text_and_escapes_controls():
    from orchestra.render import printable

    assert printable("a\tb\nc é [x]") == "a\tb\nc é [x]"
    assert printable("a\x1b[2Jb\x00\x7f\x9b\r") == "a\\x1b[2Jb\\x00\\x7f\\x9b\\r"
    assert printable("a\nb\tc", newlines=False) == "a\\nb\\tc"
    assert printable("bad \udce9 byte") == "bad \\xe9 byte"
