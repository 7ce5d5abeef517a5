"""The everyday commands through the real command line: ls, up, attach, logs, send, diff, init, doctor, demo."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from support import agents_json, git, statuses, tmux, wait_for, wait_statuses


def test_version_and_help(orchestra, repo):
    assert re.fullmatch(r"orchestra \d+\.\d+\.\d+\n", orchestra("--version").stdout)
    help_text = orchestra("--help").stdout
    for command in ("spawn", "up", "ls", "attach", "logs", "send", "diff", "kill", "clean", "init", "doctor", "demo"):
        assert f"  {command} " in help_text


def test_console_script_is_installed(repo):
    script = Path(sys.executable).parent / "orchestra"
    assert subprocess.run([str(script), "--version"], capture_output=True, text=True).stdout.startswith("orchestra ")


def test_ls_table_and_status_alias(orchestra, repo):
    assert "no agents yet" in orchestra("ls").stdout
    orchestra("spawn", "--agent", "demo", "--no-attach", "table task")
    wait_for(lambda: statuses(orchestra) == {"table-task": "exited"}, what="exit")
    for command in ("ls", "status"):
        out = orchestra(command).stdout
        assert re.search(r"table-task\s+demo\s+exited \d+s\s+orchestra/table-task\s+\d+s\s+\+1 -0", out), out


def test_up_creates_session_and_board_and_restores_the_board(orchestra, repo, isolated):
    out = orchestra("up", "--no-attach").stdout
    assert "created the tmux session orchestra-project" in out
    windows = tmux(isolated, "list-windows", "-t", "=orchestra-project", "-F", "#{window_index}:#{window_name}").stdout
    assert windows.split() == ["0:board"]
    wait_for(
        lambda: "orchestra · project" in tmux(isolated, "capture-pane", "-p", "-t", "=orchestra-project:0").stdout,
        what="the board to draw",
    )
    tmux(isolated, "new-window", "-d", "-t", "=orchestra-project:5", "sleep 100")
    tmux(isolated, "kill-window", "-t", "=orchestra-project:0")
    assert "put the board back" in orchestra("up", "--no-attach").stdout
    assert (
        "0:board"
        in tmux(isolated, "list-windows", "-t", "=orchestra-project", "-F", "#{window_index}:#{window_name}").stdout
    )


def test_board_shows_agents_as_they_change(orchestra, repo, isolated):
    orchestra("up", "--no-attach")
    orchestra("spawn", "--agent", "demo", "--no-attach", "board task")
    wait_for(
        lambda: re.search(
            r"board-task\s+demo\s+exited", tmux(isolated, "capture-pane", "-p", "-t", "=orchestra-project:0").stdout
        ),
        what="the board to show the exited agent",
    )


def test_ls_watch_into_a_pipe_prints_each_change_as_it_happens(orchestra, repo):
    watcher = subprocess.Popen(
        [sys.executable, "-m", "orchestra", "ls", "--watch"], cwd=repo, stdout=subprocess.PIPE, text=True
    )
    printed: list[str] = []
    threading.Thread(target=lambda: printed.extend(iter(watcher.stdout.readline, "")), daemon=True).start()
    try:
        wait_for(lambda: any("no agents yet" in line for line in printed), what="the first board, before any change")
        orchestra("spawn", "--agent", "demo", "--no-attach", "piped board")
        wait_for(
            lambda: any(re.search(r"piped-board\s+demo\s+exited", line) for line in printed), what="the exited agent"
        )
        assert not any(line != line.rstrip(" ") for line in printed), "no padding to the width in a pipe"
    finally:
        watcher.kill()
        watcher.wait()


def test_session_of_another_project_with_the_same_name_is_refused(orchestra, repo, tmp_path):
    orchestra("up", "--no-attach")
    other = tmp_path / "elsewhere" / "project"
    other.parent.mkdir()
    subprocess.run(["git", "clone", "-q", str(repo), str(other)], check=True)
    result = orchestra("up", "--no-attach", cwd=other, check=False)
    assert result.returncode == 1 and "belongs to" in result.stderr and "session" in result.stderr


def test_up_reports_lost_agents(orchestra, repo, isolated, monkeypatch):
    monkeypatch.setenv("ORCHESTRA_DEMO_DELAY", "60")
    orchestra("spawn", "--agent", "demo", "--no-attach", "will be lost")
    tmux(isolated, "kill-server")
    result = orchestra("up", "--no-attach")
    assert "1 agent lost its tmux window: will-be-lost" in result.stdout
    assert "resume them with: orchestra resume" in result.stdout
    assert statuses(orchestra) == {"will-be-lost": "lost"}
    assert agents_json(orchestra)[0]["error"] == "its tmux server was not running"  # not "window closed"


def test_up_resumes_lost_agents_when_told(orchestra, repo, isolated, monkeypatch):
    monkeypatch.setenv("ORCHESTRA_DEMO_DELAY", "60")
    orchestra("spawn", "--agent", "demo", "--no-attach", "come back")
    tmux(isolated, "kill-server")
    result = orchestra("up", "--no-attach", "--resume")
    assert "resumed come-back" in result.stdout and "starting again from its task" in result.stdout
    wait_statuses(orchestra, {"come-back": "running"})


def test_attach_without_a_terminal_is_refused(orchestra, repo):
    orchestra("spawn", "--agent", "demo", "--no-attach", "attach me")
    result = orchestra("attach", "attach-me", check=False)
    assert result.returncode == 1 and "needs a terminal" in result.stderr


def test_attach_and_up_inside_tmux(orchestra, repo, isolated, tmp_path, monkeypatch):
    """A real terminal: a client of the test's tmux server runs `orchestra attach` and lands on the agent's window."""
    monkeypatch.setenv("ORCHESTRA_DEMO_DELAY", "60")
    orchestra("spawn", "--agent", "demo", "--no-attach", "first", "second")
    tmux(isolated, "new-session", "-d", "-s", "user", "-x", "120", "-y", "40", "-c", str(repo))
    script = tmp_path / "go.sh"
    script.write_text(f"cd {repo} && {sys.executable} -m orchestra attach second\n")
    # A second client, attached to 'user' inside a pane of 'user', so switch-client has a client to move.
    tmux(isolated, "send-keys", "-t", "=user:", f"TMUX= tmux -L {isolated} attach -t =user", "Enter")
    wait_for(
        lambda: tmux(isolated, "list-clients", "-F", "#{client_session}").stdout.strip() == "user", what="a client"
    )
    tmux(isolated, "new-window", "-t", "=user:", f"sh {script}")
    wait_for(
        lambda: (
            tmux(isolated, "list-clients", "-F", "#{client_session}:#{window_name}").stdout.strip()
            == "orchestra-project:second"
        ),
        what="the client to be switched to the agent's window",
    )


def test_logs_shows_the_screen(orchestra, repo):
    orchestra("spawn", "--agent", "demo", "--no-attach", "logged task")
    wait_for(lambda: statuses(orchestra) == {"logged-task": "exited"}, what="exit")
    out = orchestra("logs", "logged-task").stdout
    assert "task: logged task" in out and "done: wrote and committed notes/logged-task.md" in out
    last_two = orchestra("logs", "logged-task", "--lines", "2").stdout
    assert len(last_two.splitlines()) <= 2


def test_logs_follow_prints_new_lines(orchestra, repo, recorder, isolated, tmp_path):
    (repo / "orchestra.toml").write_text('[agents.cat]\ncommand = ["cat"]\n')
    orchestra("spawn", "--agent", "cat", "--name", "cat", "--no-attach", "-")
    follower = subprocess.Popen(
        [sys.executable, "-m", "orchestra", "logs", "cat", "--follow"], cwd=repo, stdout=subprocess.PIPE, text=True
    )
    printed: list[str] = []
    # A thread reads, so that wait_for's deadline holds (a bare readline could block past it).
    reader = threading.Thread(target=lambda: printed.extend(iter(follower.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        orchestra("send", "cat", "first line to follow")
        wait_for(lambda: any("first line to follow" in line for line in printed), what="the followed line")
    finally:
        follower.kill()
        follower.wait()


def test_send_answers_a_waiting_agent(orchestra, repo, isolated):
    orchestra("spawn", "--agent", "demo", "--no-attach", "ask before writing")
    agent = agents_json(orchestra)[0]
    wait_for(lambda: "[y/n]" in tmux(isolated, "capture-pane", "-p", "-t", agent["pane"]).stdout, what="the question")
    # The demo agent has no hooks: its kind's screen patterns tell that it asks a person.
    waiting = wait_statuses(orchestra, {"ask-before-writing": "waiting"})
    assert "[y/n]" in waiting[0]["waiting_for"]
    sent = orchestra("send", "ask-before-writing", "yes")
    assert "now running" in sent.stdout
    wait_for(lambda: statuses(orchestra) == {"ask-before-writing": "exited"}, what="the agent to finish")
    assert (Path(agent["worktree"]) / "notes" / "ask-before-writing.md").exists()


def test_send_tells_the_status_the_agent_has_when_it_returns(orchestra, repo, monkeypatch):
    """While the text is typed, the board may read the screen and move the agent first: `send`
    (and the dashboard, which shows what it returns) must not say it is still waiting."""
    from orchestra import sending
    from orchestra.context import Context
    from orchestra.models import Status
    from orchestra.tmux import Tmux

    orchestra("spawn", "--agent", "demo", "--no-attach", "ask before writing")
    wait_statuses(orchestra, {"ask-before-writing": "waiting"})
    monkeypatch.chdir(repo)
    ctx = Context.open()

    class ScreenReadWhileTyping(Tmux):
        def send_text(self, pane, text, enter=True):
            super().send_text(pane, text, enter=False)
            with ctx.state.update() as agents:  # what reconcile does when the question is answered on screen
                agents["ask-before-writing"].set_status(Status.RUNNING, waiting_for=None)
            super().send_text(pane, "", enter=enter)

    ctx.tmux = ScreenReadWhileTyping()
    assert sending.send(ctx, "ask-before-writing", "yes").status == Status.RUNNING
    wait_statuses(orchestra, {"ask-before-writing": "exited"})


def test_send_does_not_undo_a_turn_that_ended_while_it_typed(orchestra, repo, monkeypatch):
    """A quick agent can finish the new prompt's turn before `send` looks again: `done` stays."""
    from orchestra import sending
    from orchestra.context import Context
    from orchestra.models import Status
    from orchestra.tmux import Tmux

    monkeypatch.setenv("ORCHESTRA_DEMO_DELAY", "60")
    orchestra("spawn", "--agent", "demo", "--no-attach", "stay at the prompt")
    wait_statuses(orchestra, {"stay-at-the-prompt": "running"})
    monkeypatch.chdir(repo)
    ctx = Context.open()
    with ctx.state.update() as agents:  # at its prompt, its turn over
        agents["stay-at-the-prompt"].set_status(Status.DONE)

    class TurnEndsWhileTyping(Tmux):
        def send_text(self, pane, text, enter=True):
            super().send_text(pane, text, enter=enter)
            with ctx.state.update() as agents:  # the agent's Stop, already
                agents["stay-at-the-prompt"].set_status(Status.DONE, last_message="All done.")

    ctx.tmux = TurnEndsWhileTyping()
    assert sending.send(ctx, "stay-at-the-prompt", "one more thing").status == Status.DONE
    assert ctx.state.read()["stay-at-the-prompt"].status == Status.DONE


