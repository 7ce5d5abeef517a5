"""`orchestra plugins`: list, install and uninstall plugins."""

from __future__ import annotations

import dataclasses

import click

from orchestra.cli import complete
from orchestra.cli.output import print_json, warn


@click.group()
def plugins():
    """List, install and uninstall orchestra plugins."""


@plugins.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print the plugins as a JSON array.")
def list_plugins(as_json):
    """Show every plugin: version, where it comes from, its hooks and agent kinds."""
    from orchestra.context import plugins_here

    loaded = plugins_here()
    infos = loaded.describe()
    if as_json:
        print_json([dataclasses.asdict(i) for i in infos])
        return
    from orchestra import render

    render.console().print(render.plugins_table(infos))
    warn(loaded.problems)


@plugins.command()
@click.argument("name")
def install(name):
    """Install a plugin (a package name, path or URL) into orchestra's own environment."""
    from orchestra.plugin_install import install as install_plugin

    result = install_plugin(name)
    if result.plugins:
        click.echo(f"installed {name}: plugin{'s' if len(result.plugins) > 1 else ''} {', '.join(result.plugins)}")
    else:
        warn([f"installed {name}, but it provides no new orchestra plugin (no entry point in the 'orchestra' group)"])


@plugins.command()
@click.argument("name", shell_complete=complete.plugin_names)
def uninstall(name):
    """Uninstall the package that provides a plugin from orchestra's environment."""
    from orchestra.plugin_install import uninstall as uninstall_plugin

    click.echo(f"uninstalled {uninstall_plugin(name)}")


COMMANDS = [plugins]
