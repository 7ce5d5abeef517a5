"""The `orchestra` command's entry point: what needs no click is answered before click loads.

`orchestra --version` is asked by scripts, prompts and status lines, often many times, so it costs
only Python's start; everything else goes to the click command line in `orchestra.cli`.
"""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:] in (["--version"], ["-V"]):
        from orchestra import __version__

        print(f"orchestra {__version__}")
        return
    from orchestra.cli import main as command_line

    command_line()