def test_send_is_literal(orchestra, repo, recorder):
    (repo / "orchestra.toml").write_text('[agents.cat]\ncommand = ["cat"]\n')
    orchestra("spawn", "--agent", "cat", "--name", "cat", "--no-attach", "-")
    text = "-l Enter C-c $(echo no) 'quoted' ; end"
    orchestra("send", "cat", "--", text)
    wait_for(lambda: orchestra("logs", "cat").stdout.count(text) == 2, what="cat to echo the text back")


def test_send_of_a_long_text_with_newlines_arrives_whole(orchestra, repo, tmp_path):
    """Beyond tmux's command size (16 KB), newlines kept: all of it, then one Enter."""
    out = tmp_path / "received"
    reader = Path(__file__).parent / "bin" / "read_raw.py"
    (repo / "orchestra.toml").write_text(f'[agents.raw]\ncommand = ["{sys.executable}", "{reader}", "{out}"]\n')
    orchestra("spawn", "--agent", "raw", "--name", "raw", "--no-attach", "-")
    wait_statuses(orchestra, {"raw": "running"})
    text = "first line\n" + "é$(x) " * 10_000 + "\nlast line"  # 70 KB
    orchestra("send", "raw", text)
    wait_for(out.exists, what="the reader to get Enter")
    assert out.read_bytes() == text.encode() + b"\r"


