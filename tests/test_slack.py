"""The `slack` plugin against a stand-in for Slack's incoming webhook on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import orchestra_slack
from orchestra.config import Config
from orchestra.errors import OrchestraError
from orchestra.models import Agent, Event, Status
from orchestra_slack import webhook
from orchestra_slack.webhook import SlackError
from support import git, wait_for

SECRET = "T0SECRET/B0SECRET/xoxSECRETpath"
HANG = "hang"  # an answer: accept the request and never reply


class StandIn:
    """Slack's incoming webhook: records each request and answers from a script (then 200 "ok")."""

    def __init__(self):
        self.answers: list = []
        self.requests: list[dict] = []
        self.release = threading.Event()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                request = {"path": self.path, "type": self.headers.get("Content-Type"), "json": json.loads(body)}
                stand_in.requests.append(request)
                answer = stand_in.answers.pop(0) if stand_in.answers else (200, {}, "ok")
                if answer == HANG:
                    stand_in.release.wait(30)
                    self.close_connection = True
                    return
                status, headers, text = answer
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(text.encode())))
                self.end_headers()
                self.wfile.write(text.encode())

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/{SECRET}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def script(self, *answers) -> None:
        self.answers.extend(answers)

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def slack(monkeypatch):
    stand_in = StandIn()
    monkeypatch.setenv("SLACK_WEBHOOK_URL", stand_in.url)
    yield stand_in
    stand_in.close()


def config_with(**slack_table) -> Config:
    return Config(orchestra={}, worktree={}, ports={}, merge={}, plugins={"settings": {"slack": slack_table}})


def an_agent(**changes) -> Agent:
    fields = dict(
        name="fix-login",
        task='fix the <!channel> login & "session" bug',
        agent="demo",
        branch="orchestra/fix-login",
        base="abc",
        worktree="/w",
        status=Status.WAITING,
    )
    fields.update(changes)
    return Agent(**fields)


def status_event(status: str, before: str = "running") -> Event:
    return Event("status", agent="fix-login", status=status, data={"from": before})


def notify(status: str, agent: Agent | None, config: Config, before: str = "running") -> None:
    orchestra_slack.notifier(event=status_event(status, before), agent=agent, config=config)


def test_posts_the_configured_statuses_only(slack):
    config = config_with(events=["waiting", "failed"])
    notify("running", an_agent(status=Status.RUNNING), config, before="starting")
    notify("done", an_agent(status=Status.DONE), config)
    assert slack.requests == []
    notify("waiting", an_agent(waiting_for="permission to use Bash: rm -rf build"), config)
    (request,) = slack.requests
    assert request["path"] == f"/services/{SECRET}" and request["type"] == "application/json"
    posted = request["json"]
    assert posted["text"] == "fix-login is waiting for you: permission to use Bash: rm -rf build"
    section, context = posted["blocks"]
    assert section["text"]["text"] == (
        "*fix-login is waiting for you* (was running)\npermission to use Bash: rm -rf build"
    )
    task, branch = (element["text"] for element in context["elements"])
    assert task == '*Task:* fix the &lt;!channel&gt; login &amp; "session" bug', "escaped: no channel-wide ping"
    assert branch == "*Branch:* `orchestra/fix-login`"


def test_the_summary_is_the_final_message_or_the_error(slack):
    config = config_with()
    notify("done", an_agent(status=Status.DONE, last_message="All tests pass."), config)
    notify("failed", an_agent(status=Status.FAILED, exit_code=1, error="the agent exited with code 1"), config)
    assert [r["json"]["text"] for r in slack.requests] == [
        "fix-login is done: All tests pass.",
        "fix-login failed (exit code 1): the agent exited with code 1",
    ]


def test_without_the_variable_nothing_is_posted_and_nothing_is_said(slack, monkeypatch):
    monkeypatch.delenv("SLACK_WEBHOOK_URL")
    notify("waiting", an_agent(), config_with())
    assert slack.requests == []


def test_the_variable_name_comes_from_the_configuration(slack, monkeypatch):
    monkeypatch.delenv("SLACK_WEBHOOK_URL")
    monkeypatch.setenv("TEAM_HOOK", slack.url)
    notify("waiting", an_agent(), config_with(webhook_url_env="TEAM_HOOK"))
    assert len(slack.requests) == 1


def test_a_url_put_in_the_configuration_is_refused_without_repeating_it(slack):
    with pytest.raises(OrchestraError, match="must be the name of an environment variable") as raised:
        notify("waiting", an_agent(), config_with(webhook_url_env=slack.url))
    assert SECRET not in str(raised.value) and slack.requests == []
    with pytest.raises(OrchestraError, match=r"events in orchestra\.toml must be a list of statuses"):
        notify("waiting", an_agent(), config_with(events=["finished"]))
    with pytest.raises(OrchestraError, match="unknown key 'channel'"):
        notify("waiting", an_agent(), config_with(channel="#dev"))


def test_a_gone_agent_is_still_announced(slack):
    notify("failed", None, config_with())
    (request,) = slack.requests
    assert request["json"]["text"] == "fix-login failed" and len(request["json"]["blocks"]) == 1


