"""Conflicts on the dashboard: `conflicts_with` in the API and the live view, the stored forecast
at /api/conflicts, and in a real Chromium a mark on the card that opens to show the files."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from support import use_editors, wait_for

ORIGIN = {"origin": "http://testserver"}


@pytest.fixture
def two_editors(repo, orchestra):
    """Agents a and b, both rewriting README.md's first line: forecast to conflict once both exited."""
    use_editors(repo)
    orchestra("spawn", "--agent", "editor", "--name", "a", "--no-attach", "README.md: alpha")
    orchestra("spawn", "--agent", "editor", "--name", "b", "--no-attach", "README.md: beta")
    return repo


def test_the_api_and_the_live_view_carry_conflicts_with(client, two_editors):
    def marked():
        agents = {a["name"]: a for a in client.get("/api/agents").json()}
        return agents if agents.get("a", {}).get("conflicts_with") == ["b"] else None

    agents = wait_for(marked, what="the API to show a conflicting with b")
    assert agents["b"]["conflicts_with"] == ["a"]

    # An agent's exit after the forecast was stored makes it out of date until the refresh it starts
    # ends: the served forecast must become current, within the deadline.
    def current():
        served = client.get("/api/conflicts").json()
        return served if served["current"] is True else None

    served = wait_for(current, what="the served forecast to be current")
    forecast = served["forecast"]
    assert forecast["target"] == "main" and len(forecast["target_commit"]) == 40
    assert forecast["pairs"] == [{"agents": ["a", "b"], "conflicts": ["README.md"], "overlaps": []}]
    assert forecast["agents"]["a"] == {"conflicts": [], "overlaps": []}
    with client.websocket_connect("/api/live", headers=dict(ORIGIN)) as socket:
        cards = {c["name"]: c for c in json.loads(socket.receive_text())["agents"]}
    assert cards["a"]["conflicts_with"] == ["b"] and cards["b"]["conflicts_with"] == ["a"]
    assert client.get("/api/conflicts", headers={"Authorization": ""}).status_code == 401


def test_before_any_forecast_the_api_says_so(client, repo):
    assert client.get("/api/conflicts").json() == {"forecast": None, "current": False}


@pytest.mark.slow
def test_the_card_shows_a_mark_that_opens_to_the_files(browser, dashboard, two_editors, orchestra):
    from test_web_browser import WAIT_MS, card, open_page

    wait_for(lambda: "✖ b" in orchestra("ls").stdout, what="the forecast to find a and b conflicting")
    page = open_page(browser, dashboard)
    mark = card(page, "a").locator(".conflict-mark")
    expect(mark).to_have_text("✖ conflicts with b", timeout=WAIT_MS)
    expect(card(page, "a").locator(".conflict-files")).to_be_hidden()
    mark.click()
    expect(card(page, "a").locator(".conflict-files li")).to_have_text(["with b: README.md"], timeout=WAIT_MS)
    expect(mark).to_have_attribute("aria-expanded", "true")
    mark.click()
    expect(card(page, "a").locator(".conflict-files")).to_be_hidden()
    assert page.problems == []
