"""Agents on a host (`spawn --host`), against a real OpenSSH server on 127.0.0.1 for a second local
user, with this checkout's orchestra installed there (tests/ssh_support.py's `ready_host`)."""

from __future__ import annotations

import json
import subprocess
import uuid

import pytest

from support import git, wait_for
from test_github import TOKEN, gh_log, github_api  # noqa: F401 - the stand-in GitHub API and a logged-out gh
from test_lifecycle import heard, listener  # noqa: F401 - a notifier plugin, as a third party installs one

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]  # the first one installs orchestra on the host


@pytest.fixture
def on_host(repo, ready_host):
    """`repo` configured with the host `box` and a clone of its own there, committed; on the way
    out, the host's tmux server and that clone go."""
    path = f"projects/{uuid.uuid4().hex[:10]}"
    (repo / "orchestra.toml").write_text(
        ready_host.toml("box", path=path, forward_env=["ORCHESTRA_DEMO_DELAY", "SECRET_TOKEN"])
    )
    git(repo, "add", "orchestra.toml")
    git(repo, "commit", "-qm", "hosts")
    yield ready_host
    host_cmd(ready_host, "tmux", "kill-server", check=False)
    host_cmd(ready_host, "rm", "-rf", path, f"{path}.worktrees", check=False)


def host_cmd(host, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["ssh", *host.ssh_args, "-o", "BatchMode=yes", host.alias, *argv],
        capture_output=True,
        text=True,
        check=check,
        timeout=60,
    )


def rows(orchestra) -> dict[str, dict]:
    return {row["name"]: row for row in json.loads(orchestra("ls", "--json").stdout)}


def wait_remote(orchestra, name: str, status: str, timeout: float = 60) -> dict:
    def seen():
        row = rows(orchestra).get(name)
        return row if row and row["status"] == status else None

    try:
        return wait_for(seen, timeout=timeout, what=f"{name} {status} on the host")
    except AssertionError as error:
        raise AssertionError(f"{error}; ls shows {rows(orchestra).get(name)}") from None


def test_a_demo_agent_runs_on_the_host_and_shows_here(orchestra, repo, on_host, listener):  # noqa: F811
    spawned = json.loads(orchestra("spawn", "--host", "box", "--agent", "demo", "--json", "write the notes").stdout)
    (agent,) = spawned
    assert agent["host"] == "box" and agent["name"] == "write-the-notes", agent
    done = wait_remote(orchestra, "write-the-notes", "exited")
    assert done["host"] == "box" and done["exit_code"] == 0
    assert done["worktree"].startswith(str(on_host.home)), "its worktree is the host's"
    local = rows(orchestra)
    assert set(local) == {"write-the-notes"}
    table = orchestra("ls").stdout
    assert "HOST" in table and "box" in table and "write-the-notes" in table
    events = [json.loads(line) for line in orchestra("events", "--json").stdout.splitlines() if line.strip()]
    assert any(e.get("agent") == "write-the-notes" and e.get("status") == "exited" for e in events), events
    # The notifiers here hear the change a look saw, once, however often one looks again.
    wait_for(lambda: ["write-the-notes", "exited"] in [h[:2] for h in heard(listener)], what="the exit heard")
    orchestra("ls")
    assert [h[:2] for h in heard(listener)].count(["write-the-notes", "exited"]) == 1, heard(listener)


def test_a_question_on_the_host_is_answered_from_here(orchestra, repo, on_host):
    orchestra("spawn", "--host", "box", "--agent", "demo", "--name", "asker", "ask first, then work")
    wait_remote(orchestra, "asker", "waiting")
    screen = orchestra("logs", "asker").stdout
    assert "[y/n]" in screen
    said = orchestra("send", "asker", "yes").stdout
    assert "sent to asker" in said
    wait_remote(orchestra, "asker", "exited")


def test_an_agent_that_fails_on_the_host_shows_failed_here_with_its_exit_code(orchestra, repo, on_host):
    orchestra("spawn", "--host", "box", "--agent", "demo", "--name", "breaker", "fail on purpose")
    failed = wait_remote(orchestra, "breaker", "failed")
    assert failed["host"] == "box" and failed["exit_code"] == 1, failed
    assert "failed" in orchestra("ls").stdout
    (report,) = [r for r in json.loads(orchestra("report", "--json").stdout) if r["name"] == "breaker"]
    assert report["status"] == "failed" and report["exit_code"] == 1 and report["commits"] == [], report
    assert "the checks failed" in orchestra("logs", "breaker").stdout  # its own words, from the host's pane


