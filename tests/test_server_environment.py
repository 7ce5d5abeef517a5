"""What the tmux server orchestra starts keeps of the spawning shell, and which configuration the
processes it starts (the notifiers, the pane-died handler) read."""

from __future__ import annotations

import json
import os
import sys

from orchestra.context import Context
from orchestra.tmux import Tmux
from support import git, wait_for
from test_slack import StandIn

SECRETS = {
    "ANTHROPIC_API_KEY": "sk-ant-not-for-the-server",
    "GITHUB_TOKEN": "ghp_not_for_the_server",
    "SLACK_WEBHOOK_URL": "https://hooks.slack.invalid/services/not-for-the-server",
}


def test_the_tmux_server_keeps_no_secret_of_the_shell_that_started_it(orchestra, recorder, repo, tmp_path):
    env = {**os.environ, **SECRETS, "RECORD_ENV": ",".join(SECRETS)}
    orchestra("spawn", "--agent", "recorder", "--name", "envy", "--no-attach", "task", env=env)
    wait_for(lambda: (recorder / "envy.done").exists(), what="the recorder to run")
    seen = dict(line.split("=", 1) for line in (recorder / "envy.env").read_text().splitlines())
    assert {key: seen.get(key) for key in SECRETS} == SECRETS, "the agent still gets the spawning shell's environment"

    tmux, session = Tmux(), Context.open(repo).session
    kept = "\n".join(tmux.cmd("show-environment", "-g") + tmux.cmd("show-environment", "-t", f"={session}"))
    assert "PATH=" in kept and "HOME=" in kept and "ORCHESTRA_TMUX_SOCKET=" in kept
    assert not [key for key in SECRETS if key in kept], kept

    # A window a person opens on that server later.
    out = tmp_path / "person.env"
    write_env = "import json, os, sys; open(sys.argv[1] + '.tmp', 'w').write(json.dumps(dict(os.environ)))"
    write_env += "; os.rename(sys.argv[1] + '.tmp', sys.argv[1])"
    tmux.cmd("new-window", "-d", "-t", f"={session}:", "--", sys.executable, "-c", write_env, str(out))
    person = json.loads(wait_for(lambda: out.exists() and out.read_text(), what="the new window's program"))
    assert person["HOME"] == os.environ["HOME"] and person["PATH"]
    assert not [key for key in SECRETS if key in person]
    assert not [value for value in SECRETS.values() if value in repr(person)]


def test_notifiers_read_the_main_checkouts_configuration_not_the_worktrees_copy(orchestra, repo, monkeypatch):
    # Committed: the copy every agent's worktree checks out.
    (repo / "orchestra.toml").write_text('[plugins.slack]\nwebhook_url_env = "OLD_HOOK"\nevents = ["failed"]\n')
    git(repo, "add", "orchestra.toml")
    git(repo, "commit", "-qm", "post failures to Slack")
    # Edited since, not committed: what the project says now.
    (repo / "orchestra.toml").write_text('[plugins.slack]\nwebhook_url_env = "TEAM_HOOK"\nevents = ["failed"]\n')
    slack = StandIn()
    try:
        monkeypatch.setenv("TEAM_HOOK", slack.url)
        orchestra("spawn", "--agent", "demo", "--no-attach", "--name", "failer", "fail on purpose")
        worktree = repo.parent / f"{repo.name}.worktrees" / "failer"  # no `ls`: it would see the exit first
        assert "OLD_HOOK" in (worktree / "orchestra.toml").read_text()
        opened = Context.open(worktree)  # as the pane-died handler and the notifier open it
        assert opened.config.sources[-1] == repo / "orchestra.toml"
        assert opened.config.plugin_settings("slack")["webhook_url_env"] == "TEAM_HOOK"
        try:  # no `ls`: the agent's own exit is what tells the notifiers
            wait_for(lambda: slack.requests, what="the failure to be posted")
        except AssertionError as error:
            raise AssertionError(f"{error}; the event log: {orchestra('events', '--json').stdout}") from None
        (request,) = slack.requests
        assert request["json"]["text"].startswith("failer failed (exit code 1)")
    finally:
        slack.close()


def test_a_tmux_folder_of_ones_own_keeps_the_session_on_that_server(orchestra, repo, tmp_path, monkeypatch):
    """TMUX_TMPDIR says where tmux's sockets are: the server orchestra starts, and every tmux
    command after it, must find the same one (new-session ran without it and made the session
    on the server in /tmp, out of reach of the commands that followed)."""
    folder = tmp_path / "sockets"
    folder.mkdir()
    monkeypatch.setenv("TMUX_TMPDIR", str(folder))
    env = dict(os.environ)
    try:
        orchestra("up", "--no-attach", env=env)
        orchestra("spawn", "--agent", "demo", "--no-attach", "--name", "here", "write it", env=env)
        assert list(folder.glob("tmux-*/*")), "the server's socket is in TMUX_TMPDIR"
        shown = wait_for(
            lambda: [a for a in json.loads(orchestra("ls", "--json", env=env).stdout) if a["status"] == "exited"],
            what="the agent to run and exit on that server",
        )
        assert [a["name"] for a in shown] == ["here"] and shown[0]["exit_code"] == 0
    finally:
        Tmux().run("kill-server", check=False)
