"""`orchestra demo`: a throwaway repository and three scripted agents, no API key needed."""

from __future__ import annotations

import tempfile
from pathlib import Path

from orchestra import git

TASKS = [
    "write a haiku about tmux",
    "add a changelog entry for the first release",
    "sketch a plan for a login page",
]

FILES = {
    "README.md": "# demo\n\nA throwaway repository made by `orchestra demo`.\n",
    "app.py": 'def greet(name: str) -> str:\n    return f"hello, {name}"\n',
    "orchestra.toml": (
        "# made by `orchestra demo`: scripted agents that need no API key\n"
        "[orchestra]\n"
        'default_agent = "demo"\n'
        'session = "{repo}"\n'
    ),
}


def make_repository(parent: Path | None = None) -> Path:
    """A new repository in a temporary folder, ready for agents."""
    path = Path(tempfile.mkdtemp(prefix="orchestra-demo-", dir=parent)).resolve()
    git.init_repository(path, FILES, "a small project for the orchestra demo")
    return path
