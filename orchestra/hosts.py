"""Other machines that run agents, reached with the user's own OpenSSH (`[hosts.<name>]`).

orchestra has no agent of its own on a host: it runs `ssh` with the user's ssh config, and on the
host only git, tmux, Python and orchestra itself. Every connection to a host goes through one
shared OpenSSH master connection (ControlMaster, ControlPersist), so only the first command of a
while pays for the handshake. `ssh` runs in batch mode: it never asks for a password or a host
key, and a host it cannot reach within `CONNECT_TIMEOUT` is reported unreachable.

Nothing built from the user's text is run by a shell on either side: what runs on the host is a
constant script, read by `sh -s` from standard input.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestra.errors import OrchestraError

CONNECT_TIMEOUT = 5  # seconds for ssh to reach a host
PROBE_TIMEOUT = 10.0  # seconds for a whole probe, connection included
CONTROL_PERSIST = "120"  # seconds a master connection outlives its last use
# Where orchestra lives on a host once `orchestra hosts setup` has installed it (from the home).
REMOTE_VENV = ".local/share/claude-orchestra/venv"
AGENT_CLIS = ("claude", "codex", "gemini", "aider", "opencode")

# What `orchestra hosts` asks each host: tab-separated `key value` lines. Constant: it takes no text
# of the user's, and runs in the remote user's login shell's `sh`.
PROBE = f"""
say() {{ printf '%s\\t%s\\n' "$1" "$2"; }}
say user "$(id -un)"
say home "$HOME"
say git "$(git --version 2>/dev/null)"
say tmux "$(tmux -V 2>/dev/null)"
say python "$(python3 --version 2>/dev/null)"
say orchestra "$("$HOME/{REMOTE_VENV}/bin/orchestra" --version 2>/dev/null)"
for cli in {" ".join(AGENT_CLIS)}; do say "cli:$cli" "$(command -v "$cli" 2>/dev/null)"; done
"""


@dataclass(frozen=True)
class Host:
    """One `[hosts.<name>]` of orchestra.toml."""

    name: str
    ssh: str  # the destination, as ssh takes it
    ssh_args: tuple[str, ...] = ()
    path: str = ""  # the project's clone on the host; "" is orchestra/<repo> in the remote home
    forward_env: tuple[str, ...] = ()
    max_running: int = 0

    @classmethod
    def of(cls, name: str, table: dict[str, Any]) -> Host:
        return cls(
            name=name,
            ssh=table["ssh"],
            ssh_args=tuple(table.get("ssh_args") or ()),
            path=table.get("path") or "",
            forward_env=tuple(table.get("forward_env") or ()),
            max_running=int(table.get("max_running") or 0),
        )


@dataclass
class Probe:
    """What `orchestra hosts` found on one host."""

    name: str
    ssh: str
    reachable: bool
    error: str | None = None
    user: str | None = None
    home: str | None = None
    git: str | None = None
    tmux: str | None = None
    python: str | None = None
    orchestra: str | None = None
    agent_clis: dict[str, str | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def configured(hosts: dict[str, dict[str, Any]]) -> dict[str, Host]:
    """The hosts of a loaded configuration (`Config.hosts`), by name."""
    return {name: Host.of(name, table) for name, table in sorted(hosts.items())}


def control_dir() -> Path:
    """Where the master connections' sockets live: short (a socket path has a limit of about a
    hundred bytes), private to this user."""
    runtime = os.environ.get("XDG_RUNTIME_DIR") or ""
    base = Path(runtime if runtime and len(runtime) < 40 else "/tmp")  # not TMPDIR, which may be long
    folder = base / f"orchestra-ssh-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    if folder.stat().st_uid != os.getuid() or folder.stat().st_mode & 0o077:
        raise OrchestraError(f"{folder} is not private to you: remove it, and orchestra makes it again.")
    return folder


def ssh_argv(host: Host, remote: list[str]) -> list[str]:
    """ssh to `host` running `remote` (words, which ssh joins with spaces for the remote shell:
    give it constant words only), through the shared master connection, never asking anything."""
    return [
        "ssh",
        *host.ssh_args,
        "-o", "BatchMode=yes",
        "-o", f"ConnectTimeout={CONNECT_TIMEOUT}",
        "-o", "ControlMaster=auto",
        "-o", f"ControlPath={control_dir()}/%C",
        "-o", f"ControlPersist={CONTROL_PERSIST}",
        "--", host.ssh, *remote,
    ]  # fmt: skip


def probe(host: Host, timeout: float = PROBE_TIMEOUT) -> Probe:
    """Ask `host` what it has; unreachable (with ssh's own words) when it does not answer in time."""
    found = Probe(host.name, host.ssh, reachable=False)
    try:
        done = subprocess.run(
            ssh_argv(host, ["sh", "-s"]),
            input=PROBE,
            capture_output=True,
            text=True,
            timeout=timeout,
            errors="replace",
        )
    except subprocess.TimeoutExpired:
        found.error = f"no answer within {timeout:.0f} s"
        return found
    except OSError as error:
        found.error = f"cannot run ssh: {error.strerror}"
        return found
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        found.error = lines[-1].strip() if lines else f"ssh exited with code {done.returncode}"
        return found
    found.reachable = True
    for line in done.stdout.splitlines():
        key, _, value = line.partition("\t")
        if key.startswith("cli:"):
            found.agent_clis[key.removeprefix("cli:")] = value or None
        elif key in ("user", "home", "git", "tmux", "python", "orchestra"):
            setattr(found, key, value or None)
    return found


def probe_all(hosts: list[Host]) -> list[Probe]:
    """Every host's probe, all at once: the slowest host bounds the wait, not their sum."""
    if len(hosts) < 2:
        return [probe(host) for host in hosts]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(len(hosts), 16)) as pool:
        return list(pool.map(probe, hosts))


