"""The dashboard marks an agent that another agent spawned (`parent`, set by `orchestra mcp`)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from test_web_browser import WAIT_MS, card, open_page

from orchestra.spawning import TaskSpec, spawn, spawn_environment
from support import wait_statuses

pytestmark = pytest.mark.slow


def test_a_child_says_whose_it_is(browser, dashboard, orchestra, project):
    orchestra("spawn", "--agent", "demo", "--no-attach", "--name", "lead", "lead the notes")
    env = {**spawn_environment(), "ORCHESTRA_DEMO_DELAY": "0"}
    assert not spawn(project, [TaskSpec("write the notes", name="worker", agent="demo", parent="lead")], env).failures
    wait_statuses(orchestra, {"lead": "exited", "worker": "exited"})
    page = open_page(browser, dashboard)
    expect(card(page, "worker").locator(".kind")).to_have_text("demo · child of lead", timeout=WAIT_MS)
    expect(card(page, "lead").locator(".kind")).to_have_text("demo")
    assert card(page, "worker").get_attribute("data-parent") == "lead"
    assert page.problems == []
