"""Shell completion callbacks (`shell_complete=`) for agent names, agent kinds, plugins and shells.

Each TAB press runs `orchestra` afresh, so these read files directly (the state file,
orchestra.toml, installed packages' entry points) and import none of rich, libtmux, GitPython or
pluggy; they never reconcile with tmux. Whatever goes wrong, a callback offers nothing rather
than an error in the middle of the user's command line.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.shell_completion import CompletionItem

# The agent kinds of the bundled plugins; each plugin is named like its kind. Third-party kinds
# are known only by loading their plugins, which is too slow for a key press.
BUNDLED_KINDS = ("claude", "codex", "aider", "gemini", "opencode", "command", "demo")
OWN_DISTRIBUTION = "claude-orchestra"  # as in plugin_install, which would import pluggy


def _quiet(callback: Callable[..., list[CompletionItem]]) -> Callable[..., list[CompletionItem]]:
    def complete(ctx, param, incomplete: str) -> list[CompletionItem]:
        try:
            return callback(ctx, param, incomplete)
        except Exception:  # noqa: BLE001 - a damaged file or a missing git must not break the shell
            return []

    complete.__name__ = callback.__name__
    complete.__doc__ = callback.__doc__
    return complete


@_quiet
def agent_names(ctx, param, incomplete: str) -> list[CompletionItem]:
    """The names of this repository's agents, as last recorded, without those already given."""
    from orchestra.state import State
    from orchestra.worktrees import discover

    given = ctx.params.get(param.name) or ()
    given = {given} if isinstance(given, str) else set(given)
    records = State(discover().state_dir).read_raw(complete=False)
    return [
        CompletionItem(name, help=_describe(record))
        for name, record in records.items()
        if name.startswith(incomplete) and name not in given
    ]


def _describe(record: dict[str, Any]) -> str:
    task = " ".join(str(record.get("task", "")).split())
    task = task if len(task) <= 60 else task[:59] + "…"
    return f"{record.get('status', '?')}: {task}"


@_quiet
def agent_kinds(ctx, param, incomplete: str) -> list[CompletionItem]:
    """The bundled agent kinds that are not disabled, and the `[agents.*]` tables of the config."""
    disabled: set[str] = set()
    configured: list[str] = []
    for data in _config_files():
        disabled.update(data.get("plugins", {}).get("disabled", []))
        configured += [kind for kind in data.get("agents", {}) if kind not in configured]
    kinds = [k for k in BUNDLED_KINDS if k not in disabled] + [k for k in configured if k not in BUNDLED_KINDS]
    return [CompletionItem(kind) for kind in kinds if kind.startswith(incomplete)]


def _config_files() -> list[dict[str, Any]]:
    """The user-level file and the project's `orchestra.toml`, read but not validated."""
    from orchestra import config

    paths = [config.user_config_dir() / config.USER_FILENAME]
    cwd = Path.cwd()
    top = next((folder for folder in [cwd, *cwd.parents] if (folder / ".git").exists()), None)
    if top is not None:
        project_file = config.find_project_file(cwd, top)
        if project_file is not None:
            paths.append(project_file)
    found = []
    for path in paths:
        if path is not None and path.is_file():
            try:
                found.append(config.read_file(path))
            except Exception:  # noqa: BLE001 - one broken file leaves the other's kinds
                continue
    return found


@_quiet
def plugin_names(ctx, param, incomplete: str) -> list[CompletionItem]:
    """Installed third-party plugins (bundled ones cannot be uninstalled)."""
    from importlib.metadata import entry_points

    seen: dict[str, CompletionItem] = {}
    for entry_point in entry_points(group="orchestra"):
        dist = entry_point.dist
        if dist is None or _normalize(dist.name) == OWN_DISTRIBUTION or entry_point.name in seen:
            continue
        if entry_point.name.startswith(incomplete):
            seen[entry_point.name] = CompletionItem(entry_point.name, help=f"from {dist.name} {dist.version}")
    return sorted(seen.values(), key=lambda item: item.value)


def _normalize(name: str) -> str:
    return name.replace("_", "-").replace(".", "-").lower()


def shells(ctx, param, incomplete: str) -> list[CompletionItem]:
    from orchestra.completion_install import SHELLS  # here: most commands complete no shell

    return [CompletionItem(shell) for shell in SHELLS if shell.startswith(incomplete)]
