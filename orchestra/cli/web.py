"""The live dashboard in the browser: web."""

from __future__ import annotations

import click

from orchestra.cli.output import open_context, warn


@click.command()
@click.option(
    "--host",
    metavar="HOST",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; any but loopback opens the dashboard to the network.",
)
@click.option(
    "--port",
    "-p",
    metavar="PORT",
    type=click.IntRange(0, 65535),
    default=0,
    help="Port to listen on; default: a free one.",
)
@click.option("--no-open", is_flag=True, help="Do not open the browser; just print the URL.")
def web(host, port, no_open):
    """Serve the live dashboard: every agent, its screen, and actions, in the browser.

    The URL it prints carries a random access token; anyone with it can type into your agents.
    Agents spawned from the page run with this command's environment.
    """
    from orchestra.context import Context
    from orchestra.web import server
    from orchestra.web.app import create_app
    from orchestra.web.security import new_token

    ctx = open_context()
    root = ctx.project.cwd
    sock = server.listen(host, port)
    port = sock.getsockname()[1]
    token = new_token()
    hosts = server.local_hosts(host, port) if server.is_loopback(host) else None
    app = create_app(lambda: Context.open(root), token, hosts=hosts)
    url = f"http://{server.url_host(host)}:{port}/?token={token}"
    if not server.is_loopback(host):
        warn(
            [
                f"listening on {host}: other machines can reach the dashboard over plain HTTP; "
                "anyone who sees its URL can control your agents."
            ]
        )
    click.echo(f"dashboard of {ctx.project.name}: {url}")
    click.echo("stop it with Ctrl-C", err=True)
    if not no_open and not server.open_browser(url):
        click.echo("no browser to open here: open the URL above yourself", err=True)
    server.serve(app, sock)


COMMANDS = [web]
