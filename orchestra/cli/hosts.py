"""Machines that run agents over SSH: `orchestra hosts`."""

from __future__ import annotations

import click

from orchestra.cli.output import echo, open_context, print_json


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print each host as a JSON object.")
def hosts(as_json):
    """Show each host of [hosts] in orchestra.toml: whether it answers over SSH, and its git, tmux,
    Python, orchestra and agent CLIs.

    orchestra runs your own ssh with your ssh config, in batch mode: it never asks for a password
    or a host key. A host that does not answer within a few seconds is shown unreachable, with
    ssh's reason. All hosts are asked at once.
    """
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


COMMANDS = [hosts]
