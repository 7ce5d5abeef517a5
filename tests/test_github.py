"""The bundled `github` plugin: the `pr` strategy pushes to a local bare remote and opens a pull
request through a stand-in GitHub API on 127.0.0.1, or through a stand-in `gh` on PATH."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from orchestra import config as config_module
from orchestra.errors import MergeFailed
from orchestra.models import Agent, MergeResult, Repository, Status
from orchestra_github import gh, merge_strategy, pull_request, register_commands, remote
from support import git, wait_statuses

TOKEN = "ghp_TESTSECRET0123456789"
BRANCH = "orchestra/fix-login"
TASK = "--fix the login redirect so users land where they started\nand keep the session cookie"
FINAL = 'Fixed the redirect — `$(rm -rf /)` "quoted" ✓\nline two, tests pass.'
REAL_GH = shutil.which("gh")


class GitHubStandIn:
    """Answers like GitHub's REST API, as told by `answer`, and records every request."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.answer = "created"
        self.release = threading.Event()  # a hanging answer waits for this (set at teardown)
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                stand_in.handle(self)

            do_GET = do_POST

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        data = request.rfile.read(int(request.headers.get("Content-Length") or 0))
        self.requests.append(
            {
                "method": request.command,
                "path": request.path,
                "headers": dict(request.headers),
                "json": json.loads(data) if data else None,
            }
        )
        if self.answer == "hang":
            self.release.wait()
            return
        if request.command == "GET":
            found = [{"number": 7, "html_url": "https://github.com/octo/project/pull/7"}]
            return self.reply(request, 200, found if self.answer == "exists" else [])
        status, payload = {
            "created": (201, {"number": 12, "html_url": "https://github.com/octo/project/pull/12"}),
            "unauthorized": (401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}),
            "exists": (
                422,
                {
                    "message": "Validation Failed",
                    "errors": [
                        {
                            "resource": "PullRequest",
                            "code": "custom",
                            "message": f"A pull request already exists for octo:{BRANCH}.",
                        }
                    ],
                },
            ),
            "no-commits": (
                422,
                {
                    "message": "Validation Failed",
                    "errors": [
                        {
                            "resource": "PullRequest",
                            "code": "custom",
                            "message": f"No commits between main and {BRANCH}",
                        }
                    ],
                },
            ),
            "error": (500, {"message": "Server Error"}),
        }[self.answer]
        self.reply(request, status, payload)

    @staticmethod
    def reply(request: BaseHTTPRequestHandler, status: int, payload) -> None:
        body = json.dumps(payload).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


FAKE_GH = """#!{python}
import json, os, sys
log = os.environ["FAKE_GH_LOG"]
n = len(os.listdir(log)) // 2
args = sys.argv[1:]
stdin = sys.stdin.buffer.read() if args[:2] == ["pr", "create"] else b""
with open(os.path.join(log, "%03d.json" % n), "w") as f:
    json.dump({{"argv": args, "cwd": os.getcwd(), "no_prompt": os.environ.get("GH_PROMPT_DISABLED")}}, f)
with open(os.path.join(log, "%03d.stdin" % n), "wb") as f:
    f.write(stdin)
if args[:2] == ["auth", "status"]:
    logged_in = os.environ.get("FAKE_GH_AUTH") == "yes"
    sys.stderr.write("github.com\\n  Logged in to github.com as octocat\\n" if logged_in else
                     "You are not logged into any GitHub hosts. Run gh auth login to authenticate.\\n")
    sys.exit(0 if logged_in else 1)
if args[:2] == ["pr", "create"]:
    mode = os.environ.get("FAKE_GH_CREATE", "ok")
    if mode == "ok":
        print("https://github.com/octo/project/pull/34")
        sys.exit(0)
    if mode == "exists":
        sys.stderr.write('a pull request for branch "{branch}" into branch "main" already exists:\\n'
                         "https://github.com/octo/project/pull/33\\n")
        sys.exit(1)
    sys.stderr.write("GraphQL: Head sha can't be blank (createPullRequest)\\n")
    sys.exit(1)
sys.exit(2)
"""


