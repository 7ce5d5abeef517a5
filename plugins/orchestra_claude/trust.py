"""Claude Code's folder trust: whether it will open a project's folders without asking first.

Claude Code shows a folder-trust dialog before anything else, even before its hooks run, in a
folder it was never told to trust; an agent then waits there until a person answers. Worktrees
inherit the trust of the main checkout, so `orchestra doctor` checks that one folder.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from orchestra.models import Check


def folder_trusted(folder: Path, config_dir: Path | None = None) -> bool | None:
    """Whether Claude Code was told to trust `folder` (its worktrees inherit that); None if unknown.

    Claude Code keeps this in `.claude.json`: in `$CLAUDE_CONFIG_DIR` when that is set, else in
    the home folder, under `projects[<absolute path>].hasTrustDialogAccepted`.
    """
    configured = config_dir or (Path(os.environ["CLAUDE_CONFIG_DIR"]) if os.environ.get("CLAUDE_CONFIG_DIR") else None)
    path = (configured or Path.home()) / ".claude.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    projects = data.get("projects") if isinstance(data, dict) else None
    if not isinstance(projects, dict):
        return False
    for candidate in {str(folder), str(folder.resolve())}:
        entry = projects.get(candidate)
        if isinstance(entry, dict) and entry.get("hasTrustDialogAccepted") is True:
            return True
    return False


def trust_checks(root: Path, config: Any) -> list[Check]:
    """doctor's note when Claude Code is installed but does not trust the main checkout."""
    command = config.agent_settings("claude").command or ["claude"]
    if shutil.which(command[0]) is None or folder_trusted(root) is not False:
        return []  # without Claude Code, or when its settings cannot be read, there is nothing to say
    return [
        Check(
            "claude trust",
            None,
            f"Claude Code has not been told to trust {root}: each claude agent will wait at its "
            "folder-trust dialog until you answer it in the agent's window (or run `claude` there once)",
        )
    ]
