"""The dashboard in a real headless Chromium against the real `orchestra web` server."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from claude_api import BILLED_WRITE, BILLED_WRITE_USAGE
from support import agents_json, statuses, wait_for, wait_statuses

pytestmark = pytest.mark.slow

WAIT_MS = 20_000
VIEWPORT = {"width": 1300, "height": 900}


@pytest.fixture
def slow_demo(monkeypatch):
    """Demo agents that take a second per step, so each status lasts long enough to be seen."""
    monkeypatch.setenv("ORCHESTRA_DEMO_DELAY", "1")


def open_page(browser, dashboard):
    """`browser`: a browser (a page of its own) or a browser context (a page beside the others)."""
    is_browser = hasattr(browser, "new_context")
    page = browser.new_page(**({"viewport": VIEWPORT} if is_browser else {}))
    page.dialogs = []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.problems = []
    page.on("pageerror", lambda error: page.problems.append(str(error)))
    page.on("console", lambda message: _is_problem(message) and page.problems.append(message.text))
    response = page.goto(dashboard.url)
    assert response.status == 200
    expect(page.locator("#connection")).to_have_text("live", timeout=WAIT_MS)
    return page


def _is_problem(message) -> bool:
    """Script errors and CSP refusals; an API answering 4xx (shown on the page) is not one."""
    return message.type == "error" and not message.text.startswith("Failed to load resource")


def card(page, name):
    return page.locator(f'article.card[data-agent="{name}"]')


def test_the_page_loads_with_the_token_and_is_refused_without_it(browser, dashboard):
    assert browser.new_page().goto(dashboard.base + "/?token=wrong").status == 401
    refused = browser.new_page()  # a tab that never had the token: the page, saying what it needs
    assert refused.goto(dashboard.base + "/").status == 200
    expect(refused.locator("#problem")).to_contain_text("this needs the dashboard's token", timeout=WAIT_MS)
    expect(refused.locator("#connection")).to_have_text("no token")
    page = open_page(browser, dashboard)
    assert page.url == dashboard.base + "/"  # the token left the address bar
    expect(page.locator("#empty")).to_be_visible()
    assert page.evaluate("fetch('/api/agents').then(r => r.status)") == 401  # nothing is sent on its own
    assert page.context.cookies() == [] and page.evaluate("document.cookie") == ""
    page.reload()  # the tab keeps the token it was opened with
    expect(page.locator("#connection")).to_have_text("live", timeout=WAIT_MS)
    assert page.url == dashboard.base + "/" and page.problems == []


class OtherServer:
    """Another web server on 127.0.0.1, as an agent's dev server is: records what browsers send it."""

    def __init__(self, page_html: str):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.requests: list[dict[str, str]] = []
        other = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                other.requests.append(dict(self.headers))
                body = page_html.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_another_server_on_this_host_gets_no_token_and_cannot_act(browser, dashboard, orchestra):
    orchestra("spawn", "--agent", "demo", "--no-attach", "--name", "idle", "do nothing")
    wait_statuses(orchestra, {"idle": "exited"})
    profile = browser.new_context(
        viewport=VIEWPORT
    )  # one browser profile: its cookies would go to every port of 127.0.0.1
    page = open_page(profile, dashboard)
    expect(card(page, "idle")).to_be_visible(timeout=WAIT_MS)
    other = OtherServer("<!doctype html><title>dev server</title>")
    try:
        evil = profile.new_page()  # an agent's dev server, opened in the same profile
        evil.goto(other.url)
        assert other.requests and not any("Cookie" in r or "cookie" in r for r in other.requests)
        assert evil.evaluate("sessionStorage.length") == 0
        kill = dashboard.base + "/api/agents/idle/kill"
        for options in (
            "{method: 'POST', mode: 'no-cors'}",
            "{method: 'POST', mode: 'no-cors', body: '{\"force\": true}'}",
        ):
            evil.evaluate(f"fetch({kill!r}, {options}).then(r => r.type)")
        with_header = evil.evaluate(
            f"fetch({kill!r}, {{method: 'POST', headers: {{'Content-Type': 'application/json'}},"
            " body: '{\"force\": true}'}).then(r => r.status, e => 'blocked')"
        )
        assert with_header == "blocked"  # the preflight gets no CORS answer
    finally:
        other.close()
    assert statuses(orchestra) == {"idle": "exited"}


def test_a_status_change_shows_without_a_reload(slow_demo, browser, dashboard, orchestra):
    page = open_page(browser, dashboard)
    page.evaluate("window.stillTheSamePage = true")
    orchestra("spawn", "--agent", "demo", "--no-attach", "--name", "asker", "ask before writing")
    asker = card(page, "asker")
    expect(asker).to_have_attribute("data-status", "waiting", timeout=WAIT_MS)
    expect(asker.locator(".note")).to_have_text("waiting for: Shall I go ahead? [y/n]")
    expect(asker.locator(".screen")).to_contain_text("Shall I go ahead? [y/n]")
    expect(page.locator("#counts li")).to_have_text(["1 waiting"])
    assert page.title() == "(1 waiting) orchestra · project"
    orchestra("send", "asker", "y")
    expect(asker).to_have_attribute("data-status", "running", timeout=WAIT_MS)
    expect(asker).to_have_attribute("data-status", "exited", timeout=WAIT_MS)
    expect(asker.locator(".changes")).to_contain_text("+1")
    expect(asker.locator(".screen")).to_contain_text("done: wrote and committed")
    assert page.evaluate("window.stillTheSamePage") is True
    assert page.problems == []


