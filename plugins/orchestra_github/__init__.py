"""The `github` plugin: the `pr` merge strategy and the `orchestra pr` command.

`orchestra merge --strategy pr` (or `orchestra pr`) pushes each agent's branch to the remote
and opens a pull request for it into the merge target, instead of merging locally. The pull
request is opened with `gh` when it is installed and logged in, else through GitHub's REST API
with the token in `GITHUB_TOKEN`. The main checkout and the target branch are never touched.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields
from typing import Any

from orchestra import __version__ as __version__  # released with orchestra itself
from orchestra.errors import MergeFailed
from orchestra.hookspecs import hookimpl
from orchestra.models import Agent, MergeResult, Repository
from orchestra_github import gh, pull_request, remote

STRATEGY = "pr"
TOKEN_VARIABLE = "GITHUB_TOKEN"


@dataclass
class Settings:
    """`[plugins.github]` in orchestra.toml."""

    api_url: str = "https://api.github.com"
    remote: str = ""  # empty: the remote `orchestra merge` hands over (origin)
    repository: str = ""  # "owner/name"; empty: read from the remote's URL
    timeout: float = 30.0  # seconds, for each API request and each gh command


def settings(config: Any) -> Settings:
    """The plugin's table, checked: a mistake is named with the key and what it must be."""
    table = config.plugin_settings("github")
    known = [f.name for f in fields(Settings)]
    for key, value in table.items():
        if key not in known:
            raise MergeFailed(f"[plugins.github] has no key '{key}'; its keys are {', '.join(known)}.")
        if key == "timeout":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise MergeFailed("[plugins.github] timeout must be a number of seconds greater than 0.")
        elif not isinstance(value, str):
            raise MergeFailed(f"[plugins.github] {key} must be a string.")
    if table.get("repository") and not re.match(r"^[\w.-]+/[\w.-]+$", table["repository"]):
        raise MergeFailed('[plugins.github] repository must look like "owner/name".')
    return Settings(**table)


@hookimpl
def merge_strategy(
    agent: Agent, repo: Repository, config: Any, strategy: str, report: dict[str, Any]
) -> MergeResult | None:
    if strategy != STRATEGY:
        return None
    token = os.environ.get(TOKEN_VARIABLE, "")
    try:
        return open_for(agent, repo, settings(config), report, token)
    except MergeFailed as error:  # every message passes here, so no secret reaches the user
        secrets = [token, os.environ.get("GH_TOKEN", "")]
        raise MergeFailed(redact(str(error), secrets)) from None


def open_for(agent: Agent, repo: Repository, options: Settings, report: dict[str, Any], token: str) -> MergeResult:
    """Everything that can be checked is checked before the push, so a refusal pushes nothing."""
    remote_name = options.remote or repo.remote
    url = remote.url_of(repo.root, remote_name)
    repository = options.repository or remote.repository_of(url)
    if repository is None:
        raise MergeFailed(
            f"cannot tell which GitHub repository the remote '{remote_name}' ({url}) is; "
            'set [plugins.github] repository = "owner/name" in orchestra.toml.'
        )
    gh_path = gh.logged_in(options.timeout)
    if gh_path is None and not token:
        raise MergeFailed(
            "opening a pull request needs the GitHub CLI or a token: install `gh` and run `gh auth login`, "
            f"or export {TOKEN_VARIABLE}."
        )
    title = pull_request.title(agent.task, agent.name)
    body = pull_request.body({**report, "name": agent.name, "branch": agent.branch, "task": agent.task})
    remote.push(repo.root, remote_name, agent.branch)
    head, base = agent.branch, repo.target
    if gh_path is not None:
        opened = gh.open_pull_request(gh_path, repo.root, repository, head, base, title, body, options.timeout)
    else:
        from orchestra_github import api  # urllib, only when it is used: every command loads the plugins

        opened = api.GitHubAPI(options.api_url, repository, token, options.timeout).open(head, base, title, body)
    if opened.existed:
        message = f"pull request #{opened.number} was already open: {opened.url}"
    else:
        message = f"opened pull request #{opened.number}: {opened.url}"
    return MergeResult(outcome="opened", message=message, url=opened.url)


def redact(text: str, secrets: list[str]) -> str:
    """Never show a secret: the tokens themselves, and credentials written into a URL."""
    text = re.sub(r"(\w+://)[^/\s@]+@", r"\1", text)
    for secret in secrets:
        text = text.replace(secret, "***") if secret else text
    return text


@hookimpl
def register_commands(cli: Any) -> None:
    from orchestra_github.command import pr_command  # click only when the command line is built

    cli.add_command(pr_command(cli))