# -- `orchestra hosts setup NAME` ---------------------------------------------------------------

# Where `--offline` copies the dependencies' wheels on the host (from the home), each setup in a
# folder of its own, which the setup removes when pip is done with it.
OFFLINE_WHEELS = ".cache/claude-orchestra/offline"
OFFLINE_FOLDER = re.compile(r"^[0-9a-f]{16}$")
# Run on the host by `sh -s`: the checks, then the wheel (base64, between the markers), the
# virtual environment, orchestra in it, and the project's bare clone. Its only inputs are the
# placeholders below, each replaced by a wheel's file name (checked against `wheels.WHEEL_NAME`), by
# base64 text, whose letters no shell reads as anything but themselves, by the hexadecimal
# name of the folder the dependencies' wheels were copied to (`--offline`; empty otherwise), or by
# the wheel's SHA-256 (hexadecimal): a host that installed this very wheel installs nothing again.
SETUP = f"""
set -eu
die() {{ printf 'orchestra: %s\\n' "$1" >&2; exit 3; }}
command -v git >/dev/null 2>&1 || die "git is missing on the host: install it there"
command -v tmux >/dev/null 2>&1 || die "tmux is missing on the host: install it there"
command -v python3 >/dev/null 2>&1 || die "python3 is missing on the host: install Python 3.10 or newer there"
python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))' || die "the host's python3 is older than 3.10"
python3 -c 'import venv, ensurepip' 2>/dev/null || die "the host's python3 has no venv or ensurepip: install python3-venv there"
wheels="$HOME/.cache/claude-orchestra/wheels"
mkdir -p "$wheels"
base64 -d > "$wheels/@WHEEL@" <<'ORCHESTRA_WHEEL_END'
@WHEEL_DATA@
ORCHESTRA_WHEEL_END
venv="$HOME/{REMOTE_VENV}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
offline='@OFFLINE@'
installed=$(cat "$venv/orchestra-wheel.sha256" 2>/dev/null || true)
if [ "$installed" = '@WHEEL_SHA@' ] && [ -x "$venv/bin/orchestra" ]; then
    # This very wheel is installed already, with its dependencies: nothing to install.
    [ -z "$offline" ] || rm -rf "$HOME/{OFFLINE_WHEELS}/$offline"
    printf 'wheel\\tkept\\n'
elif [ -z "$offline" ]; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "$wheels/@WHEEL@" >&2
else
    # The dependencies' wheels copied from here, and no index at all.
    copied="$HOME/{OFFLINE_WHEELS}/$offline"
    if ! "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-index --find-links "$copied" \
        --upgrade "$wheels/@WHEEL@" >&2; then
        rm -rf "$copied"
        exit 4
    fi
    rm -rf "$copied"
fi
printf '%s\\n' '@WHEEL_SHA@' > "$venv/orchestra-wheel.sha256"
clone=$(printf '%s' '@PATH@' | base64 -d)
case "$clone" in /*) ;; *) clone="$HOME/$clone" ;; esac
if [ ! -d "$clone" ]; then
    git init --quiet "$clone"
    # HEAD on a branch no push ever names: git refuses a push to the branch a checkout is on.
    git -C "$clone" symbolic-ref HEAD refs/heads/orchestra-host-checkout
fi
[ "$(git -C "$clone" rev-parse --is-bare-repository)" = false ] || die "$clone on the host is a bare repository: remove it there, and run the setup again"
printf 'clone\\t%s\\n' "$clone"
printf 'orchestra\\t%s\\n' "$("$venv/bin/orchestra" --version)"
"""