def test_waiting_agents_come_first(browser, dashboard, orchestra):
    orchestra("spawn", "--agent", "demo", "--no-attach", "--name", "writer", "write the notes")
    orchestra("spawn", "--agent", "demo", "--no-attach", "--name", "failer", "please fail")
    orchestra("spawn", "--agent", "demo", "--no-attach", "--name", "asker", "ask me")
    wait_statuses(orchestra, {"writer": "exited", "failer": "failed", "asker": "waiting"})
    page = open_page(browser, dashboard)
    expect(page.locator("article.card")).to_have_count(3, timeout=WAIT_MS)
    names = page.locator("article.card h2.name")
    expect(names).to_have_text(["asker", "failer", "writer"])
    expect(page.locator("#counts li")).to_have_text(["1 waiting", "1 failed", "1 exited"])
    expect(card(page, "failer").locator(".note")).to_have_text("exited with code 1")


def test_spawn_send_diff_and_kill_from_the_page(browser, dashboard, orchestra, repo):
    page = open_page(browser, dashboard)
    page.locator("#spawn-panel summary").click()
    form = page.locator("#spawn-form")
    expect(form.locator("select[name=agent] option")).not_to_have_count(0)
    form.locator("textarea[name=task]").fill("ask before writing")
    form.locator("input[name=name]").fill("from-page")
    form.locator("select[name=agent]").select_option("demo")
    form.locator("button[type=submit]").click()
    expect(page.locator("#notice")).to_have_text("spawned from-page on orchestra/from-page", timeout=WAIT_MS)
    agent = card(page, "from-page")
    expect(agent).to_have_attribute("data-status", "waiting", timeout=WAIT_MS)

    agent.locator(".send input").fill("y")
    agent.locator(".send input").press("Enter")
    expect(agent.locator(".result")).to_have_text("sent to from-page (now running)", timeout=WAIT_MS)
    expect(agent).to_have_attribute("data-status", "exited", timeout=WAIT_MS)
    expect(agent.locator(".send button")).to_be_disabled()  # nothing runs in its window any more

    agent.locator('[data-action="diff"]').click()
    expect(page.locator("#diff-dialog")).to_be_visible()
    expect(page.locator("#diff-text")).to_contain_text("+ask before writing")
    page.locator("#diff-close").click()

    agent.locator('[data-action="kill"]').click()
    expect(agent.locator(".result")).to_contain_text("agent 'from-page' has 1 commit not in main", timeout=WAIT_MS)
    assert statuses(orchestra) == {"from-page": "exited"}
    force = agent.locator('[data-action="force-kill"]')
    expect(force).to_be_visible()
    force.click()
    expect(page.locator("#confirm-dialog")).to_be_visible()
    page.locator("#confirm-yes").click()
    expect(page.locator("#notice")).to_contain_text(
        "its work is kept at refs/orchestra/trash/from-page", timeout=WAIT_MS
    )
    expect(agent).to_have_count(0, timeout=WAIT_MS)
    assert statuses(orchestra) == {}
    assert page.problems == [] and page.dialogs == []


def test_errors_from_the_core_show_on_the_page(browser, dashboard):
    page = open_page(browser, dashboard)
    page.locator("#spawn-panel summary").click()
    page.locator("#spawn-form textarea[name=task]").fill("anything")
    page.locator("#spawn-form input[name=name]").fill("not a valid name!")
    page.locator("#spawn-form button[type=submit]").click()
    expect(page.locator("#notice")).to_have_class(re.compile(r"\berror\b"), timeout=WAIT_MS)
    expect(page.locator("#notice")).to_contain_text("not a valid agent name")


def test_agent_text_is_shown_as_text_never_run(browser, dashboard, orchestra):
    tasks = {"script": "<script>alert(1)</script>", "image": "<img src=x onerror=alert(1)>"}
    for name, task in tasks.items():
        orchestra("spawn", "--agent", "demo", "--no-attach", "--name", name, task)
    page = open_page(browser, dashboard)
    for name, task in tasks.items():
        agent = card(page, name)
        expect(agent.locator(".task")).to_have_text(task, timeout=WAIT_MS)
        expect(agent.locator(".screen")).to_contain_text(f"task: {task}", timeout=WAIT_MS)
    assert page.locator("#agents img, #agents script").count() == 0
    agent = card(page, "image")
    expect(agent).to_have_attribute("data-status", "exited", timeout=WAIT_MS)
    agent.locator('[data-action="diff"]').click()
    expect(page.locator("#diff-text")).to_contain_text(tasks["image"])
    assert page.locator("#diff-dialog img").count() == 0
    assert page.dialogs == [] and page.problems == []


def test_a_card_shows_the_tokens_its_agent_used(claude_home, claude_api, browser, dashboard, orchestra):
    claude_api.script(BILLED_WRITE)
    orchestra("spawn", "--no-attach", "--name", "writer", "write hello.txt")
    orchestra("spawn", "--agent", "demo", "--no-attach", "--name", "demo", "write the notes")
    wait_statuses(orchestra, {"writer": "done", "demo": "exited"}, timeout=40)
    # Claude Code writes the turn's last usage to its transcript on its own time: `done` (its Stop
    # hook) can be seen a moment before.
    agents = wait_for(
        lambda: (
            (found := {a["name"]: a for a in agents_json(orchestra)})["writer"]["usage"] == BILLED_WRITE_USAGE and found
        ),
        what="the writer's usage as its transcript ends",
    )
    assert agents["demo"]["usage"] is None
    page = open_page(browser, dashboard)
    expect(card(page, "writer").locator(".usage")).to_have_text(
        "1,007 in, 250 out, 64,000 cache read, 4,300 cache write", timeout=WAIT_MS
    )
    expect(card(page, "demo").locator(".usage")).to_be_hidden()  # the demo kind keeps no records
    assert page.problems == []