@pytest.fixture
def github_api():
    stand_in = GitHubStandIn()
    yield stand_in
    stand_in.close()


@pytest.fixture
def gh_log(tmp_path, monkeypatch) -> Path:
    """A stand-in `gh` first on PATH (logged out unless FAKE_GH_AUTH=yes); its calls are logged here."""
    folder, log = tmp_path / "fake-bin", tmp_path / "gh-log"
    folder.mkdir()
    log.mkdir()
    script = folder / "gh"
    script.write_text(FAKE_GH.format(python=sys.executable, branch=BRANCH))
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_GH_LOG", str(log))
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    return log


def gh_calls(log: Path) -> list[tuple[dict, bytes]]:
    return [(json.loads(p.read_text()), p.with_suffix(".stdin").read_bytes()) for p in sorted(log.glob("*.json"))]


@pytest.fixture
def bare(repo, tmp_path) -> Path:
    """A bare repository as the remote `origin` of the test repository."""
    path = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(path))
    git(repo, "remote", "add", "origin", str(path))
    git(repo, "push", "-q", "origin", "main")
    return path


@pytest.fixture
def agent(repo, tmp_path) -> Agent:
    """A finished agent whose branch has one commit in its own worktree."""
    worktree = tmp_path / "worktrees" / "fix-login"
    git(repo, "worktree", "add", "-q", "-b", BRANCH, str(worktree))
    (worktree / "login.py").write_text("def login():\n    return redirect(next_url)\n")
    git(worktree, "add", "login.py")
    git(worktree, "commit", "-qm", "Fix the login redirect")
    base = git(repo, "rev-parse", "main").strip()
    return Agent(
        name="fix-login",
        task=TASK,
        agent="demo",
        branch=BRANCH,
        base=base,
        worktree=str(worktree),
        status=Status.DONE,
        last_message=FINAL,
    )


@pytest.fixture
def report(repo, agent) -> dict:
    tip = git(repo, "rev-parse", BRANCH).strip()
    return {
        "name": agent.name,
        "agent": "demo",
        "task": agent.task,
        "status": "done",
        "branch": agent.branch,
        "base": agent.base,
        "last_message": FINAL,
        "error": None,
        "exit_code": None,
        "commits": [{"id": tip, "subject": "Fix the login redirect", "time": "2025-01-01T00:00:00+00:00"}],
        "files_changed": 1,
        "lines_added": 2,
        "lines_removed": 0,
        "untracked_files": 0,
        "uncommitted": False,
    }


def configure(repo: Path, **keys) -> config_module.Config:
    lines = ["[plugins.github]"] + [f"{k} = {json.dumps(v)}" for k, v in keys.items()]
    (repo / "orchestra.toml").write_text("\n".join(lines) + "\n")
    return config_module.load(repo, repo)


def snapshot(repo: Path) -> tuple[str, ...]:
    """What must not change in the main checkout: its branch, HEAD, files and every local branch."""
    return (
        git(repo, "symbolic-ref", "HEAD"),
        git(repo, "rev-parse", "HEAD"),
        git(repo, "status", "--porcelain"),
        git(repo, "for-each-ref", "refs/heads", "--format=%(refname) %(objectname)"),
    )


def remote_branches(bare: Path) -> dict[str, str]:
    lines = git(bare, "for-each-ref", "refs/heads", "--format=%(refname:short) %(objectname)").splitlines()
    return dict(line.split() for line in lines)


def open_pr(repo: Path, agent: Agent, report: dict, config, strategy: str = "pr"):
    return merge_strategy(
        agent=agent, repo=Repository(root=str(repo), target="main"), config=config, strategy=strategy, report=report
    )


# --- the REST API, with GITHUB_TOKEN --------------------------------------------------------------


