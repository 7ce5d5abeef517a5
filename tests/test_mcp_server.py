"""`orchestra mcp` as its clients see it: the real server in a subprocess, spoken to with the MCP
SDK's own client (stdio_client + ClientSession), in a real repository with real tmux and demo agents."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from orchestra.context import Context
from orchestra.launch import SAFE_PATH, mcp_argv
from support import agents_json, git, wait_for, wait_statuses


class Client:
    """One session with `orchestra mcp [--agent NAME]`, started in `cwd`."""

    def __init__(self, session: ClientSession):
        self.session = session

    async def call(self, tool: str, **arguments: Any) -> Any:
        """The tool's result (its structured content); a tool error fails the test."""
        result = await self.session.call_tool(tool, arguments)
        assert not result.is_error, result.content[0].text
        content = result.structured_content
        assert content is not None
        return content.get("result", content) if set(content) == {"result"} else content

    async def refused(self, tool: str, **arguments: Any) -> str:
        """The sentence of a refused call (a tool error)."""
        result = await self.session.call_tool(tool, arguments)
        assert result.is_error, f"{tool} was not refused: {result.structured_content}"
        [content] = result.content
        text = content.text
        assert "Traceback" not in text and "\n" not in text.strip(), text
        return text


@contextlib.asynccontextmanager
async def connected(cwd: Path, agent: str | None = None, relay: bool = False) -> AsyncIterator[Client]:
    """A session with `orchestra mcp` (a person's), or with the relay an agent CLI starts (`relay`),
    through which the project's one server answers."""
    if relay:
        [command, *args] = mcp_argv(str(Context.open(cwd).state.dir), agent or "")
        if agent is None:
            args = args[:-2]
    else:
        command, args = sys.executable, [*SAFE_PATH, "-m", "orchestra", "mcp", *(["--agent", agent] if agent else [])]
    params = StdioServerParameters(command=command, args=args, cwd=cwd, env=dict(os.environ))
    with open(os.devnull, "w") as quiet:
        async with stdio_client(params, errlog=quiet) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            yield Client(session)


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    anyio.run(scenario)


def configure(repo: Path, text: str) -> None:
    (repo / "orchestra.toml").write_text(text)
    git(repo, "add", "orchestra.toml")
    git(repo, "commit", "-qm", "configure orchestra")


def test_a_persons_server_offers_every_tool_and_spawns_waits_reads_and_posts(repo, orchestra):
    async def scenario() -> None:
        async with connected(repo) as client:
            tools = {tool.name: tool for tool in (await client.session.list_tools()).tools}
            assert set(tools) == {"list", "spawn", "send", "wait", "report", "diff", "post", "read", "merge"}
            assert set(tools["spawn"].input_schema["properties"]) == {"tasks", "agent"}
            assert set(tools["wait"].input_schema["properties"]) == {"names", "timeout_s"}
            assert set(tools["read"].input_schema["properties"]) == {"topic", "since"}

            [spawned] = await client.call("spawn", tasks=["write the notes"], agent="demo")
            assert spawned["name"] == "write-the-notes" and spawned["parent"] is None
            assert spawned["status"] in ("starting", "running")
            waited = await client.call("wait", names=["write-the-notes"], timeout_s=30)
            assert waited["timed_out"] is False
            assert waited["agents"] == [
                {"name": "write-the-notes", "status": "exited", "exit_code": 0, "last_message": None, "error": None}
            ]

            [listed] = await client.call("list")
            assert listed["name"] == "write-the-notes" and listed["status"] == "exited" and listed["parent"] is None
            assert listed["changes"]["files"] == 1  # as `ls --json` shows it
            assert "+++ b/notes/write-the-notes.md" in await client.call("diff", name="write-the-notes")
            [reported] = await client.call("report")
            assert reported["name"] == "write-the-notes" and reported["commits"][0]["subject"].startswith("demo:")
            assert await client.call("report", names=["write-the-notes"]) == [reported]

            first = await client.call("post", text="the notes are in notes/")
            assert first["author"] == "person" and first["topic"] == "general" and first["id"] == "1"
            await client.call("post", text="the API lives in src/api.py", topic="api")
            second = await client.call("post", text="and the tests in tests/")
            assert [m["text"] for m in await client.call("read")] == [
                "the notes are in notes/",
                "and the tests in tests/",
            ]
            assert [m["id"] for m in await client.call("read", since="1")] == [second["id"]]
            assert [m["text"] for m in await client.call("read", topic="api")] == ["the API lives in src/api.py"]
            assert await client.call("read", topic="nothing-yet") == []

    run(scenario)
    assert agents_json(orchestra)[0]["parent"] is None
    events = [json.loads(line) for line in orchestra("events", "--json").stdout.splitlines()]
    posted = [(e["agent"], e["data"]["topic"], e["data"]["message"]) for e in events if e["type"] == "posted"]
    assert posted[0] == (None, "general", "the notes are in notes/") and len(posted) == 3
    assert "the API lives in src/api.py" in orchestra("events").stdout