def test_send_to_an_exited_agent_is_refused(orchestra, repo):
    orchestra("spawn", "--agent", "demo", "--no-attach", "short")
    wait_for(lambda: statuses(orchestra) == {"short": "exited"}, what="exit")
    result = orchestra("send", "short", "hello", check=False)
    assert result.returncode == 1 and "is exited" in result.stderr and "orchestra spawn" in result.stderr
    assert statuses(orchestra) == {"short": "exited"}


def test_send_to_a_lost_agent_says_to_resume(orchestra, repo, isolated, monkeypatch):
    monkeypatch.setenv("ORCHESTRA_DEMO_DELAY", "60")
    orchestra("spawn", "--agent", "demo", "--no-attach", "gone")
    tmux(isolated, "kill-server")
    result = orchestra("send", "gone", "hello", check=False)
    assert result.returncode == 1 and "orchestra resume gone" in result.stderr


def test_diff_includes_committed_uncommitted_and_untracked(orchestra, repo):
    orchestra("spawn", "--agent", "demo", "--no-attach", "diff me")
    wait_for(lambda: statuses(orchestra) == {"diff-me": "exited"}, what="exit")
    worktree = Path(agents_json(orchestra)[0]["worktree"])
    (worktree / "untracked.txt").write_text("fresh\n")
    out = orchestra("diff", "diff-me").stdout
    assert "+diff me" in out and "+fresh" in out
    stat = orchestra("diff", "diff-me", "--stat").stdout
    assert "notes/diff-me.md" in stat and "untracked.txt" in stat
    assert git(worktree, "status", "--porcelain") == "?? untracked.txt\n", "the agent's index is untouched"


