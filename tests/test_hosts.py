"""`[hosts]` and `orchestra hosts`, against a real OpenSSH server on 127.0.0.1 (tests/ssh_support.py)."""

from __future__ import annotations

import json
import shutil
import socket
import threading

import pytest

from orchestra import hosts


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
def test_setup_installs_this_orchestra_and_pushes_the_target(orchestra, repo, ssh_host):
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
    orchestra("hosts", "setup", "box", timeout=600)
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