def test_bad_arguments_and_refusals_are_one_sentence_tool_errors(repo, orchestra):
    async def scenario() -> None:
        async with connected(repo) as client:
            assert "tasks" in await client.refused("spawn", tasks="not a list")
            assert "no task given" in await client.refused("spawn", tasks=[])
            assert "there is no agent named 'ghost'" in await client.refused("wait", names=["ghost"])
            assert "timeout_s" in await client.refused("wait", names=["ghost"], timeout_s=-1)
            assert "there is no agent named 'ghost'" in await client.refused("send", name="ghost", text="hi")
            assert "there is no agent named 'ghost'" in await client.refused("diff", name="ghost")
            assert "there is no agent named 'ghost'" in await client.refused("report", names=["ghost"])
            assert "not a topic name" in await client.refused("post", text="x", topic="../escape")
            assert "empty" in await client.refused("post", text="   ")
            assert "neither a message id" in await client.refused("read", since="yesterday")
            assert "unknown agent kind" in (await client.refused("spawn", tasks=["x"], agent="no-such-kind")).lower()
            assert "Unknown tool" in await client.refused("kill", names=["x"])
            refusal = await client.refused("merge", names=["x"])
            assert "allow_merge = true" in refusal and "switched off" in refusal
            assert await client.call("list") == []  # the server answers on after every refusal

    run(scenario)
    assert agents_json(orchestra) == []
    assert not list((repo / ".git").rglob("escape*"))


def test_an_agents_server_records_its_children_and_keeps_to_the_guardrails(repo, orchestra, monkeypatch):
    configure(repo, "[mcp]\nmax_children = 2\nmax_depth = 2\n")
    # The lead stays at its question ("ask") until it is answered: alive, as a lead is while it waits.
    orchestra("spawn", "--agent", "demo", "--name", "lead", "--no-attach", "ask before you lead")
    wait_statuses(orchestra, {"lead": "waiting"})
    lead_worktree = Path(agents_json(orchestra)[0]["worktree"])

    async def scenario() -> None:
        # Through the relays agent CLIs start: one server answers both agents, each as itself.
        async with connected(lead_worktree, agent="lead", relay=True) as lead:  # started where the agent works
            refusal = await lead.refused("spawn", tasks=["a", "b", "c"], agent="demo")
            assert "max_children = 2" in refusal and "agent 'lead' has 0 children at work" in refusal
            spawned = await lead.call("spawn", tasks=["ask first", "write b"], agent="demo")
            assert [(a["name"], a["parent"]) for a in spawned] == [("ask-first", "lead"), ("write-b", "lead")]
            assert "has 2 children at work" in await lead.refused("spawn", tasks=["one more"], agent="demo")
            await lead.call("post", text="use the demo agent", topic="plan")

            async with connected(repo, agent="ask-first", relay=True) as worker:
                refusal = await worker.refused("spawn", tasks=["grandchild"], agent="demo")
                assert "max_depth = 2" in refusal and "generation 3" in refusal
                [message] = await worker.call("read", topic="plan")
                assert message["author"] == "lead" and message["text"] == "use the demo agent"
                await worker.call("post", text="ask-first is on it", topic="plan")
                assert "cannot send to itself" in await worker.refused("send", name="ask-first", text="y")
                assert "cannot wait for itself" in await worker.refused("wait", names=["ask-first"])

            waited = await lead.call("wait", names=["write-b"], timeout_s=30)
            assert waited["agents"][0]["status"] == "exited" and not waited["timed_out"]
            wait_for(lambda: statuses_of(orchestra).get("ask-first") == "waiting", what="ask-first at its question")
            started = time.monotonic()
            waited = await lead.call("wait", names=["ask-first", "write-b"], timeout_s=0.5)
            assert waited["timed_out"] is True and time.monotonic() - started < 10
            assert [a["status"] for a in waited["agents"]] == ["waiting", "exited"]
            sent = await lead.call("send", name="ask-first", text="y")
            assert sent["name"] == "ask-first"
            waited = await lead.call("wait", names=["ask-first"], timeout_s=30)
            assert waited["agents"][0]["status"] == "exited" and not waited["timed_out"]
            assert [m["author"] for m in await lead.call("read", topic="plan")] == ["lead", "ask-first"]
            # its children ended: room for more
            [third] = await lead.call("spawn", tasks=["write c"], agent="demo")
            assert third["parent"] == "lead"

    run(scenario)
    parents = {a["name"]: a["parent"] for a in agents_json(orchestra)}
    assert parents == {"lead": None, "ask-first": "lead", "write-b": "lead", "write-c": "lead"}


