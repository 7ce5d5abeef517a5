"""Machines that run agents over SSH: `orchestra hosts`."""

from __future__ import annotations

import click

from orchestra.cli.output import echo, open_context, print_json


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print each host as a JSON object.")
@click.pass_context
def hosts(click_ctx, as_json):
    """Show each host of [hosts] in orchestra.toml: whether it answers over SSH, and its git, tmux,
    Python, orchestra and agent CLIs.

    orchestra runs your own ssh with your ssh config, in batch mode: it never asks for a password
    or a host key. A host that does not answer within a few seconds is shown unreachable, with
    ssh's reason. All hosts are asked at once.
    """
    if click_ctx.invoked_subcommand is not None:
        return
    from orchestra import hosts as hosts_module

    configured = hosts_module.configured(open_context().config.hosts)
    found = hosts_module.probe_all(list(configured.values()))
    if as_json:
        print_json([probe.to_dict() for probe in found])
        return
    if not found:
        echo('no hosts: add a [hosts.NAME] table with ssh = "user@host" to orchestra.toml (docs/hosts.md)')
        return
    from orchestra import render

    rows = []
    for probe in found:
        clis = ", ".join(name for name, path in probe.agent_clis.items() if path) or None
        state = "yes" if probe.reachable else f"no: {probe.error}"
        rows.append([probe.name, probe.ssh, state, probe.git, probe.tmux, probe.python, probe.orchestra, clis])
    columns = ["HOST", "SSH", "REACHABLE", "GIT", "TMUX", "PYTHON", "ORCHESTRA", "AGENT CLIS"]
    render.console().print(render.table(columns, rows, max_widths={"REACHABLE": 60}))


@hosts.command()
@click.argument("name")
@click.option(
    "--offline",
    is_flag=True,
    help="Copy the dependencies as wheels made from what is installed here; the host's package index is never asked.",
)
def setup(name, offline):
    """Make host NAME ready to run this project's agents.

    Installs this same orchestra there (a wheel built here, copied over SSH, in a virtual
    environment in the remote user's home; its dependencies come from the host's own package
    index, or with --offline as wheels made here from what is installed, which then need the
    host's Python version and platform to match this machine's), and makes or updates the
    project's clone there by pushing the target branch over SSH: the host needs no access to the
    project's remote. The host needs Python 3.10 or newer, git and tmux, and says so when it lacks
    one.
    """
    import tempfile
    from pathlib import Path

    from orchestra import hosts as hosts_module
    from orchestra import wheels
    from orchestra.errors import OrchestraError
    from orchestra.removal import merge_target

    ctx = open_context()
    configured = hosts_module.configured(ctx.config.hosts)
    if name not in configured:
        known = ", ".join(configured) or "none"
        raise OrchestraError(f"no host named '{name}' in [hosts] of orchestra.toml (hosts: {known}).")
    host = configured[name]
    target = merge_target(ctx)
    with tempfile.TemporaryDirectory() as folder:
        echo(f"building orchestra's wheel for {name}")
        wheel = wheels.build_wheel(Path(folder))
        dependencies = None
        if offline:
            (Path(folder) / "dependencies").mkdir()
            dependencies = wheels.dependency_wheels(Path(folder) / "dependencies")
            echo(f"copying {len(dependencies)} dependencies to {name} as wheels made here")
        echo(f"installing {wheel.name} on {name} ({host.ssh}) and pushing {target}")
        found = hosts_module.setup(host, ctx.project.root, [target], wheel, dependencies)
    if found.get("wheel") == "kept":
        echo(f"{name} already had this very wheel installed: nothing was installed")
    echo(f"{name}: {found.get('orchestra', 'orchestra')} ready; the project's clone is {found.get('clone')}")


COMMANDS = [hosts]