def test_kill_refuses_remote_work_and_force_keeps_it_here(orchestra, repo, on_host):
    orchestra("spawn", "--host", "box", "--agent", "demo", "--name", "worker", "write it")
    wait_remote(orchestra, "worker", "exited")
    refused = orchestra("kill", "worker", check=False)
    assert refused.returncode == 1 and "worker" in refused.stderr, refused.stderr
    assert "worker" in rows(orchestra)
    removed = orchestra("kill", "--force", "worker").stdout
    assert "refs/orchestra/trash/" in removed, removed
    ref = removed.split("kept at ", 1)[1].split()[0]
    files = git(repo, "ls-tree", "-r", "--name-only", ref)
    assert "notes/worker.md" in files, files
    assert "worker" not in rows(orchestra)


def test_an_unreachable_host_shows_its_agents_so_without_holding_up_ls(orchestra, repo, on_host):
    orchestra("spawn", "--host", "box", "--agent", "demo", "--name", "far", "write it")
    wait_remote(orchestra, "far", "exited")
    reachable = (repo / "orchestra.toml").read_text()
    (repo / "orchestra.toml").write_text(
        on_host.toml("box", ssh="orchestra-host@127.0.0.1", ssh_args=["-p", "1", "-o", "ControlPath=none"])
    )
    import time

    started = time.monotonic()
    row = rows(orchestra)["far"]
    took = time.monotonic() - started
    assert row["status"] == "unreachable" and "cannot be reached" in row["error"], row
    assert took < 15, f"ls took {took:.1f} s with a host down"
    assert "unreachable" in orchestra("ls").stdout
    # Merging and forecasting it wait for its host: one sentence each, nothing changed here.
    main = git(repo, "rev-parse", "main")
    for command, said in (
        ("merge", "which does not answer now"),
        ("conflicts", "which does not answer now (host 'box' cannot be reached"),
    ):
        refused = orchestra(command, "far", check=False)
        assert refused.returncode == 1 and said in refused.stderr and "Traceback" not in refused.stderr, refused
    assert git(repo, "rev-parse", "main") == main and git(repo, "branch", "--list", "orchestra/far") == ""
    # The host back: its agents show as they are, and the event log told each change once.
    (repo / "orchestra.toml").write_text(reachable)
    assert rows(orchestra)["far"]["status"] == "exited"
    statuses = [
        json.loads(line)["status"]
        for line in orchestra("events", "--json", "--agent", "far").stdout.splitlines()
        if line.strip() and json.loads(line)["type"] == "status"
    ]
    assert statuses.count("unreachable") == 1 and statuses.count("exited") == 1, statuses


def test_a_forwarded_variable_reaches_the_agent_and_no_file_on_the_host(orchestra, repo, on_host):
    import os

    secret = f"s3cret-{uuid.uuid4().hex}"
    with (repo / "orchestra.toml").open("a") as config:  # edited, not committed: the host gets it as it is
        config.write(
            '[agents.peek]\ncommand = ["sh", "-c", "printf %s \\"$SECRET_TOKEN\\" > seen.txt; exec sleep 600"]\n'
        )
    env = {**os.environ, "SECRET_TOKEN": secret}
    orchestra("spawn", "--host", "box", "--agent", "peek", "--name", "peek", "look", env=env)
    row = wait_remote(orchestra, "peek", "running")
    seen = host_cmd(on_host, "cat", f"{row['worktree']}/seen.txt").stdout
    assert seen == secret
    # Nowhere on the host's disk but the file the agent itself wrote: not its launch file, not the state.
    found = host_cmd(on_host, "grep", "-rl", secret, ".", check=False).stdout.split()
    assert [path for path in found if not path.endswith("/seen.txt")] == [], found
    assert secret not in host_cmd(on_host, "tmux", "show-environment", "-g", check=False).stdout
    orchestra("kill", "--force", "peek")


