"""The `slack` plugin: post agents' status changes, and conflicts forecast between two agents, to a
Slack incoming webhook.

```toml
[plugins.slack]
webhook_url_env = "SLACK_WEBHOOK_URL"               # the NAME of the variable that holds the webhook URL
events = ["done", "waiting", "limited", "failed", "conflict"]  # the statuses (and `conflict`) that are posted
```

The URL is a secret, so it is read from the environment only, and no message, log line or
error names it. Where the variable is not set, nothing is posted and nothing is said.

orchestra runs notifiers in a background process of their own, never inside a command a person
waits for, so the post is made in place, for at most 10 s; when Slack did not take the message
it raises, and the failure reaches the event log as a `plugin-error`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orchestra import __version__ as __version__  # released with orchestra itself
from orchestra.errors import OrchestraError
from orchestra.hookspecs import hookimpl

if TYPE_CHECKING:
    from orchestra.hookspecs import Config

from orchestra.models import Agent, Event, Status

NAME = "slack"
CONFLICT = "conflict"  # the event orchestra publishes when two agents are first forecast to conflict
STATUSES = [s.value for s in Status]
EVENTS = [*STATUSES, CONFLICT]


@dataclass(frozen=True)
class Settings:
    """`[plugins.slack]` in orchestra.toml."""

    webhook_url_env: str = "SLACK_WEBHOOK_URL"
    events: tuple[str, ...] = (Status.DONE, Status.WAITING, Status.LIMITED, Status.FAILED, CONFLICT)

    @classmethod
    def from_table(cls, table: dict[str, Any]) -> Settings:
        """Validated settings; errors never repeat a value, which could be a misplaced URL."""
        for key in table:
            if key not in ("webhook_url_env", "events"):
                raise OrchestraError(
                    f"unknown key '{key}' in [plugins.slack] in orchestra.toml; "
                    "the keys are webhook_url_env and events."
                )
        variable = table.get("webhook_url_env", cls.webhook_url_env)
        if not isinstance(variable, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", variable):
            raise OrchestraError(
                "[plugins.slack] webhook_url_env in orchestra.toml must be the name of an environment variable, "
                'such as "SLACK_WEBHOOK_URL"; put the webhook URL in that variable, never in orchestra.toml.'
            )
        events = table.get("events", list(cls.events))
        if not isinstance(events, list) or not all(isinstance(e, str) and e in EVENTS for e in events):
            raise OrchestraError(
                f"[plugins.slack] events in orchestra.toml must be a list of statuses among {', '.join(STATUSES)}, "
                f"and {CONFLICT}."
            )
        return cls(webhook_url_env=variable, events=tuple(events))


@hookimpl
def notifier_events(config: Config) -> list[str]:
    return list(Settings.from_table(config.plugin_settings(NAME)).events)


@hookimpl
def notifier(event: Event, agent: Agent | None, config: Config) -> None:
    settings = Settings.from_table(config.plugin_settings(NAME))
    kind = CONFLICT if event.type == CONFLICT else event.status
    if event.type not in ("status", CONFLICT) or kind not in settings.events:
        return
    url = os.environ.get(settings.webhook_url_env)
    if not url:
        return  # Slack is not set up in this environment: that is a choice, not a problem
    # Imported here: every command loads the plugins, and http.client and urllib cost it time.
    from orchestra_slack import message, webhook

    webhook.post(url, message.build(event, agent), variable=settings.webhook_url_env)
