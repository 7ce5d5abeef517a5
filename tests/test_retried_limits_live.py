"""aider and OpenCode wait a rate limit out by themselves: through orchestra, against the real CLIs
(tests/agent_clis.py) and the stand-ins of their model APIs, each agent is `limited` while its CLI is
held by a 429 and `running` again once the API lets it through.

aider talks to the OpenAI stand-in's Chat Completions (tests/openai_api.py) as an OpenAI-compatible
API at a base URL; OpenCode to the Anthropic stand-in (tests/claude_api.py) as its `anthropic`
provider with `options.baseURL`. Both are pointed there the way a user points them at any API.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from claude_api import ClaudeAPI
from openai_api import MODEL, OpenAIAPI
from orchestra.state import State
from standin import Error
from support import git, screen, wait_for, wait_statuses

LIMITED_LINE = "The API provider has rate limited you. Try again later or check your quotas."
# The API waits a second between retries: each CLI takes its delay from `retry-after`.
LIMIT = Error(429, "rate_limit_error", "Rate limit reached for requests", (("retry-after", "1"),))


def configure(repo, kind: str, command: list[str], args: list[str], env: dict[str, str]) -> None:
    """The kind in orchestra.toml, with a back-off long enough that only the screen can end the limit."""
    table = ", ".join(f"{key} = {json.dumps(value)}" for key, value in env.items())
    (repo / "orchestra.toml").write_text(
        f"[agents.{kind}]\ncommand = {json.dumps(command)}\nargs = {json.dumps(args)}\nenv = {{ {table} }}\n"
        '[schedule]\nlimit_backoff = "1h"\n'
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", f"configure the {kind} agent")


def statuses(orchestra, name: str) -> list[str]:
    events = map(json.loads, orchestra("events", "--json", "--agent", name).stdout.splitlines())
    return [e["status"] for e in events if e["type"] == "status"]


@pytest.mark.slow
def test_aider_held_by_a_429_is_limited_and_running_again_when_it_gets_through(orchestra, repo, agent_clis, isolated):
    with OpenAIAPI() as api:
        api.script([LIMIT])
        args = ["--model", f"openai/{MODEL}", "--openai-api-base", f"{api.url}/v1", "--no-show-model-warnings"]
        args += ["--no-gitignore", "--no-auto-commits"]
        env = {"OPENAI_API_KEY": "stand-in-key", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
        configure(repo, "aider", agent_clis["aider"], args, env)
        orchestra("spawn", "--agent", "aider", "--no-attach", "say hello")
        (agent,) = wait_statuses(orchestra, {"say-hello": "limited"}, timeout=90)
        assert agent["error"] == LIMITED_LINE
        assert agent["limited_until"]
        api.recover()
        # aider gets its answer, says what it cost, and exits, which ends its run without an error.
        (agent,) = wait_statuses(orchestra, {"say-hello": "exited"}, timeout=60)
    assert agent["exit_code"] == 0 and agent["error"] is None
    assert statuses(orchestra, "say-hello") == ["starting", "running", "limited", "running", "exited"]


@pytest.mark.slow
def test_opencode_held_by_a_429_is_limited_and_running_again_when_it_gets_through(
    orchestra, repo, agent_clis, isolated
):
    with ClaudeAPI() as api:
        api.script([LIMIT])
        provider = {"anthropic": {"options": {"baseURL": f"{api.url}/v1", "apiKey": "stand-in-key"}}}
        config = {"model": "anthropic/claude-sonnet-4-5", "share": "disabled", "provider": provider}
        (repo / "opencode.json").write_text(json.dumps(config))
        # Offline, these spare OpenCode's start the network calls that would only time out; the last
        # keeps its first start from installing its plugin package from the npm registry.
        quiet = ("MODELS_FETCH", "DEFAULT_PLUGINS", "LSP_DOWNLOAD", "AUTOUPDATE")
        env = {f"OPENCODE_DISABLE_{name}": "true" for name in quiet} | {"npm_config_offline": "true"}
        configure(repo, "opencode", agent_clis["opencode"], [], env)
        orchestra("spawn", "--agent", "opencode", "--no-attach", "say hello")
        (agent,) = wait_statuses(orchestra, {"say-hello": "limited"}, timeout=90)
        assert "Rate limit reached for requests [retrying " in agent["error"]
        api.recover()
        (agent,) = wait_statuses(orchestra, {"say-hello": "running"}, timeout=60)
        wait_for(lambda: "Done." in screen(isolated, agent["pane"]), timeout=30, what="OpenCode's answer")
    assert agent["error"] is None and agent["limited_until"] is None
    assert statuses(orchestra, "say-hello") == ["starting", "running", "limited", "running"]


# An aider as the screen shows it: limited, then, once `go` exists, through (or not) and ended.
FAKE_AIDER = """
import pathlib, sys, time
print("The API provider has rate limited you. Try again later or check your quotas.", flush=True)
print("Retrying in 0.2 seconds...", flush=True)
while not pathlib.Path("go").exists():
    time.sleep(0.05)
if pathlib.Path("go").read_text() == "through":
    print("Done.")
    print("Tokens: 593 sent, 2 received.")
"""


@pytest.mark.parametrize(("end", "status"), [("through", "exited"), ("gave up", "failed")])
def test_an_aider_that_ends_while_limited_gave_up_unless_its_screen_shows_it_got_through(
    orchestra, repo, isolated, tmp_path, end, status
):
    script = tmp_path / "aider.py"
    script.write_text(FAKE_AIDER)
    configure(repo, "aider", [sys.executable, str(script)], [], {"AIDER_ANALYTICS": "false"})
    orchestra("spawn", "--agent", "aider", "--no-attach", "say hello")
    (agent,) = wait_statuses(orchestra, {"say-hello": "limited"}, timeout=30)
    (Path(agent["worktree"]) / "go").write_text(end)
    # Its end as the agent's own shell reports it, with no `ls` reading its screen meanwhile.
    state = State(repo / ".git" / "orchestra")
    wait_for(lambda: state.read_raw()["say-hello"]["status"] != "limited", timeout=30, what="its end")
    (agent,) = wait_statuses(orchestra, {"say-hello": status})
    assert agent["exit_code"] == 0
    if status == "failed":
        assert agent["error"] == "it ended while limited: " + LIMITED_LINE
    else:
        assert agent["error"] is None
