"""`[hosts]` and `orchestra hosts`, against a real OpenSSH server on 127.0.0.1 (tests/ssh_support.py)."""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import threading

import pytest

from orchestra import hosts
from orchestra.errors import OrchestraError


def configure(repo, text: str) -> None:
    (repo / "orchestra.toml").write_text(text)


def test_a_host_answers_with_what_it_has(orchestra, repo, ssh_host):
    configure(repo, ssh_host.toml("box"))
    (found,) = json.loads(orchestra("hosts", "--json").stdout)
    assert found["name"] == "box" and found["reachable"] is True and found["error"] is None, found
    assert found["user"] == ssh_host.user and found["home"] == str(ssh_host.home)
    assert found["git"].startswith("git version") and found["tmux"].startswith("tmux 3")
    assert found["python"].startswith("Python 3")
    from orchestra import __version__

    # None until `hosts setup` ran there (this session's remote-agent tests install it too).
    assert found["orchestra"] is None or __version__ in found["orchestra"], found
    assert set(found["agent_clis"]) == set(hosts.AGENT_CLIS)
    shown = orchestra("hosts").stdout
    assert "box" in shown and "yes" in shown and ssh_host.alias in shown


@pytest.fixture
def silent_server():
    """A TCP port that accepts and never says a word: a host whose sshd hangs."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    server.close()


def test_unreachable_hosts_say_why_and_the_others_still_answer(orchestra, repo, ssh_host, silent_server):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    configure(
        repo,
        ssh_host.toml("box")
        + ssh_host.toml("gone", ssh="orchestra-host@127.0.0.1", ssh_args=["-p", str(closed_port)])
        + ssh_host.toml("hung", ssh="orchestra-host@127.0.0.1", ssh_args=["-p", str(silent_server)]),
    )
    found = {h["name"]: h for h in json.loads(orchestra("hosts", "--json").stdout)}
    assert found["box"]["reachable"] is True
    assert found["gone"]["reachable"] is False and "Connection refused" in found["gone"]["error"]
    assert found["hung"]["reachable"] is False and "timed out" in found["hung"]["error"]
    assert "gone" in orchestra("hosts").stdout


@pytest.mark.parametrize(
    ("table", "said"),
    [
        ('[hosts.box]\nssh = "-oProxyCommand=touch /tmp/x"\n', "must name a host"),
        ("[hosts.box]\nssh_args = []\n", "[hosts.box] needs ssh"),
        ('[hosts.box]\nssh = "h"\nforward_env = ["A B"]\n', "is not a variable name"),
        ('[hosts.box]\nssh = "h"\nssh_arg = []\n', "ssh_args"),
        ('[hosts."a b"]\nssh = "h"\n', "may hold only letters"),
        ('[hosts.box]\nssh = "h"\nmax_running = -1\n', "max_running"),
    ],
)
def test_a_bad_host_table_is_one_sentence(orchestra, repo, table, said):
    configure(repo, table)
    result = orchestra("hosts", check=False)
    assert result.returncode == 1 and said in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_setup_installs_this_orchestra_and_pushes_the_target(orchestra, repo, ssh_host, shared_wheels):
    from orchestra import __version__
    from support import git, make_repo

    where = f"projects/{repo.parent.name} one"  # a folder of this test's own, with a space
    configure(repo, ssh_host.toml("box", path=where))
    clone = ssh_host.home / where
    result = orchestra("hosts", "setup", "box", timeout=600)
    assert f"the project's clone is {clone}" in result.stdout
    (found,) = json.loads(orchestra("hosts", "--json").stdout)
    assert __version__ in found["orchestra"], found
    assert git(clone, "-c", "safe.directory=*", "rev-parse", "main") == git(repo, "rev-parse", "main")
    # Again: the target moved on, and the host's clone follows.
    (repo / "new.txt").write_text("x\n")
    git(repo, "add", "new.txt")
    git(repo, "commit", "-qm", "more")
    again = orchestra("hosts", "setup", "box", timeout=600)
    assert "already had this very wheel installed" in again.stdout  # the same build: only the push
    assert git(clone, "-c", "safe.directory=*", "rev-parse", "main") == git(repo, "rev-parse", "main")
    # Another project's clone at that path is never overwritten.
    other = repo.parent / "other"
    make_repo(other)
    (other / "orchestra.toml").write_text(ssh_host.toml("box", path=where))
    refused = orchestra("hosts", "setup", "box", cwd=other, check=False, timeout=600)
    assert refused.returncode == 1 and "is it another project's?" in refused.stderr, refused.stderr
    assert git(clone, "-c", "safe.directory=*", "rev-parse", "main") == git(repo, "rev-parse", "main")
    shutil.rmtree(clone.parent)


def test_setup_of_a_host_not_configured_is_one_sentence(orchestra, repo, ssh_host):
    configure(repo, ssh_host.toml("box"))
    result = orchestra("hosts", "setup", "nope", check=False)
    assert result.returncode == 1 and result.stderr.strip() == (
        "orchestra: no host named 'nope' in [hosts] of orchestra.toml (hosts: box)."
    )


@contextlib.contextmanager
def no_index_for(host):
    """pip's configuration of the host's user, for the block only, naming an index where nothing
    listens: a setup whose pip asks an index fails."""
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    made = [path for path in (host.home / ".config", host.home / ".config" / "pip") if not path.exists()]
    for path in made:
        path.mkdir()
    conf = host.home / ".config" / "pip" / "pip.conf"
    kept = conf.read_bytes() if conf.exists() else None
    conf.write_text(f"[global]\nindex-url = http://127.0.0.1:{port}/simple\nretries = 0\ntimeout = 5\n")
    try:
        yield
    finally:
        if kept is None:
            conf.unlink()
        else:
            conf.write_bytes(kept)
        for path in reversed(made):
            path.rmdir()


def on_host(host, *argv: str, script: str = "") -> subprocess.CompletedProcess:
    """`argv` run on the host (words without spaces: the remote shell splits them), `script` its input."""
    return subprocess.run(
        ["ssh", *host.ssh_args, "-o", "BatchMode=yes", host.alias, *argv],
        input=script,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_setup_offline_installs_dependencies_made_here_and_asks_no_index(
    orchestra, repo, ssh_host, tmp_path, shared_wheels
):
    from orchestra import __version__, wheels
    from support import git

    where = f"projects/{repo.parent.name}"
    configure(repo, ssh_host.toml("box", path=where))
    venv = ssh_host.home / hosts.REMOTE_VENV
    shutil.rmtree(venv, ignore_errors=True)  # a host with neither orchestra nor its dependencies
    python = f"{hosts.REMOTE_VENV}/bin/python"
    with no_index_for(ssh_host):
        # Without --offline, pip there asks the index that is not there: the setup fails.
        asked = orchestra("hosts", "setup", "box", check=False, timeout=600)
        assert (
            asked.returncode == 1 and "setting up host 'box' failed: ERROR: No matching distribution" in asked.stderr
        ), asked.stderr
        nothing = on_host(ssh_host, python, "-", script="import click")
        assert "No module named 'click'" in nothing.stderr, "nothing came from an index"
        # A wheel for another platform: pip there refuses it, and the setup says why in one sentence.
        built = tmp_path / "built"
        built.mkdir()
        wheel = wheels.build_wheel(built)
        made = wheels.dependency_wheels(built)
        (compiled,) = [w for w in made if w.name.startswith("pydantic_core-")]
        elsewhere = compiled.rename(built / f"{compiled.name.split('-cp')[0]}-cp311-cp311-win_amd64.whl")
        box = hosts.configured({"box": {"ssh": ssh_host.alias, "ssh_args": ssh_host.ssh_args, "path": where}})["box"]
        others = [w for w in made if w != compiled]
        with pytest.raises(OrchestraError) as refused:
            hosts.setup(box, repo, ["main"], wheel, [*others, elsewhere])
        said = str(refused.value)
        assert said.startswith(
            "pip on host 'box' cannot install the wheels copied from here (none fits pydantic-core"
        ), said
        assert "need the host's Python version and platform to match this machine's" in said and "\n" not in said
        # With --offline: every dependency from here, no index asked, nothing left of the copies.
        result = orchestra("hosts", "setup", "box", "--offline", timeout=600)
    assert f"copying {len(made)} dependencies to box" in result.stdout, result.stdout
    assert "already had" not in result.stdout  # a host without orchestra installs it
    assert f"the project's clone is {ssh_host.home / where}" in result.stdout
    (found,) = json.loads(orchestra("hosts", "--json").stdout)
    assert __version__ in found["orchestra"], found
    imported = on_host(
        ssh_host, python, "-", script="import fastapi, mcp, pydantic_core, uvicorn, websockets, orchestra.cli"
    )
    assert imported.returncode == 0, imported.stderr
    checked = on_host(ssh_host, python, "-m", "pip", "check")
    assert checked.returncode == 0 and "No broken requirements" in checked.stdout, checked.stdout + checked.stderr
    assert list((ssh_host.home / hosts.OFFLINE_WHEELS).iterdir()) == []
    assert git(ssh_host.home / where, "-c", "safe.directory=*", "rev-parse", "main") == git(repo, "rev-parse", "main")
    shutil.rmtree(ssh_host.home / where)
