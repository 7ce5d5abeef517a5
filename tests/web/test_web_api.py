"""The dashboard's JSON API and WebSocket, in process, on real tmux, git and demo agents."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from starlette.websockets import WebSocketDisconnect
from web_support import TOKEN

from support import git, statuses, wait_for, wait_statuses

ORIGIN = {"origin": "http://testserver"}  # copy it for websocket_connect, which adds to the headers it is given


def agent_statuses(client) -> dict[str, str]:
    return {a["name"]: a["status"] for a in client.get("/api/agents").json()}


# -- who may use it ---------------------------------------------------------------------------


def test_every_api_request_without_the_token_is_refused(client):
    for path in ("/api/agents", "/api/openapi.json", "/api/events", "/api/kinds", "/elsewhere"):
        refused = client.get(path, headers={"Authorization": ""})
        assert refused.status_code == 401, path
        assert "token" in refused.json()["error"]
        assert client.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.post("/api/spawn", json={"task": "x"}, headers={"Authorization": ""}).status_code == 401
    assert client.get("/api/agents").status_code == 200
    schema = client.get("/api/openapi.json").json()
    assert {"/api/agents", "/api/agents/{name}/send", "/api/agents/{name}/kill", "/api/spawn"} <= set(schema["paths"])


def test_the_token_never_travels_in_a_cookie(client):
    """Cookies ignore ports: an agent's own dev server on 127.0.0.1 would receive one."""
    client.headers.pop("Authorization")
    page = client.get(f"/?token={TOKEN}", follow_redirects=False)
    assert page.status_code == 200 and "<title>orchestra</title>" in page.text
    assert "set-cookie" not in page.headers
    assert client.get("/?token=wrong").status_code == 401
    # The page and its files hold no data: a reload, which has no token to send, still gets them.
    assert client.get("/").status_code == 200 and "set-cookie" not in client.get("/").headers
    assert client.get("/static/app.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/static/nothing.js").status_code == 404
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "unsafe-inline" not in policy
    for cookie in ("orchestra_token", "orchestra_token_8765", "orchestra_token_None"):
        client.cookies.set(cookie, TOKEN)
    assert client.get("/api/agents").status_code == 401
    assert client.post("/api/spawn", json={"task": "x", "agent": "demo"}, headers=ORIGIN).status_code == 401
    assert client.get(f"/api/agents?token={TOKEN}").status_code == 401  # nor in a URL, past the page's
    client.cookies.clear()


def test_the_websocket_needs_the_token_as_a_subprotocol_and_the_servers_own_origin(client):
    client.headers.pop("Authorization")
    offered = ["orchestra", f"orchestra.token.{TOKEN}"]
    refused = [
        ([], ORIGIN),  # no token
        (["orchestra", "orchestra.token.wrong"], ORIGIN),
        (offered, {"origin": "http://evil.example"}),
        (offered, {"origin": "http://127.0.0.1:9999"}),  # another server on this machine
        (offered, {}),  # no Origin at all
    ]
    for protocols, headers in refused:
        with (
            pytest.raises(WebSocketDisconnect) as closed,
            client.websocket_connect("/api/live", headers=dict(headers), subprotocols=protocols) as socket,
        ):
            socket.receive_text()
        assert closed.value.code == 1008, (protocols, headers)
    client.cookies.set("orchestra_token", TOKEN)
    with pytest.raises(WebSocketDisconnect), client.websocket_connect("/api/live", headers=dict(ORIGIN)) as socket:
        socket.receive_text()
    client.cookies.clear()
    with client.websocket_connect("/api/live", headers=dict(ORIGIN), subprotocols=offered) as socket:
        assert socket.accepted_subprotocol == "orchestra"  # a browser drops a socket that picks none
        message = json.loads(socket.receive_text())
    assert message["type"] == "agents" and message["agents"] == []
    bearer = {**ORIGIN, "Authorization": f"Bearer {TOKEN}"}  # a script can send the header itself
    with client.websocket_connect("/api/live", headers=bearer) as socket:
        assert json.loads(socket.receive_text())["type"] == "agents"


