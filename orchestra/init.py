"""`init`: orchestra.toml in the main checkout, with every default spelled out and commented."""

from __future__ import annotations

from pathlib import Path

from orchestra import config, files
from orchestra.context import Context
from orchestra.errors import OrchestraError
from orchestra.models import AgentSettings


def write_config(ctx: Context, force: bool = False) -> Path:
    """Write the commented template, with the command of every agent kind the plugins register
    (not those orchestra.toml itself defines); refuses to replace a file unless `force`."""
    path = ctx.project.root / config.FILENAME
    if path.exists() and not force:
        raise OrchestraError(f"{path} already exists: edit it, or run `orchestra init --force` to overwrite it.")
    kinds = {
        name: AgentSettings(list(k.default_command), list(k.default_args), dict(k.default_env))
        for name, k in ctx.plugins.kinds.items()
        if k.plugin != "orchestra.toml"
    }
    files.write_atomic(path, config.template(kinds), mode=None)
    return path