def test_a_host_whose_tmux_went_away_shows_its_agents_lost_and_resume_brings_them_back(orchestra, repo, on_host):
    with (repo / "orchestra.toml").open("a") as config:
        config.write('[agents.sleeper]\ncommand = ["sh", "-c", "exec sleep 600", "{task}"]\n')
    orchestra("spawn", "--host", "box", "--agent", "sleeper", "--name", "nap", "rest")
    wait_remote(orchestra, "nap", "running")
    host_cmd(on_host, "tmux", "kill-server")
    wait_remote(orchestra, "nap", "lost")
    said = orchestra("resume").stdout  # every lost agent, those on hosts included
    assert "resumed nap on host box" in said, said
    # A resumed agent is idle at its prompt until told more: `done`, as a local one is.
    back = wait_for(
        lambda: rows(orchestra)["nap"]["status"] in ("running", "done") and rows(orchestra)["nap"], timeout=60
    )
    assert back["pane"] and back["host"] == "box"
    orchestra("kill", "--force", "nap")


def test_diff_and_report_reach_the_host(orchestra, repo, on_host):
    orchestra("spawn", "--host", "box", "--agent", "demo", "--name", "there", "write it")
    wait_remote(orchestra, "there", "exited")
    shown = orchestra("diff", "there").stdout
    assert "notes/there.md" in shown and "+write it" in shown, shown
    (reported,) = json.loads(orchestra("report", "--json").stdout)
    assert reported["name"] == "there" and reported["host"] == "box" and len(reported["commits"]) == 1, reported


# An agent kind that leaves its work uncommitted: its task text as README.md's content, and a new file.
SCRIBBLE = (
    '[agents.scribble]\ncommand = ["sh", "-c", '
    '"printf \'%s\\\\n\' \\"$0\\" > README.md; printf draft > draft.txt", "{task}"]\n'
)


def host_git(host, worktree: str, *argv: str) -> str:
    return host_cmd(host, "git", "-C", worktree, *argv).stdout


def test_merge_of_a_remote_agent_lands_its_commits_here_and_it_shows_merged(orchestra, repo, on_host):
    orchestra("spawn", "--host", "box", "--agent", "demo", "--name", "there", "write it")
    wait_remote(orchestra, "there", "exited")
    # A branch of the agent's name here that holds other work is never moved onto the host's.
    git(repo, "branch", "orchestra/there", "main")
    git(repo, "commit", "-q", "--allow-empty", "-m", "mine")  # on main, then moved to that branch
    git(repo, "branch", "-f", "orchestra/there", "HEAD")
    git(repo, "reset", "-q", "--hard", "HEAD~1")
    mine = git(repo, "rev-parse", "orchestra/there").strip()
    refused = orchestra("merge", "there", check=False)
    assert refused.returncode == 1 and "has commits the agent's branch on its host lacks" in refused.stderr
    assert git(repo, "rev-parse", "orchestra/there").strip() == mine
    git(repo, "branch", "-D", "orchestra/there")
    said = orchestra("merge", "there").stdout
    assert "there: merged into main" in said, said
    assert (repo / "notes" / "there.md").read_text().startswith("write it"), "the main checkout follows main"
    assert "notes/there.md" in git(repo, "ls-tree", "-r", "--name-only", "main")
    assert wait_remote(orchestra, "there", "merged")["host"] == "box"  # the host's own record says so
    # Merged work is clean-able: the host sees it merged into main as it is here, and what was
    # fetched here of the agent goes with it.
    removed = orchestra("clean").stdout
    assert "there" in removed and "there" not in rows(orchestra), removed
    assert git(repo, "branch", "--list", "orchestra/there") == ""
    assert git(repo, "for-each-ref", "refs/orchestra/remote/") == ""