def test_a_post_from_another_origin_or_without_a_json_body_changes_nothing(client, orchestra, repo):
    orchestra("spawn", "--agent", "demo", "--no-attach", "--name", "worker", "write the notes")
    orchestra("spawn", "--agent", "demo", "--no-attach", "--name", "idle", "do nothing")
    wait_statuses(orchestra, {"worker": "exited", "idle": "exited"})
    main_before = git(repo, "rev-parse", "main")
    cross = [
        {"origin": "http://127.0.0.1:9999"},  # an agent's dev server
        {"origin": "null"},  # a sandboxed frame or a file:// page
        {"sec-fetch-site": "same-site"},
        {"sec-fetch-site": "cross-site", "origin": "http://testserver"},
    ]
    for headers in cross:
        for path, body in (("worker/merge", {}), ("idle/kill", {"force": True}), ("idle/send", {"text": "x"})):
            refused = client.post(f"/api/agents/{path}", json=body, headers=headers)
            assert refused.status_code == 403, (path, headers)
            assert "another site" in refused.json()["error"]
        assert client.post("/api/spawn", json={"task": "x", "agent": "demo"}, headers=headers).status_code == 403
    # What a `no-cors` fetch can send: a simple content type, or no body at all.
    for path in ("worker/merge", "idle/kill"):
        plain = client.post(f"/api/agents/{path}", content=b"", headers={"content-type": "text/plain"})
        assert plain.status_code == 415 and "application/json" in plain.json()["error"]
        form = client.post(f"/api/agents/{path}", data={"force": "true"})
        assert form.status_code == 415
        assert client.post(f"/api/agents/{path}", headers={"content-type": "application/json"}).status_code == 422
    assert client.post("/api/agents/idle/kill", json={}).status_code == 422  # force is said, never assumed
    assert statuses(orchestra) == {"worker": "exited", "idle": "exited"}
    assert git(repo, "rev-parse", "main") == main_before
    same = {"origin": "http://testserver", "sec-fetch-site": "same-origin"}  # what the page itself sends
    assert client.post("/api/agents/idle/kill", json={"force": True}, headers=same).status_code == 200
    assert statuses(orchestra) == {"worker": "exited"}


def test_on_loopback_only_local_host_names_are_served(repo):
    from fastapi.testclient import TestClient

    from orchestra.context import Context
    from orchestra.web.app import create_app

    app = create_app(lambda: Context.open(repo), TOKEN, hosts={"127.0.0.1:8123", "localhost:8123"})
    with TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        refused = client.get("/api/agents")  # Host: testserver, as a DNS-rebinding page sends
        assert refused.status_code == 403 and "answers only to 127.0.0.1" in refused.json()["error"]
        assert client.get("/api/agents", headers={"Host": "127.0.0.1:8123"}).status_code == 200


# -- reading ----------------------------------------------------------------------------------


def test_agents_lists_the_demo_agents_with_their_changes(client, orchestra):
    orchestra("spawn", "--agent", "demo", "--no-attach", "--name", "one", "write the notes")
    orchestra("spawn", "--agent", "demo", "--no-attach", "--name", "two", "please fail")
    wait_statuses(orchestra, {"one": "exited", "two": "failed"})
    agents = {a["name"]: a for a in client.get("/api/agents").json()}
    assert {n: a["status"] for n, a in agents.items()} == {"one": "exited", "two": "failed"}
    assert agents["one"]["changes"]["added"] == 1 and agents["one"]["branch"] == "orchestra/one"
    assert agents["two"]["exit_code"] == 1
    assert agents["one"]["usage"] is None and agents["one"]["cost"] is None  # the demo kind records no tokens
    diff = client.get("/api/agents/one/diff").json()
    assert "notes/one.md" in diff["diff"] and "+write the notes" in diff["diff"]
    assert client.get("/api/agents/nobody/diff").status_code == 404
    kinds = client.get("/api/kinds").json()
    assert "demo" in kinds["kinds"] and kinds["default"] == "claude"


