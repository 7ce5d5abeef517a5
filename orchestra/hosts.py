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