def test_429_is_retried_after_its_retry_after(slack):
    slack.script((429, {"Retry-After": "0.3"}, "rate_limited"))
    started = time.monotonic()
    webhook.post(slack.url, {"text": "hi"}, backoff=0.01)
    assert time.monotonic() - started >= 0.3, "Retry-After was honoured"
    assert [r["json"] for r in slack.requests] == [{"text": "hi"}, {"text": "hi"}]


def test_5xx_is_retried_with_backoff_then_given_up_within_the_bound(slack):
    slack.script(*[(500, {}, "rollup_error")] * 50)
    started = time.monotonic()
    gave_up = r"gave up after \d+ tries in .* s: Slack answered HTTP 500 \(rollup_error\)"
    with pytest.raises(SlackError, match=gave_up) as raised:
        webhook.post(slack.url, {"text": "hi"}, per_try=0.5, total=1.0, backoff=0.05)
    assert time.monotonic() - started < 1.5
    assert 3 <= len(slack.requests) <= 6, "backoff doubles: 0.05, 0.1, 0.2, 0.4 s"
    assert SECRET not in str(raised.value)


def test_a_server_that_never_answers_is_given_up_within_the_bound(slack):
    slack.script(*[HANG] * 10)
    started = time.monotonic()
    with pytest.raises(SlackError, match=r"Slack did not answer within 0\.3 s") as raised:
        webhook.post(slack.url, {"text": "hi"}, per_try=0.3, total=1.0, backoff=0.05)
    assert time.monotonic() - started < 1.5
    assert SECRET not in str(raised.value)


def test_the_defaults_bound_a_post_to_ten_seconds():
    assert webhook.PER_TRY <= 3 and webhook.TOTAL <= 10 and webhook.RETRY_AFTER_CAP < webhook.TOTAL


def test_a_4xx_is_final_and_its_error_names_the_variable_not_the_url(slack):
    slack.script((404, {}, f"no_service for /services/{SECRET}"))
    with pytest.raises(SlackError) as raised:
        notify("waiting", an_agent(), config_with())
    assert len(slack.requests) == 1
    assert str(raised.value) == (
        "Slack answered HTTP 404 (no_service for <webhook URL>); check the webhook URL in $SLACK_WEBHOOK_URL."
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/services/" + SECRET,  # nothing listens: refused
        "ftp://hooks.slack.invalid/services/" + SECRET,
        "https://hooks.slack.invalid/services/" + SECRET + "\n",
        "hooks.slack.com/services/" + SECRET,
    ],
)
def test_no_error_names_the_url(url):
    with pytest.raises(SlackError) as raised:
        webhook.post(url, {"text": "hi"}, per_try=0.2, total=0.5, backoff=0.05)
    assert SECRET not in str(raised.value) and "slack.invalid" not in str(raised.value)


# --- end to end, through the real command line --------------------------------------------------


def test_a_failed_agent_is_posted_with_the_projects_configuration(orchestra, repo, slack, monkeypatch):
    monkeypatch.delenv("SLACK_WEBHOOK_URL")
    monkeypatch.setenv("TEAM_SLACK_HOOK", slack.url)
    (repo / "orchestra.toml").write_text('[plugins.slack]\nwebhook_url_env = "TEAM_SLACK_HOOK"\nevents = ["failed"]\n')
    git(repo, "add", "orchestra.toml")
    git(repo, "commit", "-qm", "post failures to Slack")
    orchestra("spawn", "--agent", "demo", "--no-attach", "fail on purpose")

    try:  # no `ls` here: the pane-died hook, or else the board in window 0, sees the exit
        wait_for(lambda: slack.requests, what="the failure to be posted")
    except AssertionError as error:
        raise AssertionError(f"{error}; the event log: {orchestra('events', '--json').stdout}") from None
    (request,) = slack.requests
    assert request["json"]["text"].startswith("fail-on-purpose failed (exit code 1)")
    assert "*Task:* fail on purpose" in json.dumps(request["json"]["blocks"])


def test_a_failed_post_reaches_the_event_log_without_the_url(orchestra, repo, slack, isolated):
    slack.script(*[(404, {}, f"no_service /services/{SECRET}")] * 5)
    orchestra("spawn", "--agent", "demo", "--no-attach", "fail on purpose")

    def logged_errors():
        # Whoever sees the exit first tells the notifiers: the pane-died handler, or `ls` (tmux
        # does not always fire pane-died for a process that exits at once).
        orchestra("ls")
        events = map(json.loads, orchestra("events", "--json").stdout.splitlines())
        return [e for e in events if e["type"] == "plugin-error"]

    (error,) = wait_for(logged_errors, what="the failed post to be logged")
    assert error["data"]["message"] == (
        "plugin 'slack' failed in notifier: Slack answered HTTP 404 (no_service <webhook URL>); "
        "check the webhook URL in $SLACK_WEBHOOK_URL."
    )
    state = Path(git(repo, "rev-parse", "--git-common-dir").strip())
    state = state if state.is_absolute() else repo / state
    for path in (state / "orchestra").rglob("*"):
        if path.is_file():
            assert SECRET not in path.read_text(errors="replace"), f"{path} holds the webhook URL"
    assert SECRET not in orchestra("events").stdout + orchestra("ls").stdout