def test_the_page_gets_the_status_vocabulary_from_the_lifecycle(client):
    """app.js keeps no status lists of its own: the order, what takes text or a merge, and the
    phrases come from here."""
    from orchestra import lifecycle

    assert client.get("/api/statuses").json() == {
        "order": list(lifecycle.URGENCY),
        "live": sorted(lifecycle.LIVE),
        "sendable": sorted(lifecycle.SENDABLE),
        "mergeable": sorted(lifecycle.MERGEABLE),
        "phrases": lifecycle.PHRASES,
    }
    assert set(lifecycle.URGENCY) == {*lifecycle.STATUSES, lifecycle.UNREACHABLE}, (
        "every status has its place in the order"
    )


def test_events_since_a_time(client, orchestra):
    orchestra("spawn", "--agent", "demo", "--no-attach", "--name", "one", "write the notes")
    wait_statuses(orchestra, {"one": "exited"})
    events = client.get("/api/events").json()["events"]
    assert ("spawned", "one") in [(e["type"], e["agent"]) for e in events]
    assert client.get("/api/events", params={"limit": 1}).json()["events"] == events[-1:]
    assert client.get("/api/events", params={"limit": -1}).status_code == 422
    last = events[-1]["time"]
    assert client.get("/api/events", params={"since": last}).json()["events"] == []
    first = events[0]["time"]  # events logged together share their time: `since` is strictly after
    assert client.get("/api/events", params={"since": first}).json()["events"] == [
        e for e in events if e["time"] > first
    ]
    assert client.get("/api/events", params={"since": "yesterday"}).status_code == 400


# -- acting -----------------------------------------------------------------------------------


def test_send_answers_a_waiting_agent(client, orchestra):
    orchestra("spawn", "--agent", "demo", "--no-attach", "--name", "asker", "ask first, then write")
    wait_for(lambda: agent_statuses(client) == {"asker": "waiting"}, what="the agent to ask")
    sent = client.post("/api/agents/asker/send", json={"text": "y"})
    assert sent.status_code == 200, sent.text
    assert sent.json()["message"] == "sent to asker (now running)"
    wait_statuses(orchestra, {"asker": "exited"})
    refused = client.post("/api/agents/asker/send", json={"text": "more"})
    assert refused.status_code == 400 and "exited, so there is nothing to type into" in refused.json()["error"]
    assert client.post("/api/agents/nobody/send", json={"text": "y"}).status_code == 404
    assert client.post("/api/agents/asker/send", json={}).status_code == 422


def test_kill_refuses_unmerged_work_until_forced_and_keeps_it_on_a_trash_ref(client, orchestra, repo):
    orchestra("spawn", "--agent", "demo", "--no-attach", "--name", "worker", "write the notes")
    wait_statuses(orchestra, {"worker": "exited"})
    refused = client.post("/api/agents/worker/kill", json={"force": False})
    assert refused.status_code == 409
    assert "agent 'worker' has 1 commit not in main" in refused.json()["error"]
    assert statuses(orchestra) == {"worker": "exited"}
    killed = client.post("/api/agents/worker/kill", json={"force": True}).json()
    assert killed["saved_ref"] == "refs/orchestra/trash/worker"
    assert "notes/worker.md" in git(repo, "show", "--stat", killed["saved_ref"])
    assert statuses(orchestra) == {}
    assert client.post("/api/agents/worker/kill", json={"force": False}).status_code == 404


def test_merge_integrates_a_finished_agent(client, orchestra, repo):
    orchestra("spawn", "--agent", "demo", "--no-attach", "--name", "worker", "write the notes")
    orchestra("spawn", "--agent", "demo", "--no-attach", "--name", "asker", "ask before you write")
    wait_statuses(orchestra, {"worker": "exited", "asker": "waiting"})
    refused = client.post("/api/agents/asker/merge", json={})
    assert refused.status_code == 400 and "still waiting" in refused.json()["error"]
    merged = client.post("/api/agents/worker/merge", json={})
    assert merged.status_code == 200, merged.text
    assert merged.json()["results"][0]["ok"] and "into main" in merged.json()["message"]
    assert (git(repo, "show", "main:notes/worker.md")) == "write the notes\n"
    assert statuses(orchestra)["worker"] == "merged"