# What runs a request on the host (`orchestra.on_host`), from the remote user's home, where ssh starts.
REMOTE_COMMAND = [f"{REMOTE_VENV}/bin/python", "-I", "-m", "orchestra", "_remote"]
REMOTE_ATTACH = [f"{REMOTE_VENV}/bin/python", "-I", "-m", "orchestra", "_remote-attach"]
REMOTE_FOLLOW = [f"{REMOTE_VENV}/bin/python", "-I", "-m", "orchestra", "_remote-follow"]


class Unreachable(OrchestraError):
    """A host that did not answer: ssh could not reach it, or not in time."""


def call(host: Host, request: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Send `request` to the host's orchestra (as JSON on ssh's standard input, so no text of it is
    on a command line) and return its answer; `Unreachable` when ssh cannot reach the host in
    time, an `OrchestraError` with the host's own sentence when it refuses."""
    import json

    try:
        done = subprocess.run(
            ssh_argv(host, REMOTE_COMMAND),
            input=json.dumps(request).encode(),
            capture_output=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise Unreachable(f"host '{host.name}' did not answer within {timeout:.0f} s") from None
    except OSError as error:
        raise Unreachable(f"cannot run ssh for host '{host.name}': {error.strerror}") from None
    stderr = done.stderr.decode(errors="replace")
    if done.returncode == 255:  # ssh's own failure: the connection, not the command
        lines = [line.strip() for line in stderr.splitlines() if line.strip()]
        raise Unreachable(f"host '{host.name}' cannot be reached: {lines[-1] if lines else 'ssh failed'}")
    try:
        answer = json.loads(done.stdout)
    except ValueError:
        lines = [line.strip() for line in stderr.splitlines() if line.strip()]
        said = lines[-1] if lines else f"exit code {done.returncode}"
        raise OrchestraError(
            f"host '{host.name}' has no working orchestra ({said}): run `orchestra hosts setup {host.name}`."
        ) from None
    if not isinstance(answer, dict) or not answer.get("ok"):
        refusal = answer.get("error") if isinstance(answer, dict) else None
        raise OrchestraError(f"on host '{host.name}': {refusal or 'the request failed'}")
    return answer


def clone_path(host: Host, project_name: str) -> str:
    """Where the project's clone lives on the host, as configured (relative: to the remote home)."""
    return host.path or f"orchestra/{project_name}"


def setup(
    host: Host,
    project_root: Path,
    branches: list[str],
    wheel: Path,
    dependencies: list[Path] | None = None,
    timeout: float = 600.0,
) -> dict[str, str]:
    """Install `wheel` (orchestra) on `host` in its own virtual environment, make the project's bare
    clone there, and push `branches` to it over SSH. With `dependencies` (`--offline`), those wheels
    are copied to the host first and pip there installs from them alone, never asking an index.
    Returns what the host said (`clone`, `orchestra`)."""
    import base64
    import hashlib

    from orchestra.wheels import WHEEL_NAME

    if not WHEEL_NAME.match(wheel.name):
        raise OrchestraError(f"{wheel.name} is not a wheel of orchestra.")
    offline = "" if dependencies is None else copy_wheels(host, dependencies, timeout)
    if offline and not OFFLINE_FOLDER.match(offline):  # the one other name the script is given
        raise OrchestraError(f"{offline!r} is not a folder name orchestra gives the host.")
    script = (
        SETUP.replace("@WHEEL@", wheel.name)
        .replace("@WHEEL_SHA@", hashlib.sha256(wheel.read_bytes()).hexdigest())
        .replace("@OFFLINE@", offline)
        .replace("@PATH@", base64.b64encode(clone_path(host, project_root.name).encode()).decode())
        .replace("@WHEEL_DATA@", base64.encodebytes(wheel.read_bytes()).decode().strip())
    )
    try:
        done = subprocess.run(
            ssh_argv(host, ["sh", "-s"]), input=script, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        raise OrchestraError(f"host '{host.name}' did not finish its setup within {timeout:.0f} s.") from None
    if done.returncode == 4:  # pip there refused the wheels copied from here
        raise OrchestraError(offline_refusal(host, done.stderr))
    if done.returncode != 0:
        said = [line for line in done.stderr.splitlines() if line.strip()]
        reason = said[-1].removeprefix("orchestra: ") if said else f"ssh exited with code {done.returncode}"
        raise OrchestraError(f"setting up host '{host.name}' failed: {reason}")
    found = dict(line.split("\t", 1) for line in done.stdout.splitlines() if "\t" in line)
    push(host, project_root, found["clone"], branches)
    return found


def copy_wheels(host: Host, wheels: list[Path], timeout: float) -> str:
    """Copy `wheels` into a new folder of OFFLINE_WHEELS on the host and return its name: a tar
    stream on ssh's standard input, unpacked by the host's `tar` from the remote home (a constant
    command; the only names in the stream are the folder's, hexadecimal, and the wheels', checked)."""
    import secrets
    import tarfile
    import tempfile

    from orchestra.wheels import DEPENDENCY_WHEEL

    folder = secrets.token_hex(8)
    for wheel in wheels:
        if not DEPENDENCY_WHEEL.match(wheel.name):
            raise OrchestraError(f"{wheel.name} is not the name of a wheel orchestra copies to a host.")
    with tempfile.TemporaryFile() as stream:
        # Files only, no folders: tar would give an existing folder of the home (`.cache`) their modes.
        with tarfile.open(fileobj=stream, mode="w") as archive:
            for wheel in wheels:
                entry = tarfile.TarInfo(f"{OFFLINE_WHEELS}/{folder}/{wheel.name}")
                entry.size, entry.mode, entry.mtime = wheel.stat().st_size, 0o644, int(wheel.stat().st_mtime)
                with wheel.open("rb") as data:
                    archive.addfile(entry, data)
        stream.seek(0)
        try:
            done = subprocess.run(
                ssh_argv(host, ["tar", "-x", "-f", "-"]), stdin=stream, capture_output=True, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            raise OrchestraError(f"host '{host.name}' did not take the wheels within {timeout:.0f} s.") from None
    said = [line.strip() for line in done.stderr.decode(errors="replace").splitlines() if line.strip()]
    if done.returncode == 127:
        raise OrchestraError(f"tar is missing on host '{host.name}': install it there, or set it up without --offline.")
    if done.returncode != 0:
        reason = said[-1] if said else f"ssh exited with code {done.returncode}"
        raise OrchestraError(f"copying the dependencies' wheels to host '{host.name}' failed: {reason}")
    return folder


def offline_refusal(host: Host, stderr: str) -> str:
    """pip's refusal of the wheels copied from here, as one sentence: almost always a compiled
    dependency built for another Python or platform than the host's."""
    import platform

    missing = re.search(r"No matching distribution found for (\S+)", stderr)
    if missing:
        here = f"Python {platform.python_version()} on {platform.system()} {platform.machine()}"
        return (
            f"pip on host '{host.name}' cannot install the wheels copied from here (none fits {missing.group(1)}): "
            f"compiled dependencies need the host's Python version and platform to match this machine's ({here}); "
            "set the host up without --offline, or from a machine that matches it."
        )
    said = [line.strip() for line in stderr.splitlines() if line.strip()]
    return f"pip on host '{host.name}' refused the wheels copied from here: {said[-1] if said else 'no reason given'}"


def push(host: Host, project_root: Path, clone: str, branches: list[str], extra: list[str] | None = None) -> None:
    """Push `branches` of the local repository (and the `extra` refspecs) to the host's clone,
    with git over the same ssh."""
    from orchestra import git

    refspecs = [f"refs/heads/{b}:refs/heads/{b}" for b in branches] + (extra or [])
    env = {**os.environ, **git_ssh_env(host)}
    result = git.run(["push", "--quiet", f"{host.ssh}:{clone}", *refspecs], project_root, env=env, check=False)
    if result.returncode != 0 and ("non-fast-forward" in result.stderr or "[rejected]" in result.stderr):
        raise OrchestraError(
            f"the clone {clone} on host '{host.name}' holds {', '.join(branches)} with commits this repository "
            "lacks: is it another project's? Set [hosts."
            f"{host.name}] path to a folder of its own, or remove that clone on the host."
        )
    if result.returncode != 0:
        said = [line for line in result.stderr.splitlines() if line.strip()]
        raise OrchestraError(f"pushing to host '{host.name}' failed: {said[-1] if said else result.returncode}")


def fetch(host: Host, project_root: Path, clone: str, refspecs: list[str]) -> None:
    """Fetch `refspecs` from the host's clone into the local repository, over the same ssh."""
    from orchestra import git

    env = {**os.environ, **git_ssh_env(host)}
    result = git.run(["fetch", "--quiet", f"{host.ssh}:{clone}", *refspecs], project_root, env=env, check=False)
    if result.returncode != 0:
        said = [line for line in result.stderr.splitlines() if line.strip()]
        raise OrchestraError(f"fetching from host '{host.name}' failed: {said[-1] if said else result.returncode}")


GIT_SSH = """#!{python}
# Written by orchestra: git's ssh for hosts, which adds the host's ssh arguments (from the environment).
import json, os, sys
os.execvp("ssh", ["ssh", *json.loads(os.environ["ORCHESTRA_SSH_ARGS"]), *sys.argv[1:]])
"""


def git_ssh_env(host: Host) -> dict[str, str]:
    """The environment that has git reach `host` as orchestra's own ssh does: GIT_SSH names a
    constant program (no shell reads it), which takes the arguments from ORCHESTRA_SSH_ARGS."""
    import json
    import sys

    program = control_dir() / "git-ssh"
    text = GIT_SSH.format(python=sys.executable)
    if not program.exists() or program.read_text() != text:
        partial = program.with_suffix(".partial")
        partial.write_text(text)
        partial.chmod(0o700)
        partial.replace(program)
    arguments = ssh_argv(host, [])[1:-2]  # its options, without "ssh", "--" and the destination
    return {"GIT_SSH": str(program), "GIT_SSH_VARIANT": "ssh", "ORCHESTRA_SSH_ARGS": json.dumps(arguments)}