def test_init_writes_every_default_and_refuses_to_overwrite(orchestra, repo):
    out = orchestra("init").stdout
    path = repo / "orchestra.toml"
    assert f"wrote {path}" in out
    text = path.read_text()
    for key in (
        "default_agent",
        "worktree_root",
        "copy",
        "symlink",
        "setup",
        "range",
        "strategy",
        "disabled",
        "[agents.claude]",
    ):
        assert key in text
    assert '"--permission-mode", "acceptEdits"' in text
    orchestra("ls")  # the written file validates
    result = orchestra("init", check=False)
    assert result.returncode == 1 and "--force" in result.stderr
    path.write_text("# mine\n")
    orchestra("init", "--force")
    assert path.read_text() == text


def test_doctor_reports_and_fixes(orchestra, repo):
    out = orchestra("doctor", check=False).stdout
    assert re.search(r"✓ tmux\s+\d+\.\d+", out) and re.search(r"✓ git\s+\d+\.\d+", out)
    # The default kind, claude, is not installed here: spawning without --agent could not work.
    assert "✗ agent claude" in out and "is the default agent kind" in out
    (repo / "orchestra.toml").write_text('[orchestra]\ndefault_agent = "demo"\n')
    assert orchestra("doctor").returncode == 0
    orchestra("spawn", "--agent", "demo", "--no-attach", "doomed")
    wait_for(lambda: statuses(orchestra) == {"doomed": "exited"}, what="exit")
    worktree = Path(agents_json(orchestra)[0]["worktree"])
    subprocess.run(["rm", "-rf", str(worktree)], check=True)
    result = orchestra("doctor", check=False)
    assert result.returncode == 1
    assert "lost their worktree: doomed" in result.stdout
    assert "1 worktree(s) that are gone" in result.stdout
    checks = json.loads(orchestra("doctor", "--fix", "--json", check=False).stdout)
    assert any(c["name"] == "worktrees" and c["fixed"] for c in checks)
    assert str(worktree) not in git(repo, "worktree", "list")


