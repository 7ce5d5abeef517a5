"""`orchestra mcp` with an agent on a host (tests/ssh_support.py's real OpenSSH server): `list`
shows it as `ls --json` does, `diff` reaches it, and `wait` says it covers this machine only."""

from __future__ import annotations

import pytest

from test_mcp_server import connected, run
from test_remote_agents import on_host, wait_remote  # noqa: F401 - the host fixture

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]  # the first one installs orchestra on the host


def test_an_agent_on_a_host_shows_in_list_and_diff_reaches_it(orchestra, repo, on_host):  # noqa: F811
    orchestra("spawn", "--host", "box", "--agent", "demo", "--name", "away", "write the notes")
    wait_remote(orchestra, "away", "exited")

    async def scenario() -> None:
        async with connected(repo) as client:
            [row] = await client.call("list")
            assert row["name"] == "away" and row["host"] == "box" and row["status"] == "exited"
            assert "+++ b/notes/away.md" in await client.call("diff", name="away")
            refusal = await client.refused("wait", names=["away"])
            assert "this machine only" in refusal and "away" in refusal

    run(scenario)
