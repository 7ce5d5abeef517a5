"""The `aider` agent kind: aider, run on its task in the agent's pane.

aider has no way to take a first message and then stay in its chat, so the task is its one
message (`--message=TASK`, one argument that cannot be read as an option): aider edits and
commits in the worktree, asks its questions in the pane, and exits when its reply is done, so
the pane's exit gives an exact `exited` (or `failed`). Its notifications command cannot say
whether aider asks a question or is idle, so questions are read off the screen.

A rate or usage limit (HTTP 429, which aider's model library calls a RateLimitError) aider waits
out by itself: it prints the error and "The API provider has rate limited you. Try again later or
check your quotas.", retries with a doubling delay, and gives up after its delay passes a minute,
and then, with `--message`, exits. The agent is `limited` from that line on; its reply's token
count below the last such line shows that it got through (`running` again), and an aider that
exits while limited gave up: `failed`, with the limit as its error.
"""

from __future__ import annotations

from collections.abc import Callable

from orchestra import __version__ as __version__  # released with orchestra itself
from orchestra.hookspecs import hookimpl
from orchestra.models import Agent, AgentKind, AgentSettings

# aider 0.86's confirm_ask: "Question? (Y)es/(N)o[/(A)ll/(S)kip all/(D)on't ask again] [Yes]: "
WAITING_PATTERNS = [r"\(Y\)es/\(N\)o.*\[[^\]\n]*\]: *$"]
BUSY_PATTERNS = [r"Waiting for \S+"]  # its spinner while the model answers
# aider 0.86's words for a litellm RateLimitError (an API's 429); a 5xx has words of its own
# ("The API provider's servers are down or overloaded.").
LIMITED_PATTERNS = [r"The API provider has rate limited you\."]
LIMIT_OVER_PATTERNS = [r"^Tokens: .+ sent, .+ received"]  # printed once a reply came


def build_argv(agent: Agent, settings: AgentSettings) -> list[str]:
    argv = [*(settings.command or ["aider"]), *settings.args]
    if settings.model:
        argv += ["--model", settings.model]
    return [*argv, f"--message={agent.task}"]


@hookimpl
def register_agents(register: Callable[[AgentKind], None]) -> None:
    register(
        AgentKind(
            name="aider",
            build_argv=build_argv,
            description="aider (`aider`), one message in its own worktree, committing its edits",
            default_command=["aider"],
            default_env={
                "AIDER_CHECK_UPDATE": "false",
                "AIDER_SHOW_RELEASE_NOTES": "false",
                "AIDER_ANALYTICS": "false",
            },
            waiting_patterns=WAITING_PATTERNS,
            busy_patterns=BUSY_PATTERNS,
            limited_patterns=LIMITED_PATTERNS,
            limit_over_patterns=LIMIT_OVER_PATTERNS,
        )
    )