def test_demo_without_a_terminal(orchestra, tmp_path, isolated):
    result = orchestra("demo", "--no-attach", cwd=tmp_path)
    made = Path(re.search(r"made a throwaway repository at (\S+)", result.stdout).group(1))
    assert made.parent == tmp_path
    demo_agents = json.loads(orchestra("ls", "--json", cwd=made).stdout)
    assert len(demo_agents) == 3 and {a["status"] for a in demo_agents} == {"exited"}
    assert "remove it:" in result.stdout and f"rm -rf {made}" in result.stdout
    assert f"kill-session -t {made.name}" in result.stdout
    assert result.stdout.count("3 exited") == 1, "into a pipe, the final board once"
    assert not [line for line in result.stdout.splitlines() if line != line.rstrip()], "no padding in a pipe"


@pytest.mark.parametrize("inside_other_tmux", [False, True], ids=["plain-terminal", "inside-another-tmux"])
def test_up_attaches_the_terminal(orchestra, repo, isolated, tmp_path, inside_other_tmux):
    """`orchestra up` outside this tmux server (in a plain terminal, or in someone else's tmux)
    makes the terminal a client of the session."""
    outer = f"{isolated}-outer"
    script = tmp_path / "up.sh"
    unset = "" if inside_other_tmux else "unset TMUX; "
    script.write_text(f"{unset}cd {repo} && exec {sys.executable} -m orchestra up\n")
    try:
        subprocess.run(["tmux", "-L", outer, "new-session", "-d", "-x", "100", "-y", "30", f"sh {script}"], check=True)
        wait_for(
            lambda: (
                tmux(isolated, "list-clients", "-F", "#{client_session}:#{window_name}").stdout.strip()
                == "orchestra-project:board"
            ),
            what="a client attached to the board",
        )
    finally:
        subprocess.run(["tmux", "-L", outer, "kill-server"], capture_output=True)


def test_logs_lines_counts_output_lines_not_blank_screen_rows(orchestra, repo):
    orchestra("spawn", "--agent", "demo", "--no-attach", "short output")
    wait_for(lambda: statuses(orchestra) == {"short-output": "exited"}, what="exit")
    assert (
        orchestra("logs", "short-output", "--lines", "1").stdout == "done: wrote and committed notes/short-output.md\n"
    )


def test_the_demo_agent_writes_its_notes_under_the_agents_own_name(orchestra, repo):
    (agent,) = json.loads(orchestra("spawn", "--agent", "demo", "--no-attach", "--json", "Café résumé ☕").stdout)
    assert agent["name"] == "cafe-resume"
    wait_statuses(orchestra, {"cafe-resume": "exited"})
    assert (Path(agent["worktree"]) / "notes" / "cafe-resume.md").read_text() == "Café résumé ☕\n"


def test_ls_into_a_pipe_has_no_padding(orchestra, repo):
    orchestra("spawn", "--agent", "demo", "--no-attach", "short task")
    wait_for(lambda: statuses(orchestra) == {"short-task": "exited"}, what="exit")
    lines = orchestra("ls").stdout.splitlines()
    assert lines[0].startswith("NAME") and all(line == line.rstrip() for line in lines)
    assert lines[1].rstrip().endswith("exit code 0")


def test_an_unexpected_error_writes_a_private_crash_log_with_the_versions(monkeypatch, capsys, isolated, tmp_path):
    from orchestra import __version__, summary
    from orchestra.cli import main

    def crash(cwd):
        raise RuntimeError("the bug")

    monkeypatch.setattr(summary, "count", crash)
    log = tmp_path / "home" / "orchestra-home" / "crash.log"
    log.parent.mkdir(parents=True)
    log.write_text("an older crash\n")
    log.chmod(0o644)  # written before crash logs were private: made private too
    with pytest.raises(SystemExit) as exited:
        main(["ls", "--tmux"])
    assert exited.value.code == 70
    stderr = capsys.readouterr().err
    assert "unexpected error: RuntimeError: the bug. This is a bug; details are in" in stderr and str(log) in stderr
    assert log.stat().st_mode & 0o777 == 0o600
    text = log.read_text()
    assert text.startswith("an older crash\n") and f"orchestra {__version__} " in text
    assert re.search(r"^python \d+\.\d+\.\d+, git \d+\.\d+[.\w]*, tmux [\w.-]+, ", text, re.M), text
    assert "RuntimeError: the bug" in text and "Traceback" in text