def test_merge_of_remote_uncommitted_work_commits_it_there_as_here_and_loses_nothing(orchestra, repo, on_host):
    with (repo / "orchestra.toml").open("a") as config:
        config.write(SCRIBBLE)
        config.write('[agents.busy]\ncommand = ["sh", "-c", "printf wip > wip.txt; exec sleep 600", "{task}"]\n')
    orchestra("spawn", "--host", "box", "--agent", "busy", "--name", "busy", "keep at it")
    orchestra("spawn", "--host", "box", "--agent", "scribble", "--name", "loose", "rewritten")
    busy = wait_remote(orchestra, "busy", "running")
    loose = wait_remote(orchestra, "loose", "exited")
    # A remote agent still at work is refused as a local one is, and its files are left alone.
    refused = orchestra("merge", "busy", check=False)
    assert refused.returncode == 1 and "still running" in refused.stderr, refused.stderr
    assert host_git(on_host, busy["worktree"], "status", "--porcelain") == "?? wip.txt\n"
    # A finished one: its uncommitted work is committed on its branch on the host (as a merge
    # commits a local agent's), then fetched and merged here.
    said = orchestra("merge", "loose").stdout
    assert "loose: committed its uncommitted work on its branch" in said and "merged into main" in said, said
    assert git(repo, "show", "main:README.md") == "rewritten\n"
    assert git(repo, "show", "main:draft.txt") == "draft"
    assert host_git(on_host, loose["worktree"], "status", "--porcelain") == ""
    there = host_git(on_host, loose["worktree"], "rev-parse", "HEAD").strip()
    assert git(repo, "merge-base", "--is-ancestor", there, "main") == ""  # the host's commit is in main
    assert wait_remote(orchestra, "loose", "merged")
    orchestra("kill", "--force", "busy")


def test_kill_force_of_remote_uncommitted_work_keeps_it_here(orchestra, repo, on_host):
    with (repo / "orchestra.toml").open("a") as config:
        config.write(SCRIBBLE)
    orchestra("spawn", "--host", "box", "--agent", "scribble", "--name", "drafty", "never committed")
    wait_remote(orchestra, "drafty", "exited")
    refused = orchestra("kill", "drafty", check=False)
    assert refused.returncode == 1 and "drafty" in refused.stderr, refused.stderr
    removed = orchestra("kill", "--force", "drafty").stdout
    ref = removed.split("kept at ", 1)[1].split()[0]
    assert ref.startswith("refs/orchestra/trash/"), removed
    assert git(repo, "show", f"{ref}:README.md") == "never committed\n"
    assert git(repo, "show", f"{ref}:draft.txt") == "draft"
    assert "drafty" not in rows(orchestra)


def test_conflicts_and_the_train_take_remote_work_without_touching_it(orchestra, repo, on_host):
    with (repo / "orchestra.toml").open("a") as config:
        config.write(SCRIBBLE)
    orchestra("spawn", "--agent", "scribble", "--name", "near", "written here")
    orchestra("spawn", "--host", "box", "--agent", "scribble", "--name", "far", "written there")
    far = wait_remote(orchestra, "far", "exited")
    wait_for(lambda: rows(orchestra)["near"]["status"] == "exited", what="near exited")
    tip = host_git(on_host, far["worktree"], "rev-parse", "HEAD")
    forecast = json.loads(orchestra("conflicts", "--json").stdout)
    assert set(forecast["agents"]) == {"near", "far"}, forecast
    assert forecast["pairs"] == [{"agents": ["far", "near"], "conflicts": ["README.md"], "overlaps": ["draft.txt"]}], (
        forecast
    )
    assert "far x near: conflict in README.md" in orchestra("conflicts").stdout
    assert json.loads(orchestra("conflicts", "--json", "far").stdout)["agents"] == {
        "far": {"conflicts": [], "overlaps": []}
    }
    # The forecast took the host's uncommitted work as it is: nothing there was committed or staged.
    assert host_git(on_host, far["worktree"], "status", "--porcelain") == " M README.md\n?? draft.txt\n"
    assert host_git(on_host, far["worktree"], "rev-parse", "HEAD") == tip
    # The train takes remote agents too: the first lands, the other would conflict and is left out.
    results = {r["name"]: r for r in json.loads(orchestra("merge", "--all", "--json", check=False).stdout)}
    assert set(results) == {"near", "far"}, results
    assert sorted(r["result"] for r in results.values()) == ["left out", "merged"], results
    assert results["far"]["result"] == "merged" or "README.md" in results["far"]["files"], results
    # What was fetched of it goes with it, here and on the host.
    clone = far["worktree"].rsplit(".worktrees/", 1)[0]
    assert "refs/orchestra/fetch/far" in host_git(on_host, clone, "for-each-ref")
    orchestra("kill", "--force", "far", "near")
    assert "refs/orchestra/fetch/" not in host_git(on_host, clone, "for-each-ref")
    assert "refs/orchestra/remote/" not in git(repo, "for-each-ref")


