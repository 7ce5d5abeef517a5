"""The `orchestra` command's entry point: what needs no click is answered before click loads.

`orchestra --version` is asked by scripts, prompts and status lines, often many times, so it costs
only Python's start; `orchestra ls --json`, asked by the same, costs no click (a fifth of it with a
few hundred agents). Everything else goes to the click command line in `orchestra.cli`.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing, on the --version path
if TYPE_CHECKING:
    from typing import NoReturn


def main() -> None:
    if sys.argv[1:] in (["--version"], ["-V"]):
        from orchestra import __version__

        _say(f"orchestra {__version__}")
        _leave(0)
    if sys.argv[1:] == ["ls", "--json"] and _listed():
        _leave(0)
    from orchestra.cli import main as command_line

    try:
        command_line()
    except SystemExit as leaving:
        _leave(leaving.code)
    _leave(0)


def _leave(code: str | int | None) -> NoReturn:
    """End the process once the command is done, without Python's teardown of every module and
    object, which nothing here needs: the exit handlers run and the output is flushed as at any
    exit. A spawn's teardown waits for a processor behind the agents it has just started (about a
    tenth of a second of its wall time for ten agents on two cores). A thread still running gets
    Python's own exit, which waits for it (not for a daemon thread, which ends with the process)."""
    threading = sys.modules.get("threading")
    if threading is not None and any(not t.daemon and t is not threading.main_thread() for t in threading.enumerate()):
        sys.exit(code)
    if code is None:
        code = 0
    elif not isinstance(code, int):  # sys.exit("text"): said on stderr, exit 1, as Python does
        sys.stderr.write(f"{code}\n")
        code = 1
    import atexit

    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError as error:
        code = output_failed(error)
    os._exit(code)


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
    _say(text)
    return True


def _say(text: str) -> None:
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except OSError as error:
        sys.exit(output_failed(error))


def output_failed(error: OSError) -> int:
    """The exit code, and the sentence, for output that could not be written: a reader that left
    (`orchestra ls | head`) is nothing wrong (0, quietly); a full disk or a closed output is said
    in one sentence (1). What is still buffered then goes nowhere, so it cannot fail again as
    Python exits."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # an output without a descriptor of its own (a test's)
        pass
    if isinstance(error, BrokenPipeError):
        return 0
    sys.stderr.write(f"orchestra: cannot write the output: {error.strerror or error}.\n")
    return 1