def test_push_and_open_a_pull_request_through_the_api(repo, bare, agent, report, github_api, gh_log, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    config = configure(repo, api_url=github_api.url, repository="octo/project")
    before = snapshot(repo)

    result = open_pr(repo, agent, report, config)

    assert result == MergeResult(
        outcome="opened",
        message="opened pull request #12: https://github.com/octo/project/pull/12",
        url="https://github.com/octo/project/pull/12",
    )
    assert remote_branches(bare)[BRANCH] == git(repo, "rev-parse", BRANCH).strip()
    assert git(repo, "rev-parse", "--abbrev-ref", f"{BRANCH}@{{upstream}}").strip() == f"origin/{BRANCH}"
    (request,) = github_api.requests
    assert (request["method"], request["path"]) == ("POST", "/repos/octo/project/pulls")
    assert request["headers"]["Authorization"] == f"Bearer {TOKEN}"
    sent = request["json"]
    assert sent["title"] == "--fix the login redirect so users land where they started"
    assert (sent["head"], sent["base"]) == (BRANCH, "main")
    assert sent["body"] == pull_request.body(report)
    assert FINAL in sent["body"] and "Fix the login redirect" in sent["body"] and "+2 −0 lines" in sent["body"]
    assert "Opened by orchestra" in sent["body"]
    assert snapshot(repo) == before
    assert [c["argv"] for c, _ in gh_calls(gh_log)] == [["auth", "status"]], "gh is asked, and is logged out"


def test_owner_and_name_come_from_a_github_remote_url(repo, bare, agent, report, github_api, gh_log, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    git(repo, "remote", "set-url", "origin", "git@github.com:octo/widgets.git")
    git(repo, "config", f"url.{bare}.insteadOf", "git@github.com:octo/widgets.git")  # pushes go to the bare repo
    config = configure(repo, api_url=github_api.url)

    assert open_pr(repo, agent, report, config).url == "https://github.com/octo/project/pull/12"
    assert github_api.requests[0]["path"] == "/repos/octo/widgets/pulls"
    assert BRANCH in remote_branches(bare)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://github.com/octo/widgets.git", "octo/widgets"),
        ("https://github.com/octo/widgets", "octo/widgets"),
        ("https://x-access-token:secret@github.com/octo/widgets.git", "octo/widgets"),
        ("git@github.com:octo/widgets.git", "octo/widgets"),
        ("github-work:octo/wid.gets", "octo/wid.gets"),
        ("ssh://git@github.com/octo/widgets.git", "octo/widgets"),
        ("ssh://git@github.com:22/octo/widgets/", "octo/widgets"),
        ("/srv/git/widgets.git", None),
        ("../widgets.git", None),
        ("file:///srv/git/octo/widgets.git", None),
        ("https://gitlab.example.com/group/sub/widgets.git", None),
    ],
)
def test_repository_of_remote_urls(url, expected):
    assert remote.repository_of(url) == expected


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        ("unauthorized", ["refused the token in GITHUB_TOKEN", "401", "wrong or expired"]),
        ("no-commits", ["did not open a pull request", "No commits between main and orchestra/fix-login"]),
        ("error", ["answered 500", "Server Error", "try again later"]),
    ],
)
def test_api_refusals_are_one_clear_sentence_without_the_token(
    repo, bare, agent, report, github_api, gh_log, monkeypatch, answer, words
):
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    config = configure(repo, api_url=github_api.url, repository="octo/project")
    github_api.answer = answer
    before = snapshot(repo)
    with pytest.raises(MergeFailed) as failed:
        open_pr(repo, agent, report, config)
    message = str(failed.value)
    assert all(word in message for word in words), message
    assert TOKEN not in message and "\n" not in message
    assert snapshot(repo) == before


