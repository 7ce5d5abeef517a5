"""tmux: the project's session, the board, one window per agent, and reading every pane at once.

The only module that runs tmux, every command through one runner (`Tmux.run`) whose `TmuxError`
keeps the argv, exit code and stderr. It is a plain subprocess, not libtmux: `ls`, the board and
the notifiers run tmux all the time, and libtmux's import (about 100 ms) costs more than a tmux
call, while its object model cannot say what orchestra needs (`;`-joined commands, a command given
as an argv after `--`, hooks, formats). Every command is an argument list; nothing here goes
through a shell except the `pane-died` hook, which tmux can only run as a shell command and which
is built from paths quoted with `shlex.quote`, never from user text.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from orchestra.errors import TmuxError

# Between a paste and its Enter: Gemini CLI takes an Enter within 30 ms of other input for a new line.
SUBMIT_PAUSE = 0.1
# How long a paste may take to be drawn before its Enter is pressed anyway.
PASTE_DRAWN_WAIT = 2.0

SOCKET_ENV = "ORCHESTRA_TMUX_SOCKET"
# What a tmux server orchestra starts keeps of the starting shell's environment: tmux copies that
# environment into its global one, which every window opened on the server later inherits, so the
# shell's secrets (API keys, tokens, webhook URLs) stay out. Agents get the whole environment
# through their launch file instead.
SERVER_ENV = {
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "TERM", "COLORTERM", "LANG", "LANGUAGE", "TZ", "TMPDIR",
    "DISPLAY", "WAYLAND_DISPLAY", "XAUTHORITY", "DBUS_SESSION_BUS_ADDRESS", "SSH_AUTH_SOCK",
    "SSL_CERT_FILE", "SSL_CERT_DIR", "GIT_CONFIG_GLOBAL", "GIT_CONFIG_NOSYSTEM", "PYTHONPATH",
    "TMUX_TMPDIR",  # where the sockets are: the tmux client that starts the server must look there too
}  # fmt: skip
SERVER_ENV_PREFIXES = ("LC_", "XDG_", "ORCHESTRA_")
SCREEN_MARKER = "\x1forchestra-screen\x1f"  # printed between captured screens
ROOT_OPTION = "@orchestra_root"  # marks a session as belonging to one project's main checkout
AGENT_OPTION = "@orchestra_agent"  # on an agent's pane: the agent's name
LAUNCH_OPTION = "@orchestra_launch"  # on an agent's pane: the id of the launch that opened it (the record's launch_id)
# tmux command chains below are laid out one tmux command per line (each after its ";"), which
# says what tmux is asked far better than one string per line: those calls carry `# fmt: skip`.
PANE_FORMAT = "\t".join(
    [
        "#{pane_id}",
        "#{window_id}",
        "#{session_name}",
        "#{window_name}",
        "#{pane_dead}",
        "#{pane_dead_status}",
        "#{pane_pid}",
        "#{" + AGENT_OPTION + "}",
        "#{" + LAUNCH_OPTION + "}",
    ]
)


@dataclass(frozen=True)
class Pane:
    id: str
    window: str
    session: str
    window_name: str
    dead: bool
    dead_status: int | None
    pid: int | None
    agent: str = ""  # orchestra's mark on the pane: whose it is (empty on a pane orchestra did not open)
    launch: str = ""  # and which launch of that agent opened it: a new tmux server reuses pane ids, never these


@dataclass(frozen=True)
class AgentWindow:
    """One agent's window to open: its name, folder, command (an argv, run without a shell),
    what tmux runs when its pane dies, and the launch id its pane is marked with."""

    name: str
    cwd: Path
    argv: list[str]
    on_death: list[str]
    launch: str


class Tmux:
    """One tmux server: the user's default one, or the `-L` socket named by ORCHESTRA_TMUX_SOCKET."""

    def __init__(self, socket_name: str | None = None):
        self.socket_name = socket_name if socket_name is not None else (os.environ.get(SOCKET_ENV) or None)

    # -- plumbing ------------------------------------------------------------------------

    @staticmethod
    def require(argv: list[str] | None = None) -> None:
        import shutil  # only when tmux failed to start: its import costs every command milliseconds

        if shutil.which("tmux") is None:
            raise TmuxError(
                "tmux is not installed: install it (for example `apt-get install tmux` or `brew install tmux`) "
                "and try again.",
                argv,
            )

    def base_argv(self) -> list[str]:
        """`tmux` with this server's socket, to run or to show the user (`tmux -L x attach`)."""
        return ["tmux", *(["-L", self.socket_name] if self.socket_name else [])]

    def run(
        self,
        *args: str,
        check: bool = True,
        input: str | None = None,
        timeout: float | None = None,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run one tmux command (or several joined by ';') on this server: the one runner.

        Returns the finished process, its stdout and stderr decoded. With `check`, a non-zero exit
        raises `TmuxError` with the argv, exit code and stderr; a missing tmux or a server that
        does not answer within `timeout` seconds always raises it. `input` goes to tmux's stdin
        (`load-buffer -`); otherwise stdin is empty. `env` replaces this process's environment.
        """
        return self.start(*args, check=check, input=input, timeout=timeout, env=env)()

    def start(
        self,
        *args: str,
        check: bool = True,
        input: str | None = None,
        timeout: float | None = None,
        env: dict[str, str] | None = None,
    ) -> Callable[[], subprocess.CompletedProcess[str]]:
        """`run`, started now and waited for when the returned function is called: the caller
        does its own work while tmux answers."""
        argv = [*self.base_argv(), *args]
        try:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
            )
        except FileNotFoundError:
            self.require(argv)
            raise TmuxError(f"tmux could not be started: {argv[0]} was not found.", argv) from None

        def finish() -> subprocess.CompletedProcess[str]:
            data = input.encode("utf-8", "surrogateescape") if input is not None else None
            try:
                stdout, stderr = process.communicate(data, timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()
                raise TmuxError(
                    f"tmux {args[0]} got no answer within {timeout} s: is the tmux server stuck?", argv
                ) from None
            except BaseException:  # interrupted: the tmux client does not outlive the command
                process.kill()
                process.wait()
                raise
            done = subprocess.CompletedProcess(
                argv, process.returncode, stdout.decode("utf-8", "replace"), stderr.decode("utf-8", "replace")
            )
            if check and done.returncode != 0:
                message = " ".join(done.stderr.split()) or f"exit code {done.returncode}"
                raise TmuxError(f"tmux {args[0]} failed: {message}", argv, done.returncode, done.stderr)
            return done

        return finish

    def cmd(self, *args: str, check: bool = True, timeout: float | None = None) -> list[str]:
        """Run one tmux command (or several joined by ';') and return its output lines, without
        the blank lines at the end (a captured screen's empty rows)."""
        lines = self.run(*args, check=check, timeout=timeout).stdout.split("\n")
        while lines and not lines[-1]:
            lines.pop()
        return lines

    # -- reading -------------------------------------------------------------------------

    def panes(self) -> dict[str, Pane] | None:
        """Every pane on the server, in one tmux call; None when no server is running."""
        return self.panes_and_screens([])[0]

    def panes_and_screens(self, capture: list[str]) -> tuple[dict[str, Pane] | None, dict[str, str]]:
        """Every pane on the server and what the panes in `capture` show, in one tmux call.

        `panes` is None when no server is running. A pane of `capture` that is gone stops the
        captures after it (tmux ends a command sequence at its first error): they are missing.
        """
        return self.panes_and_screens_soon(capture)()

    def panes_and_screens_soon(self, capture: list[str]) -> Callable[[], tuple[dict[str, Pane] | None, dict[str, str]]]:
        """`panes_and_screens`, asked now and read when the returned function is called."""
        args = ["list-panes", "-a", "-F", PANE_FORMAT]
        for pane in capture:
            args += [
                ";",
                "display-message",
                "-p",
                "-t",
                pane,
                SCREEN_MARKER,
                ";",
                "capture-pane",
                "-p",
                "-J",
                "-t",
                pane,
            ]
        try:
            answer = self.start(*args, check=False)
        except TmuxError:  # tmux is not installed: nothing is alive
            return lambda: (None, {})
        return lambda: _panes_and_screens(answer(), capture)

    def has_session(self, session: str) -> bool:
        return self.run("has-session", "-t", f"={session}", check=False).returncode == 0

    def session_root(self, session: str) -> str | None:
        out = self.cmd("show-options", "-v", "-q", "-t", f"={session}:", ROOT_OPTION, check=False)
        return out[0] if out else None

    def capture(self, pane: str, lines: int | None = None) -> str:
        """What the pane shows, with `lines` of scrollback above it (None: all of it)."""
        start = "-" if lines is None else str(-lines)
        return "\n".join(self.cmd("capture-pane", "-p", "-J", "-S", start, "-t", pane))

    def capture_many(self, panes: list[str]) -> dict[str, str]:
        """What each pane shows (its visible screen), in one tmux call for all of them."""
        return self.panes_and_screens(panes)[1] if panes else {}

    def pane_positions(self, session: str) -> dict[str, tuple[str, int, int]]:
        """Pane id to (window id, window index, pane index) for every pane of `session`, in one call."""
        out = self.cmd(
            "list-panes",
            "-s",
            "-t",
            f"={session}",
            "-F",
            "#{pane_id}\t#{window_id}\t#{window_index}\t#{pane_index}",
            check=False,
        )
        fields = [line.split("\t") for line in out]
        return {f[0]: (f[1], int(f[2]), int(f[3])) for f in fields if len(f) == 4 and f[2].isdigit() and f[3].isdigit()}

    def current_pane(self, session: str) -> str | None:
        """The pane the user is on in `session`. Inside a client of this server: its current pane
        (TMUX_PANE's, or for a key binding's run-shell, which has no TMUX_PANE, the one $TMUX's
        session shows), if that is in `session`. Elsewhere: the session's active pane."""
        if not self.inside():
            out = self.cmd("display-message", "-p", "-t", f"={session}:", "#{pane_id}", check=False)
            return out[0] if out else None
        pane = os.environ.get("TMUX_PANE")
        target = ["-t", pane] if pane else []
        out = self.cmd("display-message", "-p", *target, "#{session_name}\t#{pane_id}", check=False)
        here, _, current = (out[0] if out else "").partition("\t")
        return current if here == session else None

    def message(self, text: str) -> None:
        """Show `text` on the current client's status line, as tmux shows its own messages."""
        self.cmd("display-message", text.replace("#", "##"), check=False)

    def inside(self) -> bool:
        """Whether this process runs inside a client (or a run-shell) of this same server."""
        return bool(os.environ.get("TMUX")) and self._inside_this_server(os.environ["TMUX"])

    def pane_dead(self, pane: str) -> bool:
        """True once the pane's process has ended (or the pane is gone)."""
        out = self.cmd("display-message", "-p", "-t", pane, "#{pane_dead}", check=False)
        return not out or out[0] == "1"

    # -- changing ------------------------------------------------------------------------

    def ensure_session(self, session: str, root: Path, board_argv: list[str], env: dict[str, str]) -> bool:
        """Create the project's session with the board in window 0. False if it already existed.

        A tmux server started here gets `server_environment()`, not this process's environment."""
        # Whether it is there and whose it is, in one call: tmux stops at a missing session.
        found = self.run(
            "has-session", "-t", f"={session}",
            ";", "show-options", "-v", "-q", "-t", f"={session}:", ROOT_OPTION,
            check=False,
        )  # fmt: skip
        if found.returncode == 0:
            owner = found.stdout.strip()
            if owner and owner != str(root):
                raise TmuxError(
                    f"the tmux session '{session}' belongs to {owner}: set a different `session` name "
                    "in the [orchestra] table of orchestra.toml."
                )
            return False
        env_args = [arg for key, value in env.items() for arg in ("-e", f"{key}={value}")]
        result = self.run(
            "new-session", "-d", "-s", session, "-n", "board", "-c", _literal(root), "-x", "200", "-y", "50",
            *env_args, "--", *board_argv,
            ";", "set-option", "-t", f"={session}:", ROOT_OPTION, str(root),
            check=False, env=server_environment(),
        )  # fmt: skip
        if result.returncode != 0:
            if "duplicate session" in result.stderr:
                return False  # another orchestra process made it a moment ago
            stderr = " ".join(result.stderr.split())
            raise TmuxError(
                f"tmux could not create the session '{session}': {stderr}",
                result.args,
                result.returncode,
                result.stderr,
            )
        return True

    def ensure_board(self, session: str, root: Path, board_argv: list[str], env: dict[str, str]) -> bool:
        """Put the board back in window 0 if someone closed it. True if it was recreated."""
        windows = self.cmd("list-windows", "-t", f"={session}", "-F", "#{window_index}\t#{window_name}")
        if any(line.split("\t")[0] == "0" for line in windows):
            return False
        env_args = [arg for key, value in env.items() for arg in ("-e", f"{key}={value}")]
        self.cmd(
            "new-window", "-d", "-t", f"={session}:0", "-n", "board", "-c", _literal(root), *env_args, "--", *board_argv
        )
        return True

    def new_agent_window(
        self, session: str, name: str, cwd: Path, argv: list[str], on_death: list[str], launch: str
    ) -> tuple[str, str]:
        """Open a window running `argv` in `cwd`; returns its window and pane ids (as
        `new_agent_windows`, for one window)."""
        opened, error = self.new_agent_windows(session, [AgentWindow(name, cwd, argv, on_death, launch)])
        if error is not None:
            raise error
        return opened[0]

    def new_agent_windows(
        self, session: str, windows: list[AgentWindow]
    ) -> tuple[list[tuple[str, str]], TmuxError | None]:
        """Open the agents' windows, in order, in one tmux invocation (more only when their
        commands pass tmux's size limit, about twenty agents per invocation); returns the window and pane
        ids of those opened (the first ones of `windows`), and the error that stopped the rest,
        if one did: tmux ends a command sequence at its first error. The window that failed is
        not left open; the ones after it were not tried. One invocation rather than one per
        window: each tmux client costs a process start, which the launchers of the windows
        already opened compete with.

        `remain-on-exit` keeps a finished pane (and its exit status) around, and tmux fires
        `pane-died` only with it on. Each pane is marked with the agent's name and its launch
        (the agent's identity: a new tmux server numbers windows and panes from the start
        again). All of it is set in the same invocation as the window is created, so not even
        an agent that exits at once can die before they apply; the launch mark comes last, so a
        pane that has it has everything.

        Each window is added after the session's last one and found again as `{end}`, never by
        its name: tmux would take a name like `0` for an index and `v1.2` for a window and pane.
        tmux runs one invocation's commands one after the other, so no other window comes between.
        """
        opened: list[tuple[str, str]] = []
        for batch in _batches([_window_commands(session, window) for window in windows]):
            done, stopped = self._open_windows(batch, windows[len(opened) : len(opened) + len(batch)])
            opened += done
            if stopped is not None:
                return opened, stopped
        return opened, None

    def _open_windows(
        self, commands: list[list[str]], windows: list[AgentWindow]
    ) -> tuple[list[tuple[str, str]], TmuxError | None]:
        result = self.run(*[arg for command in commands for arg in (";", *command)][1:], check=False)
        opened = [line.split("\t", 1) for line in result.stdout.splitlines() if "\t" in line][: len(windows)]
        if result.returncode == 0 and len(opened) == len(windows):
            return [(window, pane) for window, pane in opened], None
        if opened:
            # The last window printed was made; whether its options all applied, its launch mark says.
            window_id, pane = opened[-1]
            mark = self.cmd("display-message", "-p", "-t", pane, "#{" + LAUNCH_OPTION + "}", check=False)
            if mark != [windows[len(opened) - 1].launch]:
                self.kill_window(window_id)
                opened.pop()
        message = " ".join(result.stderr.split()) or f"exit code {result.returncode}"
        error = TmuxError(f"tmux new-window failed: {message}", result.args, result.returncode, result.stderr)
        return [(window, pane) for window, pane in opened], error

    # -- the tiled view: every agent as a pane of one window ------------------------------

    def tiled_window(self, session: str) -> str | None:
        out = self.cmd("list-windows", "-t", f"={session}", "-F", "#{window_id}\t#{window_name}", check=False)
        return next((line.split("\t")[0] for line in out if line.split("\t")[1:] == [TILED_WINDOW]), None)

    def tile(self, session: str, panes: list[tuple[str, str]], on_death: list[str]) -> str:
        """Move agents' panes (pane id, agent name) into the tiled window; returns its id.

        `join-pane` moves a pane with its process and scrollback; the window it leaves closes.
        The tiled window carries the same options and `pane-died` hook as an agent window, and
        a border on each pane with the agent's name and status (`@orchestra_status`).
        """
        window = self.tiled_window(session)
        for pane, name in panes:
            self.cmd("set-option", "-p", "-t", pane, AGENT_OPTION, name)
            if window is None:
                window = self._break_pane(pane, TILED_WINDOW)
                self.cmd(
                    *_agent_window_options(window, on_death)[1:],
                    ";", "set-option", "-w", "-t", window, "pane-border-status", "top",
                    ";", "set-option", "-w", "-t", window, "pane-border-format", PANE_BORDER,
                )  # fmt: skip
            else:
                # After the window's last pane, so the agents keep the order they were spawned in.
                last = self.cmd("list-panes", "-t", window, "-F", "#{pane_id}")[-1]
                self.cmd("join-pane", "-d", "-s", pane, "-t", last, ";", "select-layout", "-t", window, "tiled")
        assert window is not None, "tile() is given at least one pane"
        self.cmd("select-layout", "-t", window, "tiled")
        return window

    def untile(self, panes: list[tuple[str, str]], on_death: list[str]) -> dict[str, str]:
        """Give each pane (pane id, agent name) a window of its own again; returns pane -> window id."""
        windows = {}
        for pane, name in panes:
            windows[pane] = self._break_pane(pane, name)
            self.cmd(*_agent_window_options(windows[pane], on_death)[1:])
            self.cmd("set-option", "-w", "-u", "-t", windows[pane], "pane-border-status", check=False)
        return windows

    def _break_pane(self, pane: str, name: str) -> str:
        """Give `pane` a window named `name`; returns the window id. A pane alone in its window
        keeps that window (tmux only renames it, printing nothing)."""
        out = self.cmd("break-pane", "-d", "-s", pane, "-n", name, "-P", "-F", "#{window_id}")
        if out:
            return out[0]
        self.cmd("rename-window", "-t", pane, name)
        return self.cmd("display-message", "-p", "-t", pane, "#{window_id}")[0]

    def mark_panes(self, marks: dict[str, str]) -> None:
        """Set each pane's `@orchestra_status` (shown on its border in the tiled view), in one call."""
        args: list[str] = []
        for pane, status in marks.items():
            args += ["set-option", "-p", "-q", "-t", pane, "@orchestra_status", status, ";"]
        if args:
            self.cmd(*args[:-1], check=False)

    def kill_window(self, window: str) -> None:
        self.cmd("kill-window", "-t", window, check=False)

    def kill_pane(self, pane: str) -> None:
        """Stop one agent's pane; its window closes with it unless other agents share it (tiled)."""
        self.cmd("kill-pane", "-t", pane, check=False)

    def send_text(self, pane: str, text: str, enter: bool = True) -> None:
        """Give `text` to the pane as a paste, then press Enter.

        A paste is bracketed where the program asked for that (Claude Code, Codex and Gemini CLI
        do), so none of its keys is taken for a shortcut and a newline in it does not submit;
        elsewhere it arrives as typed. It goes through a tmux buffer read from stdin, so its
        length is not bound by tmux's command size. Enter comes a moment later: agent CLIs take
        an Enter that follows other input within milliseconds for part of a paste.
        """
        if text:
            before = self.capture(pane, 0) if enter else ""
            # One buffer per send: the dashboard sends from one process on several threads at once.
            buffer = f"orchestra-send-{os.getpid()}-{os.urandom(4).hex()}"
            self.run("load-buffer", "-b", buffer, "-", input=text)
            self.cmd("paste-buffer", "-p", "-r", "-d", "-b", buffer, "-t", pane)
            if enter:
                self._until_drawn(pane, before)
                time.sleep(SUBMIT_PAUSE)
        if enter:
            self.cmd("send-keys", "-t", pane, "Enter")

    def _until_drawn(self, pane: str, before: str) -> None:
        """Wait (up to PASTE_DRAWN_WAIT) until the program has drawn the paste: on a busy machine
        it reads the paste late, and an Enter read together with it is taken for part of it. A
        program that does not echo what it reads gets its Enter when the wait is over."""
        deadline = time.monotonic() + PASTE_DRAWN_WAIT
        while time.monotonic() < deadline and self.capture(pane, 0) == before:
            time.sleep(0.02)

    def select_window(self, window: str, pane: str | None = None) -> None:
        self.cmd("select-window", "-t", window, *([";", "select-pane", "-t", pane] if pane else []))

    def attach(self, session: str) -> None:
        """Put the user's terminal on `session`, as tmuxp does.

        Inside a client of this same server, `switch-client`, and return. Otherwise this process
        becomes `tmux attach-session` and does not return; TMUX is removed from its environment so
        that attaching from inside another tmux server works too.
        """
        if self.inside():
            self.run("switch-client", "-t", f"={session}")
            return
        env = dict(os.environ)
        env.pop("TMUX", None)
        argv = [*self.base_argv(), "attach-session", "-t", f"={session}"]
        sys.stdout.flush()
        sys.stderr.flush()
        os.execvpe(argv[0], argv, env)

    def _inside_this_server(self, tmux_env: str) -> bool:
        socket_path = tmux_env.split(",")[0]
        out = self.cmd("display-message", "-p", "#{socket_path}", check=False)
        return bool(out) and out[0] == socket_path


TILED_WINDOW = "agents"  # the window of the tiled view
# Each pane's border in the tiled view: its agent, and WAITING in reverse video when it asks.
PANE_BORDER = (
    " #{@orchestra_agent} #{?#{==:#{@orchestra_status},waiting},#[reverse] WAITING #[noreverse],#{@orchestra_status}} "
)


def server_environment() -> dict[str, str]:
    """This process's environment without what a tmux server should not keep (`SERVER_ENV`)."""
    return {k: v for k, v in os.environ.items() if k in SERVER_ENV or k.startswith(SERVER_ENV_PREFIXES)}


def version() -> str | None:
    """tmux's version ("3.4", "3.3a", "next-3.5"), or None when tmux is missing."""
    try:
        out = subprocess.run(["tmux", "-V"], capture_output=True, text=True, stdin=subprocess.DEVNULL).stdout
    except OSError:
        return None
    return out.strip().removeprefix("tmux ") or None


# What one tmux invocation may carry: the client sends its arguments in one message of at most
# 16 kB (tmux's MAX_IMSGSIZE), and refuses a longer command list as "command too long".
COMMAND_BYTES = 12_000


def _window_commands(session: str, window: AgentWindow) -> list[str]:
    """The `;`-joined commands that open one agent's window: the launch mark comes last."""
    target = f"={session}:{{end}}"
    return [
        "new-window", "-d", "-a", "-t", target, "-n", window.name, "-c", _literal(window.cwd),
        "-P", "-F", "#{window_id}\t#{pane_id}", "--", *window.argv,
        *_agent_window_options(target, window.on_death),
        ";", "set-option", "-p", "-t", target, AGENT_OPTION, window.name,
        ";", "set-option", "-p", "-t", target, LAUNCH_OPTION, window.launch,
    ]  # fmt: skip


def _batches(commands: list[list[str]]) -> list[list[list[str]]]:
    """The windows' commands in order, in as few invocations as fit in `COMMAND_BYTES` each
    (a window too long for one on its own gets one, and tmux's refusal)."""
    batches: list[list[list[str]]] = []
    size = COMMAND_BYTES
    for command in commands:
        length = sum(len(arg.encode("utf-8", "surrogateescape")) + 1 for arg in command) + 2
        if size + length > COMMAND_BYTES:
            batches.append([])
            size = 0
        batches[-1].append(command)
        size += length
    return batches


def _agent_window_options(target: str, on_death: list[str]) -> list[str]:
    """`;`-joined tmux commands that make `target` an agent window. `remain-on-exit` keeps a
    finished pane (and its exit status) around, and tmux fires `pane-died` only with it on."""
    # run-shell expands formats, so a '#' in a path is doubled to stay literal.
    command = shlex.join(on_death).replace("#", "##") + (
        " '#{pane_id}' '#{pane_dead_status}' '#{window_name}' '#{" + LAUNCH_OPTION + "}'"
    )
    hook = "run-shell -b " + _tmux_quote(command)
    return [
        ";", "set-option", "-w", "-t", target, "remain-on-exit", "on",
        ";", "set-option", "-w", "-t", target, "automatic-rename", "off",
        ";", "set-hook", "-w", "-t", target, "pane-died", hook,
    ]  # fmt: skip


def _literal(path: Path) -> str:
    """A start folder for `-c`, which tmux expands as a format: a '#' doubled stays a '#', where
    `#(...)` in a folder's name would run as a shell command and `#{...}` would be replaced."""
    return str(path).replace("#", "##")


def _tmux_quote(text: str) -> str:
    """Quote for tmux's own command parser (used inside a hook definition)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") + '"'


def _panes_and_screens(
    result: subprocess.CompletedProcess[str], capture: list[str]
) -> tuple[dict[str, Pane] | None, dict[str, str]]:
    """What `Tmux.panes_and_screens` reads from tmux's answer."""
    stdout = result.stdout.splitlines()
    listing = stdout
    chunks: list[str] = []
    if capture:
        text = "\n".join(stdout)
        listing = text.split(SCREEN_MARKER, 1)[0].split("\n")
        chunks = text.split(SCREEN_MARKER)[1:]
    if result.returncode != 0 and not any("\t" in line for line in listing):
        return None, {}  # "no server running" or "error connecting": either way, nothing is alive
    screens = dict(zip(capture, chunks, strict=False))  # a server that failed midway answers fewer
    panes = {}
    for line in listing:
        fields = line.split("\t")
        if len(fields) != 9:
            continue
        pane_id, window, session, window_name, dead, status, pid, agent, launch = fields
        panes[pane_id] = Pane(
            id=pane_id,
            window=window,
            session=session,
            window_name=window_name,
            dead=dead == "1",
            dead_status=int(status) if status.lstrip("-").isdigit() else None,
            pid=int(pid) if pid.isdigit() else None,
            agent=agent,
            launch=launch,
        )
    return panes, screens
