"""The `opencode` agent kind: the OpenCode TUI, started interactively with its task.

OpenCode's notifications reach only its own JavaScript plugins, not a program it could run, so
its status comes from the screen: its permission dialog means `waiting`. The task is passed as
`--prompt=TASK`, one argument that cannot be read as an option whatever it starts with.

OpenCode retries an API's 429 (and 5xx) by itself, for as long as it takes, with the API's own
error message in its footer: "Rate limit reached for requests [retrying in 3s attempt #2]". The
agent is `limited` from such a footer on, when it names a rate or usage limit; `running` again
once the turn is over, or at the limit's reset (orchestra types nothing: OpenCode goes on by
itself), and `limited` again by the next such footer if it still retries. Its working footer is
no sign that the limit is over: OpenCode shows it for the moment each retry is sent.
"""

from __future__ import annotations

from collections.abc import Callable

from orchestra import __version__ as __version__  # released with orchestra itself
from orchestra.hookspecs import hookimpl
from orchestra.models import Agent, AgentKind, AgentSettings

# OpenCode 1.18's permission dialog ("Permission required", then Allow once / Allow always / Reject).
WAITING_PATTERNS = [r"Permission required", r"Allow once"]
BUSY_PATTERNS = [r"\binterrupt\b"]  # its footer while a turn runs: "esc interrupt"
# OpenCode 1.18's retry footer, "<the API's message> [retrying in 3s attempt #2]", when the message
# names a limit (a 5xx's "Internal server error" or "Provider is overloaded" does not). Its countdown
# ticks once a second and shows nothing under a second, so a short retry-after may only ever show
# "[retrying attempt #2]".
LIMITED_PATTERNS = [
    r"(?i)(rate.?limit|too many requests|quota|usage limit|\b429\b).*\[retrying (in \S+ )?attempt #\d+\]"
]
# Its footer once the turn is over ("ctrl+p commands" without "esc interrupt"). Not its working
# footer: that one shows for the moment each retry is sent, and the limit would end with each.
LIMIT_OVER_PATTERNS = [r"^(?!.*\binterrupt\b).*ctrl\+p commands"]


def build_argv(agent: Agent, settings: AgentSettings) -> list[str]:
    argv = [*(settings.command or ["opencode"]), *settings.args]
    if settings.model:
        argv += ["--model", settings.model]  # provider/model, e.g. anthropic/claude-sonnet-4-5
    return [*argv, f"--prompt={agent.task}"]


@hookimpl
def register_agents(register: Callable[[AgentKind], None]) -> None:
    register(
        AgentKind(
            name="opencode",
            build_argv=build_argv,
            description="OpenCode (`opencode`), interactive TUI, in its own worktree",
            default_command=["opencode"],
            default_env={
                "OPENCODE_DISABLE_AUTOUPDATE": "true",
                # Merged over the user's permission settings: edits go ahead, shell commands ask.
                "OPENCODE_PERMISSION": '{"bash": "ask"}',
            },
            waiting_patterns=WAITING_PATTERNS,
            busy_patterns=BUSY_PATTERNS,
            limited_patterns=LIMITED_PATTERNS,
            limit_over_patterns=LIMIT_OVER_PATTERNS,
        )
    )
