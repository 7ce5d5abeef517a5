"""The `orchestra` command's entry point: what needs no click is answered before click loads.

`orchestra --version` is asked by scripts, prompts and status lines, often many times, so it costs
only Python's start; `orchestra ls --json`, asked by the same, costs no click (a fifth of it with a
few hundred agents). Everything else goes to the click command line in `orchestra.cli`.
"""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:] in (["--version"], ["-V"]):
        from orchestra import __version__

        print(f"orchestra {__version__}")
        return
    if sys.argv[1:] == ["ls", "--json"] and _listed():
        return
    from orchestra.cli import main as command_line

    command_line()


def _listed() -> bool:
    """`orchestra ls --json` answered here, as the command line would (`orchestra.listing`);
    False for what it leaves to the command line, which then says what went wrong: no
    repository, a bad configuration, agents on hosts, anything unexpected. Nothing is printed
    before every row is ready, so the command line can start again from the beginning."""
    try:
        from orchestra.context import Context
        from orchestra.listing import json_lines, rows

        ctx = Context.open()
        if ctx.state.has_remote():
            return False
        text = json_lines(rows(ctx))
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception:  # noqa: BLE001 - the command line runs it again and reports it as every command does
        return False
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        sys.stderr.close()  # `orchestra ls --json | head`: the reader left, nothing is wrong
    return True
