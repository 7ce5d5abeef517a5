"""The `orchestra` command line: the entry point, the command group, and the one error boundary."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator, MutableMapping
from typing import Any, ClassVar

import click

from orchestra import __version__
from orchestra.errors import OrchestraError

# Every built-in command: its name and where it is defined ("module:attribute"), in the order
# `orchestra --help` lists them. A command's module is imported only when that command runs (or a
# listing needs every command's help), so `ls` loads `board` and nothing else. A new command is one
# line here.
BUILT_IN = {
    "spawn": "orchestra.cli.agents:spawn",
    "attach": "orchestra.cli.agents:attach",
    "logs": "orchestra.cli.agents:logs",
    "send": "orchestra.cli.agents:send",
    "diff": "orchestra.cli.agents:diff",
    "kill": "orchestra.cli.agents:kill",
    "clean": "orchestra.cli.agents:clean",
    "up": "orchestra.cli.board:up",
    "ls": "orchestra.cli.board:ls",
    "resume": "orchestra.cli.board:resume",
    "merge": "orchestra.cli.merge:merge",
    "conflicts": "orchestra.cli.conflicts:conflicts",
    "sync": "orchestra.cli.sync:sync",
    "events": "orchestra.cli.results:events",
    "report": "orchestra.cli.results:report",
    "plugins": "orchestra.cli.plugins:plugins",
    "init": "orchestra.cli.setup:init",
    "doctor": "orchestra.cli.setup:doctor",
    "demo": "orchestra.cli.setup:demo",
    "web": "orchestra.cli.web:web",
    "completion": "orchestra.cli.completion:completion",
    "pool": "orchestra.cli.pool:pool",
    "hosts": "orchestra.cli.hosts:hosts",
    "mcp": "orchestra.cli.mcp:mcp",
}


class LazyCommands(MutableMapping[str, click.Command]):
    """The group's `commands`: names known at once, each built-in's module imported on first
    use. It stays a mapping of name to command, as plugins' `register_commands` see it
    (`cli.commands.get("merge")`, `cli.add_command`)."""

    def __init__(self, table: dict[str, str]) -> None:
        self._entries: dict[str, str | click.Command] = dict(table)

    def __getitem__(self, name: str) -> click.Command:
        entry = self._entries[name]
        if isinstance(entry, str):
            module, attribute = entry.split(":")
            entry = self._entries[name] = getattr(importlib.import_module(module), attribute)
        return entry

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._entries[name] = command

    def __delitem__(self, name: str) -> None:
        del self._entries[name]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)


class AliasedGroup(click.Group):
    """Commands listed in the order of `BUILT_IN`, with `status` as another name for `ls`, and
    plugins' commands (`register_commands`) loaded only when a name is not built in."""

    aliases: ClassVar[dict[str, str]] = {"status": "ls"}
    plugins_loaded = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands = LazyCommands(BUILT_IN)

    def get_command(self, ctx, cmd_name):
        name = self.aliases.get(cmd_name, cmd_name)
        if name not in self.commands and not name.startswith("_"):
            self.load_plugin_commands()
        return super().get_command(ctx, name)

    def load_plugin_commands(self) -> None:
        if self.plugins_loaded:
            return
        self.plugins_loaded = True
        from orchestra.cli.output import warn
        from orchestra.context import plugins_here

        loaded = plugins_here()
        loaded.call("register_commands", cli=self)
        warn(loaded.problems)

    def resolve_command(self, ctx, args):
        name, command, rest = super().resolve_command(ctx, args)
        return command.name if command else name, command, rest

    def list_commands(self, ctx):
        self.load_plugin_commands()
        return list(self.commands)


@click.group(cls=AliasedGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", "-V", prog_name="orchestra", message="%(prog)s %(version)s")
def cli() -> None:
    """Run several AI coding agents on one repository at once, each in its own git worktree and
    tmux window.

    \b
      orchestra spawn "build auth API" "write tests"   start two agents
      orchestra up                                     watch them in tmux
      orchestra ls                                     what each one is doing
      orchestra kill NAME                              stop one, keeping its work
    """


class OutputFailed(Exception):
    """The command's output could not be written (`Output`). Not an OSError: click takes those from
    its commands for its own (a closed pipe is exit 1 there, anything else a crash), and the
    boundary must tell them from an OSError of the work itself."""

    def __init__(self, error: OSError):
        super().__init__(str(error))
        self.error = error


class Output:
    """`sys.stdout` while the command line runs: a write or flush that fails raises `OutputFailed`.
    click, rich and print all write through it; everything else is the stream's own."""

    def __init__(self, stream: Any):
        self.stream = stream

    def write(self, text: str) -> int:
        try:
            written: int = self.stream.write(text)
        except OSError as error:
            raise OutputFailed(error) from None
        return written

    def flush(self) -> None:
        try:
            self.stream.flush()
        except OSError as error:
            raise OutputFailed(error) from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def main(argv: list[str] | None = None) -> None:
    """The one error boundary: every known problem becomes one sentence on stderr and exit 1."""
    stream = sys.stdout
    sys.stdout = Output(stream)  # a text stream to everyone who writes to it
    try:
        cli.main(args=argv, prog_name="orchestra", standalone_mode=False)
        sys.stdout.flush()  # what is still buffered, inside the boundary
    except OutputFailed as failed:  # `> /dev/full`; or `| head`, which is nothing wrong (exit 0)
        from orchestra.console import output_failed

        sys.exit(output_failed(failed.error))
    except click.exceptions.Abort:
        click.echo("orchestra: cancelled.", err=True)
        sys.exit(130)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except OrchestraError as error:
        if os.environ.get("ORCHESTRA_DEBUG") == "1":
            raise
        from orchestra.render import printable

        click.echo(f"orchestra: {printable(str(error))}", err=True)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        sys.stderr.close()  # `orchestra ls | head`: the reader left, nothing is wrong
        sys.exit(0)
    except Exception as error:
        if os.environ.get("ORCHESTRA_DEBUG") == "1":
            raise
        log = _crash_log()
        click.echo(
            f"orchestra: unexpected error: {type(error).__name__}: {error}. This is a bug; details are in {log} "
            "(set ORCHESTRA_DEBUG=1 to see the traceback).",
            err=True,
        )
        sys.exit(70)
    finally:
        sys.stdout = stream


def _crash_log() -> str:
    """Append the traceback to crash.log (readable by the user only: it holds argv and paths), with
    the versions a bug report needs."""
    import platform
    import traceback

    from orchestra import git, tmux
    from orchestra.config import user_config_dir

    path = user_config_dir() / "crash.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.fchmod(fd, 0o600)  # also a crash.log written before it was kept private
        with open(fd, "a", encoding="utf-8") as handle:
            handle.write(f"orchestra {__version__} {' '.join(sys.argv)}\n")
            handle.write(
                f"python {platform.python_version()}, git {git.version() or 'missing'}, "
                f"tmux {tmux.version() or 'missing'}, {platform.platform()}\n"
            )
            traceback.print_exc(file=handle)
        return str(path)
    except OSError:
        return "(no crash log could be written)"