def test_spawn_on_an_unknown_host_is_one_sentence(orchestra, repo, on_host):
    result = orchestra("spawn", "--host", "nowhere", "--agent", "demo", "a task", check=False)
    assert result.returncode == 1 and "no host named 'nowhere'" in result.stderr, result.stderr
    assert rows(orchestra) == {}


def test_auto_places_each_agent_where_most_slots_are_free(orchestra, repo, on_host):
    table = (repo / "orchestra.toml").read_text()  # the fixture's, with this test's max_running
    (repo / "orchestra.toml").write_text(
        table.replace("[hosts.box]\n", "[hosts.box]\nmax_running = 1\n", 1)
        + '[schedule]\nmax_running = 1\n[agents.sleeper]\ncommand = ["sh", "-c", "exec sleep 600", "{task}"]\n'
    )
    spawned = json.loads(orchestra("spawn", "--host", "auto", "--agent", "sleeper", "--json", "one", "two").stdout)
    assert sorted((a["name"], a["host"]) for a in spawned) == [("one", None), ("two", "box")], spawned
    orchestra("kill", "--force", "one", "two")


def test_clean_keeps_unmerged_remote_work_and_force_fetches_it_here(orchestra, repo, on_host):
    orchestra("spawn", "--host", "box", "--agent", "demo", "--name", "tidy", "write it")
    wait_remote(orchestra, "tidy", "exited")
    kept = orchestra("clean").stdout
    assert "tidy" in kept and "on host 'box'" in kept and "tidy" in rows(orchestra), kept
    removed = orchestra("clean", "--force").stdout
    ref = removed.split("kept at ", 1)[1].split()[0]
    assert "notes/tidy.md" in git(repo, "ls-tree", "-r", "--name-only", ref)
    assert "tidy" not in rows(orchestra)


def test_sync_brings_a_remote_agents_branch_up_to_date_on_its_host(orchestra, repo, on_host):
    with (repo / "orchestra.toml").open("a") as config:
        config.write(SCRIBBLE)
    orchestra("spawn", "--host", "box", "--agent", "scribble", "--name", "behind", "rewritten")
    row = wait_remote(orchestra, "behind", "exited")
    (repo / "later.txt").write_text("later\n")
    git(repo, "add", "later.txt")
    git(repo, "commit", "-qm", "a later commit on main")
    main = git(repo, "rev-parse", "main").strip()
    (synced,) = json.loads(orchestra("sync", "--json", "behind").stdout)
    assert synced["ok"] and synced["committed"], synced
    # On the host: its loose work committed on its branch, and main as it is here merged into it.
    assert host_git(on_host, row["worktree"], "status", "--porcelain") == ""
    assert host_cmd(on_host, "cat", f"{row['worktree']}/later.txt").stdout == "later\n"
    assert main in host_git(on_host, row["worktree"], "log", "--format=%H")
    assert git(repo, "rev-parse", "main").strip() == main, "the target here is not touched"
    assert git(repo, "branch", "--list", "orchestra/behind") == "", "nor is any branch made here"
    # `--all` takes it too; already up to date, nothing more is committed.
    (again,) = json.loads(orchestra("sync", "--all", "--json").stdout)
    assert again["name"] == "behind" and again["ok"] and again["committed"] is None, again


@pytest.fixture(scope="session")
def host_claude(ready_host, claude_bin) -> str:
    """The pinned Claude Code where the host user can run it. The binary lives under the test
    runner's HOME (/root, which only root may enter): it is hard-linked into the host user's home,
    the file itself staying root's and read-only to that user, so that no folder's permissions
    are opened up for it. A copy where a link cannot be made (another file system)."""
    import os
    import pwd
    import shutil

    user = pwd.getpwnam(ready_host.user)
    folder = ready_host.home / ".cache" / "orchestra-tests"
    for path in (folder.parent, folder):
        path.mkdir(exist_ok=True)
        os.chown(path, user.pw_uid, user.pw_gid)
    binary = folder / "claude"
    binary.unlink(missing_ok=True)
    try:
        os.link(claude_bin.resolve(), binary)
    except OSError:
        shutil.copy2(claude_bin.resolve(), binary)
    return str(binary)