def test_spawn_starts_an_agent_with_the_servers_environment(client, orchestra):
    spawned = client.post("/api/spawn", json={"task": "write from the web", "agent": "demo", "name": "from-web"})
    assert spawned.status_code == 200, spawned.text
    assert spawned.json()["agents"][0]["name"] == "from-web"
    assert spawned.json()["message"] == "spawned from-web on orchestra/from-web"
    wait_statuses(orchestra, {"from-web": "exited"})
    unknown = client.post("/api/spawn", json={"task": "x", "agent": "nope"})
    assert unknown.status_code == 400 and "unknown agent kind 'nope'" in unknown.json()["error"]
    assert client.post("/api/spawn", json={"task": "  ", "agent": "demo"}).status_code == 400
    assert client.post("/api/spawn", json={"agent": "demo"}).status_code == 422
    assert statuses(orchestra) == {"from-web": "exited"}


def test_the_websocket_pushes_each_status_change_with_the_screen(client, orchestra):
    def next_view(socket, wanted, what):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            agents = {a["name"]: a for a in json.loads(socket.receive_text())["agents"]}
            if wanted(agents):
                return agents
        raise AssertionError(f"timed out waiting for {what}")

    with client.websocket_connect("/api/live", headers=dict(ORIGIN)) as socket:
        assert json.loads(socket.receive_text())["agents"] == []
        orchestra("spawn", "--agent", "demo", "--no-attach", "--name", "asker", "ask first")
        agents = next_view(
            socket,
            lambda a: (
                "asker" in a and a["asker"]["status"] == "waiting" and "[y/n]" in "\n".join(a["asker"]["screen"] or [])
            ),
            "the waiting agent and its question on screen",
        )
        assert agents["asker"]["waiting_for"] == "Shall I go ahead? [y/n]"
        orchestra("send", "asker", "y")
        agents = next_view(socket, lambda a: a["asker"]["status"] == "exited", "the agent to exit")
        assert agents["asker"]["changes"]["added"] == 1
        assert agents["asker"]["usage"] is None and "cost" in agents["asker"]


# -- the command ------------------------------------------------------------------------------


def test_the_command_prints_the_token_only_in_the_url(orchestra, repo, monkeypatch):
    from click.testing import CliRunner

    from orchestra.cli import cli
    from orchestra.web import server

    served = []
    monkeypatch.setattr(server, "serve", lambda app, sock: served.append(sock.getsockname()))
    monkeypatch.chdir(repo)
    result = CliRunner().invoke(cli, ["web", "--no-open"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    urls = [line for line in result.output.splitlines() if "token=" in line]
    assert len(urls) == 1 and urls[0].startswith(f"dashboard of project: http://127.0.0.1:{served[0][1]}/?token=")
    token = urls[0].split("token=", 1)[1]
    assert len(token) >= 40 and result.output.count(token) == 1
    assert "warning" not in result.output

    result = CliRunner().invoke(cli, ["web", "--no-open", "--host", "0.0.0.0"], catch_exceptions=False)
    assert "orchestra: warning: listening on 0.0.0.0: other machines can reach the dashboard" in result.output


def test_version_does_not_import_the_web_stack():
    code = "import sys, orchestra.cli; print(sorted({'fastapi', 'uvicorn', 'starlette'} & set(sys.modules)))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "[]\n"


def test_no_browser_is_not_a_failure(monkeypatch):
    import webbrowser

    from orchestra.web import server

    def none():
        raise webbrowser.Error("could not locate runnable browser")

    monkeypatch.setattr(webbrowser, "get", none)
    assert server.open_browser("http://127.0.0.1:1/") is False
    assert server.is_loopback("127.0.0.1") and server.is_loopback("::1") and server.is_loopback("localhost")
    assert not server.is_loopback("0.0.0.0") and not server.is_loopback("192.168.1.4")
    assert server.url_host("::1") == "[::1]"