def statuses_of(orchestra) -> dict[str, str]:
    return {a["name"]: a["status"] for a in agents_json(orchestra)}


def test_merge_through_the_server_where_the_project_allows_it(repo, orchestra):
    configure(repo, "[mcp]\nallow_merge = true\n")

    async def scenario() -> None:
        async with connected(repo) as client:
            await client.call("spawn", tasks=["add a note"], agent="demo")
            await client.call("wait", names=["add-a-note"], timeout_s=30)
            [merged] = await client.call("merge", names=["add-a-note"])
            assert merged["ok"] is True and merged["name"] == "add-a-note"

    run(scenario)
    assert "notes/add-a-note.md" in git(repo, "ls-tree", "-r", "--name-only", "main")


def test_the_server_refuses_to_start_for_an_agent_the_project_does_not_have(repo):
    result = subprocess.run(
        [sys.executable, *SAFE_PATH, "-m", "orchestra", "mcp", "--agent", "ghost"],
        cwd=repo,
        input="",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("orchestra: there is no agent named 'ghost'") and "Traceback" not in result.stderr


def test_the_server_refuses_to_start_outside_a_repository(tmp_path):
    folder = tmp_path / "outside"
    folder.mkdir()
    result = subprocess.run(
        [sys.executable, *SAFE_PATH, "-m", "orchestra", "mcp"],
        cwd=folder,
        input="",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and result.stdout == "" and "Traceback" not in result.stderr
    assert json.dumps(result.stderr).count("\\n") == 1  # one line


def test_wait_returns_when_the_event_log_says_the_agent_is_done(repo, orchestra):
    """A wait under way answers on the agent's own status event (here its exit once answered)."""
    orchestra("spawn", "--agent", "demo", "--name", "asker", "--no-attach", "ask me first")
    wait_statuses(orchestra, {"asker": "waiting"})

    async def scenario() -> None:
        async with connected(repo) as client:
            answers: list[Any] = []

            async def waiting() -> None:
                answers.append(await client.call("wait", names=["asker"], timeout_s=60))

            async with anyio.create_task_group() as group:
                group.start_soon(waiting)
                # A call sent after the wait and answered: the server took the wait up before it.
                assert [a["status"] for a in await client.call("list")] == ["waiting"]
                assert answers == []
                await anyio.to_thread.run_sync(lambda: orchestra("send", "asker", "y"))
                started = time.monotonic()
            assert time.monotonic() - started < 30  # far from its 60 s timeout: the event ended it
            [answer] = answers
            assert answer == {
                "timed_out": False,
                "agents": [{"name": "asker", "status": "exited", "exit_code": 0, "last_message": None, "error": None}],
            }

    run(scenario)


def test_mcp_settings_of_the_wrong_type_are_named(repo, orchestra):
    configure(repo, '[mcp]\nallow_merge = "yes"\n')
    refused = orchestra("ls", check=False)
    assert refused.returncode == 1 and "allow_merge" in refused.stderr and "true or false" in refused.stderr
    configure(repo, "[mcp]\nmax_children = -1\n")
    refused = orchestra("ls", check=False)
    assert refused.returncode == 1 and "max_children" in refused.stderr


def servers_of(repo: Path) -> list[int]:
    """The pids of the project's MCP servers (`_mcp-serve` processes whose folder is `repo`)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            where = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if b"_mcp-serve" in argv and Path(where) == repo:
            found.append(int(pid))
    return found


def test_agents_share_the_projects_one_server_which_ends_after_the_last(repo, orchestra, monkeypatch):
    orchestra("spawn", "--agent", "demo", "--name", "lead", "--no-attach", "ask before you lead")
    orchestra("spawn", "--agent", "demo", "--name", "helper", "--no-attach", "ask before you help")
    wait_statuses(orchestra, {"lead": "waiting", "helper": "waiting"})
    state = Context.open(repo).state.dir

    async def scenario() -> None:
        async with connected(repo, agent="lead", relay=True) as lead:
            async with connected(repo, agent="helper", relay=True) as helper, connected(repo, relay=True) as person:
                await lead.call("post", text="from the lead")
                await helper.call("post", text="from the helper")
                await person.call("post", text="from a person")
                authors = [m["author"] for m in await person.call("read")]
                assert authors == ["lead", "helper", "person"]
                assert len(servers_of(repo)) == 1
                assert (state / "mcp.sock").stat().st_mode & 0o077 == 0  # this user's alone
                # A client that does not say who it is gets one line, and the server goes on.
                monkeypatch.chdir(state)
                for hello in (b"not json\n", b'{"agent": 7}\n', b'{"agent": "ghost"}\n'):
                    with socket.socket(socket.AF_UNIX) as stranger:
                        stranger.connect("mcp.sock")
                        stranger.sendall(hello)
                        assert json.loads(stranger.makefile("rb").readline())["error"]
                assert [m["author"] for m in await lead.call("read")] == ["lead", "helper", "person"]
            # The others went; the lead's connection still holds the server.
            assert [a["name"] for a in await lead.call("list")] == ["lead", "helper"]

    run(scenario)
    wait_for(lambda: not servers_of(repo), timeout=30, what="the server to end once no one is connected")
    assert not (state / "mcp.sock").exists()


def test_a_relay_for_an_agent_the_project_does_not_have_says_so(repo, orchestra):
    relay = mcp_argv(str(Context.open(repo).state.dir), "ghost")
    result = subprocess.run(relay, cwd=repo, input="", capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and result.stdout == ""
    said = "orchestra's MCP server: there is no agent named 'ghost'"
    assert result.stderr.startswith(said) and result.stderr.count("\n") == 1, result.stderr


def test_a_server_that_died_is_started_again_by_the_next_relay(repo, orchestra):
    import signal

    async def killed() -> None:
        async with connected(repo, relay=True) as person:
            await person.call("post", text="first")
            [pid] = servers_of(repo)
            os.kill(pid, signal.SIGKILL)  # its socket file stays behind
            wait_for(lambda: not servers_of(repo), what="the server to die")

    with contextlib.suppress(Exception):
        run(killed)
    assert (Context.open(repo).state.dir / "mcp.sock").exists()

    async def again() -> None:
        async with connected(repo, relay=True) as person:
            await person.call("post", text="again")
            assert [m["text"] for m in await person.call("read")] == ["first", "again"]

    run(again)


def test_a_batch_that_starts_the_server_early_starts_one(repo, orchestra):
    """`spawn` of several codex or gemini agents asks for the server before each window: while the
    first server starts (holding the folder's lock), no second one is started beside it."""
    from orchestra.mcp_relay import start_soon

    state = Context.open(repo).state.dir
    for _ in range(3):
        start_soon(str(state), str(repo))
    wait_for(lambda: (state / "mcp.sock").exists(), timeout=30, what="the server's socket")
    assert len(servers_of(repo)) == 1
    start_soon(str(state), str(repo))  # it answers: nothing is started
    assert len(servers_of(repo)) == 1