def test_claude_code_on_the_host_against_the_stand_in_is_done_and_merged_here(
    orchestra, repo, on_host, host_claude, claude_api
):
    import os
    import pwd
    import re

    from claude_api import Text, ToolUse, claude_environment, claude_json

    path = json.loads(re.search(r"^path = (.*)$", (repo / "orchestra.toml").read_text(), re.M)[1])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "CLAUDE"))}
    env.update(claude_environment(claude_api.url))
    (repo / "orchestra.toml").write_text(
        on_host.toml("box", path=path, forward_env=sorted(claude_environment(claude_api.url)))
        + f"[agents.claude]\ncommand = [{json.dumps(host_claude)}]\n"
    )
    # The host user's Claude Code: onboarded, the project's clone there trusted (its worktrees inherit it).
    user = pwd.getpwnam(on_host.user)
    settings = on_host.home / ".claude.json"
    settings.write_text(json.dumps(claude_json(on_host.home / path)))
    os.chown(settings, user.pw_uid, user.pw_gid)
    try:
        claude_api.script([ToolUse("Write", {"file_path": "hello.txt", "content": "hi\n"}), Text("I wrote hello.txt.")])
        (spawned,) = json.loads(
            orchestra("spawn", "--host", "box", "--agent", "claude", "--json", "write hello.txt", env=env).stdout
        )
        assert spawned["host"] == "box" and spawned["session_id"], spawned
        done = wait_remote(orchestra, "write-hello-txt", "done", timeout=90)
        assert done["last_message"] == "I wrote hello.txt." and done["last_hook"] == "Stop", done
        assert host_cmd(on_host, "cat", f"{done['worktree']}/hello.txt").stdout == "hi\n"
        # Every request reached the stand-in from the host, under the agent's own session id.
        assert {r.headers.get("x-claude-code-session-id") for r in claude_api.main_requests} == {spawned["session_id"]}
        # Its work (uncommitted, as Claude Code leaves it) merged here.
        said = orchestra("merge", "write-hello-txt").stdout
        assert "merged into main" in said, said
        assert git(repo, "show", "main:hello.txt") == "hi\n"
        orchestra("kill", "--force", "write-hello-txt")
    finally:
        settings.unlink(missing_ok=True)
        host_cmd(on_host, "rm", "-rf", ".claude", check=False)


def test_pr_of_a_remote_agent_pushes_its_branch_from_here_and_its_host_records_the_pull_request(
    orchestra,
    repo,
    on_host,
    tmp_path,
    github_api,  # noqa: F811
    gh_log,  # noqa: F811
    monkeypatch,
):
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(repo, "remote", "add", "origin", str(bare))
    git(repo, "push", "-q", "origin", "main")
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    with (repo / "orchestra.toml").open("a") as config:
        config.write(f'[plugins.github]\napi_url = "{github_api.url}"\nrepository = "octo/project"\n')
    orchestra("spawn", "--host", "box", "--agent", "demo", "--name", "proposal", "write it")
    row = wait_remote(orchestra, "proposal", "exited")
    said = orchestra("pr", "proposal").stdout
    assert "opened pull request #12: https://github.com/octo/project/pull/12" in said, said
    there = host_git(on_host, row["worktree"], "rev-parse", "HEAD").strip()
    assert git(bare, "rev-parse", "orchestra/proposal").strip() == there, "the host's branch, pushed from here"
    (request,) = github_api.requests
    assert request["json"]["head"] == "orchestra/proposal" and "write it" in request["json"]["title"]
    assert "notes/proposal.md" not in git(repo, "ls-tree", "-r", "--name-only", "main"), "main is not touched"
    # Its host keeps the pull request on the agent, which stays unmerged until the pull request is.
    shown = rows(orchestra)["proposal"]
    assert shown["pull_request"] == "https://github.com/octo/project/pull/12" and shown["status"] == "exited", shown
