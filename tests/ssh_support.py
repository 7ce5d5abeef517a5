"""A real OpenSSH server on 127.0.0.1 for the hosts tests, for a second local user, with key login only.

The server (Debian's openssh-server, which `bash shell/setup.sh --test` installs) runs for the whole
session on a free port with a host key of its own; the client reaches it through an ssh config file
of the session's, passed as `ssh_args = ["-F", ...]`, exactly as a user names a host in orchestra.toml.
Nothing of the machine's own ssh setup is read or changed, but for the test user, made once.

    def test_x(ssh_host): ...   # ssh_host.alias, ssh_host.ssh_args, ssh_host.user
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SSHD = Path("/usr/sbin/sshd")
USER = "orchestra-host"  # the second local user the tests log in as
ALIAS = "orchestra-test-host"  # its name in the session's ssh config


@dataclass(frozen=True)
class SSHHost:
    alias: str  # the Host of the ssh config: what `ssh = ...` names in orchestra.toml
    ssh_args: list[str]  # ["-F", config]
    user: str
    home: Path
    port: int
    config: Path

    def toml(self, name: str = "box", **extra: object) -> str:
        """A `[hosts.<name>]` table for this host."""
        import json

        table = {"ssh": self.alias, "ssh_args": self.ssh_args, **extra}
        return "\n".join([f"[hosts.{name}]", *(f"{key} = {json.dumps(value)}" for key, value in table.items())]) + "\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, timeout=60)


def _test_user() -> pwd.struct_passwd:
    try:
        pwd.getpwnam(USER)
    except KeyError:
        _run("useradd", "--create-home", "--shell", "/bin/sh", USER)
    # No password that works, but not a locked account either: sshd without PAM refuses those.
    _run("usermod", "--password", "*", USER)
    return pwd.getpwnam(USER)


@pytest.fixture(scope="session")
def ssh_host(tmp_path_factory) -> Iterator[SSHHost]:
    if not SSHD.exists():
        pytest.fail("sshd is missing, so the hosts tests cannot run: run `bash shell/setup.sh --test`")
    if os.getuid() != 0:
        pytest.fail("the hosts tests run sshd for a second local user, which needs root")
    with running_sshd(tmp_path_factory.mktemp("ssh")) as host:
        yield host


@contextlib.contextmanager
def running_sshd(folder: Path) -> Iterator[SSHHost]:
    """sshd on 127.0.0.1 for the test user, its keys and config in `folder`, until the block ends
    (the benchmarks use it too). Needs root, for the user and the server."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)  # sshd's StrictModes reads the host key's folder
    user = _test_user()
    home = Path(user.pw_dir)
    # What an earlier session set up there (pip's cache stays: it only makes the next setup faster).
    for left in (".local", "orchestra", "projects"):
        shutil.rmtree(home / left, ignore_errors=True)
    _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / "host_key"))
    _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / "id"))
    dot_ssh = home / ".ssh"
    dot_ssh.mkdir(mode=0o700, exist_ok=True)
    authorized = dot_ssh / "authorized_keys"
    authorized.write_text((folder / "id.pub").read_text())
    authorized.chmod(0o600)
    for path in (dot_ssh, authorized):
        os.chown(path, user.pw_uid, user.pw_gid)
    port = free_port()
    (folder / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {folder / 'host_key'}\nPidFile {folder / 'sshd.pid'}\n"
        f"AllowUsers {USER}\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "PubkeyAuthentication yes\nUsePAM no\nStrictModes yes\nPrintMotd no\nAcceptEnv none\n"
        "MaxSessions 50\nMaxStartups 50\n"
    )
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation folder
    server = subprocess.Popen(
        [str(SSHD), "-D", "-e", "-f", str(folder / "sshd_config")],
        stdout=subprocess.DEVNULL,
        stderr=open(folder / "sshd.log", "wb"),  # noqa: SIM115 - the server's own log, open while it runs
    )
    host_key = (folder / "host_key.pub").read_text().split()
    (folder / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}\n")
    config = folder / "ssh_config"
    config.write_text(
        f"Host {ALIAS}\n  HostName 127.0.0.1\n  Port {port}\n  User {USER}\n  IdentityFile {folder / 'id'}\n"
        f"  IdentitiesOnly yes\n  UserKnownHostsFile {folder / 'known_hosts'}\n  StrictHostKeyChecking yes\n"
        "  LogLevel ERROR\n"
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise AssertionError(f"sshd did not start: {(folder / 'sshd.log').read_text()}") from None
            time.sleep(0.05)
    try:
        yield SSHHost(ALIAS, ["-F", str(config)], USER, home, port, config)
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def wheel_cache(tmp_path_factory) -> Path:
    """An XDG_CACHE_HOME for every `hosts setup` of a session: orchestra's wheel, kept there under a
    hash of its sources by the first setup, is built once."""
    return tmp_path_factory.mktemp("wheel-cache")


@pytest.fixture
def shared_wheels(wheel_cache, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(wheel_cache))


@pytest.fixture(scope="session")
def ready_host(ssh_host, tmp_path_factory, wheel_cache) -> SSHHost:
    """`ssh_host` with this checkout's orchestra installed by `orchestra hosts setup`, once a session."""
    import sys

    from support import make_repo

    folder = tmp_path_factory.mktemp("setup")
    home = folder / "home"
    home.mkdir()
    (home / ".gitconfig").write_text("[user]\n\tname = Orchestra Tests\n\temail = tests@orchestra.invalid\n")
    env = {
        **os.environ,
        "HOME": str(home),
        "ORCHESTRA_HOME": str(home / "orchestra-home"),
        "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "TMPDIR": str(folder),
        "XDG_CACHE_HOME": str(wheel_cache),
    }
    env.pop("GIT_DIR", None)
    env["GIT_CONFIG_GLOBAL"] = str(home / ".gitconfig")
    subprocess.run(["git", "config", "--global", "init.defaultBranch", "main"], env=env, check=True)
    old = dict(os.environ)
    os.environ.update(env)
    try:
        repo = make_repo(folder / "setup-project")
    finally:
        os.environ.clear()
        os.environ.update(old)
    (repo / "orchestra.toml").write_text(ssh_host.toml("box", path="projects/setup-project"))
    done = subprocess.run(
        [sys.executable, "-m", "orchestra", "hosts", "setup", "box"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr
    return ssh_host