def test_a_pull_request_already_open_for_the_branch_is_returned(
    repo, bare, agent, report, github_api, gh_log, monkeypatch
):
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    config = configure(repo, api_url=github_api.url, repository="octo/project")
    github_api.answer = "exists"

    result = open_pr(repo, agent, report, config)

    assert result.outcome == "opened" and result.url == "https://github.com/octo/project/pull/7"
    assert result.message == "pull request #7 was already open: https://github.com/octo/project/pull/7"
    post, get = github_api.requests
    assert post["method"] == "POST" and get["method"] == "GET"
    assert get["path"] == "/repos/octo/project/pulls?head=octo%3Aorchestra%2Ffix-login&base=main&state=open"
    assert get["headers"]["Authorization"] == f"Bearer {TOKEN}"


def test_an_api_that_does_not_answer_times_out(repo, bare, agent, report, github_api, gh_log, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    config = configure(repo, api_url=github_api.url, repository="octo/project", timeout=0.5)
    github_api.answer = "hang"
    with pytest.raises(MergeFailed, match=r"did not answer within 0.5 seconds; try again later") as failed:
        open_pr(repo, agent, report, config)
    assert TOKEN not in str(failed.value)


# --- before anything is pushed -------------------------------------------------------------------


def test_other_strategies_are_left_to_others(repo, bare, agent, report, github_api, gh_log, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    config = configure(repo, api_url=github_api.url, repository="octo/project")
    assert open_pr(repo, agent, report, config, strategy="squash") is None
    assert BRANCH not in remote_branches(bare) and github_api.requests == [] and gh_calls(gh_log) == []


def test_neither_gh_nor_a_token_says_what_to_do_and_pushes_nothing(
    repo, bare, agent, report, github_api, tmp_path, monkeypatch
):
    no_gh = tmp_path / "no-gh"
    no_gh.mkdir()
    (no_gh / "git").symlink_to(shutil.which("git"))
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    config = configure(repo, api_url=github_api.url, repository="octo/project")
    with monkeypatch.context() as only_git:  # undone before the test's tmux server is killed
        only_git.setenv("PATH", str(no_gh))
        with pytest.raises(MergeFailed, match=r"install `gh` and run `gh auth login`, or export GITHUB_TOKEN"):
            open_pr(repo, agent, report, config)
    assert BRANCH not in remote_branches(bare) and github_api.requests == []


def test_a_logged_out_gh_and_no_token_is_the_same(repo, bare, agent, report, github_api, gh_log):
    config = configure(repo, api_url=github_api.url, repository="octo/project")
    with pytest.raises(MergeFailed, match=r"gh auth login"):
        open_pr(repo, agent, report, config)
    assert BRANCH not in remote_branches(bare)


def test_a_remote_that_is_not_on_github_needs_the_repository_key(
    repo, bare, agent, report, github_api, gh_log, monkeypatch
):
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    git(repo, "remote", "set-url", "origin", f"https://me:{TOKEN}@git.example.com/a/b/c.git")
    config = configure(repo, api_url=github_api.url)
    with pytest.raises(MergeFailed, match=r'set \[plugins.github\] repository = "owner/name"') as failed:
        open_pr(repo, agent, report, config)
    assert TOKEN not in str(failed.value) and "https://git.example.com/a/b/c.git" in str(failed.value)
    assert github_api.requests == []


def test_a_missing_remote_is_named(repo, agent, report, github_api, gh_log, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    config = configure(repo, api_url=github_api.url, repository="octo/project", remote="upstream")
    with pytest.raises(MergeFailed, match=r"no remote 'upstream'.*git remote add upstream URL"):
        open_pr(repo, agent, report, config)


@pytest.mark.parametrize(
    ("keys", "words"),
    [
        ({"api": "x"}, "has no key 'api'"),
        ({"timeout": "soon"}, "timeout must be a number"),
        ({"repository": "widgets"}, 'repository must look like "owner/name"'),
    ],
)
def test_bad_settings_are_named(repo, bare, agent, report, gh_log, keys, words):
    with pytest.raises(MergeFailed, match=re.escape(words)):
        open_pr(repo, agent, report, configure(repo, **keys))


def test_a_rejected_push_stops_with_gits_words(repo, bare, agent, report, github_api, gh_log, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    hook = bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'branch protection: pushes to orchestra/* are not allowed' >&2\nexit 1\n")
    hook.chmod(0o755)
    config = configure(repo, api_url=github_api.url, repository="octo/project")
    before = snapshot(repo)
    with pytest.raises(MergeFailed) as failed:
        open_pr(repo, agent, report, config)
    message = str(failed.value)
    assert message.startswith(f"git push origin {BRANCH} failed: ")
    assert "pushes to orchestra/* are not allowed" in message and "pre-receive hook declined" in message
    assert TOKEN not in message
    assert BRANCH not in remote_branches(bare) and github_api.requests == []
    assert snapshot(repo) == before


# --- gh ------------------------------------------------------------------------------------------


def test_gh_opens_the_pull_request_with_the_body_on_stdin(repo, bare, agent, report, github_api, gh_log, monkeypatch):
    monkeypatch.setenv("FAKE_GH_AUTH", "yes")
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)  # gh wins when it is logged in
    config = configure(repo, api_url=github_api.url, repository="octo/project")
    before = snapshot(repo)

    result = open_pr(repo, agent, report, config)

    assert result == MergeResult(
        outcome="opened",
        message="opened pull request #34: https://github.com/octo/project/pull/34",
        url="https://github.com/octo/project/pull/34",
    )
    (auth, _), (create, stdin) = gh_calls(gh_log)
    assert auth["argv"] == ["auth", "status"]
    assert create["argv"] == [
        "pr",
        "create",
        "--repo",
        "octo/project",
        "--head",
        BRANCH,
        "--base",
        "main",
        "--title",
        "--fix the login redirect so users land where they started",
        "--body-file",
        "-",
    ]
    assert stdin == pull_request.body(report).encode("utf-8")
    assert create["cwd"] == str(repo) and create["no_prompt"] == "1"
    assert BRANCH in remote_branches(bare) and github_api.requests == []
    assert snapshot(repo) == before


def test_gh_saying_the_pull_request_exists_returns_it(repo, bare, agent, report, gh_log, monkeypatch):
    monkeypatch.setenv("FAKE_GH_AUTH", "yes")
    monkeypatch.setenv("FAKE_GH_CREATE", "exists")
    result = open_pr(repo, agent, report, configure(repo, repository="octo/project"))
    assert result.message == "pull request #33 was already open: https://github.com/octo/project/pull/33"


def test_gh_failing_stops_with_its_words(repo, bare, agent, report, gh_log, monkeypatch):
    monkeypatch.setenv("FAKE_GH_AUTH", "yes")
    monkeypatch.setenv("FAKE_GH_CREATE", "fail")
    with pytest.raises(MergeFailed, match=r"^gh pr create failed: GraphQL: Head sha can't be blank"):
        open_pr(repo, agent, report, configure(repo, repository="octo/project"))


@pytest.mark.skipif(REAL_GH is None, reason="gh is not installed (Debian: apt-get install gh)")
def test_every_flag_passed_to_gh_is_in_its_own_help():
    def help_of(*args: str) -> str:
        shown = subprocess.run([REAL_GH, *args, "--help"], capture_output=True, text=True, timeout=30)
        assert shown.returncode == 0, shown.stderr
        return shown.stdout

    create_help = help_of("pr", "create")
    flags = [a for a in gh.create_argv(REAL_GH, "octo/project", BRANCH, "main", "title")[1:] if a.startswith("--")]
    assert flags == ["--repo", "--head", "--base", "--title", "--body-file"]
    for flag in flags:
        assert re.search(rf"^\s+(-\w, )?{flag} ", create_help, re.MULTILINE), f"gh pr create has no {flag}"
    assert '"-" to read from standard input' in create_help
    assert "Verifies and displays information about your authentication state" in help_of("auth", "status")


# --- the pull request's text ---------------------------------------------------------------------


def test_title_is_the_first_line_of_the_task_cut_to_about_70_characters():
    assert pull_request.title("\n  Build   the auth API \nwith tests", "n") == "Build the auth API"
    long = pull_request.title("x" * 100, "n")
    assert len(long) == 70 and long.endswith("…")
    assert pull_request.title("   \n", "agent-name") == "agent-name"


def test_body_holds_the_final_message_the_task_the_commits_and_the_size(report):
    text = pull_request.body(report)
    assert text.startswith(FINAL + "\n\n### Task\n\n> --fix the login redirect")
    assert f"- {report['commits'][0]['id'][:10]} Fix the login redirect" in text
    assert "**Changes:** 1 file changed, +2 −0 lines." in text
    assert text.endswith("Opened by orchestra for agent `fix-login` (branch `orchestra/fix-login`).\n")
    quiet = pull_request.body({**report, "last_message": None, "task": "short", "commits": []})
    assert (
        quiet.startswith("_The agent left no final message._")
        and "### Task" not in quiet
        and "### Commits" not in quiet
    )


# --- the `pr` command ----------------------------------------------------------------------------


def test_pr_runs_the_merge_command_with_the_pr_strategy():
    calls = []

    @click.command("merge")
    @click.argument("names", nargs=-1)
    @click.option("--all", "all_", is_flag=True)
    @click.option("--strategy")
    @click.option("--check")
    @click.option("--keep-going", is_flag=True)
    def merge(**kwargs):
        calls.append(kwargs)

    group = click.Group("orchestra", commands=[merge])
    register_commands(cli=group)
    result = CliRunner().invoke(group, ["pr", "fix-login", "write-tests", "--keep-going", "--json"])
    assert result.exit_code == 0, result.output
    assert calls == [
        {"names": ("fix-login", "write-tests"), "all_": False, "strategy": "pr", "check": None, "keep_going": True}
    ]


def test_pr_is_listed_in_orchestra_help(orchestra):
    listed = orchestra("--help").stdout
    assert re.search(r"^  pr\s+Push agents' branches and open pull requests", listed, re.MULTILINE)
    assert "Usage: orchestra pr [OPTIONS] [NAMES]..." in orchestra("pr", "--help").stdout


def test_pr_is_documented_with_its_current_help(orchestra):
    text = (Path(__file__).parent.parent / "docs" / "commands.md").read_text()
    help_text = orchestra("pr", "--help", env={**os.environ, "COLUMNS": "100"}).stdout
    assert "## pr\n" in text and help_text.splitlines()[0] in text
    for option in re.findall(r"^\s+(-[-\w, ]+?)\s{2,}", help_text, re.MULTILINE):
        assert option.strip() in text, f"`orchestra pr` option {option.strip()} is not in docs/commands.md"


def test_orchestra_pr_opens_a_pull_request_for_a_finished_agent(repo, bare, orchestra, github_api, gh_log, monkeypatch):
    from orchestra.cli import cli

    if "merge" not in cli.commands:
        pytest.skip("the core has no `merge` command yet")
    (repo / "orchestra.toml").write_text(
        f'[plugins.github]\napi_url = "{github_api.url}"\nrepository = "octo/project"\n'
    )
    git(repo, "add", "orchestra.toml")
    git(repo, "commit", "-qm", "configure the github plugin")
    orchestra("spawn", "--agent", "demo", "--no-attach", "write the notes")
    wait_statuses(orchestra, {"write-the-notes": "exited"})
    before = snapshot(repo)

    result = orchestra("pr", "write-the-notes", env={**os.environ, "GITHUB_TOKEN": TOKEN})

    assert "opened pull request #12: https://github.com/octo/project/pull/12" in result.stdout
    assert TOKEN not in result.stdout + result.stderr
    assert "orchestra/write-the-notes" in remote_branches(bare)
    (request,) = github_api.requests
    assert request["json"]["head"] == "orchestra/write-the-notes" and request["json"]["title"] == "write the notes"
    assert snapshot(repo) == before
