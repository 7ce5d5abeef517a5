"""The scripts in shell/: shellcheck on every one, the short forms in bash, zsh and fish, and
install.sh on a PATH without package managers or with stand-ins that record what they are asked."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from orchestra.state import State

SHELL = Path(__file__).parent.parent / "shell"
SCRIPTS = sorted({*SHELL.glob("*.sh"), *SHELL.glob("**/*.bash")})
INSTALL = SHELL / "install.sh"
SHORT_FORMS = {
    "osp": ["spawn"],
    "ols": ["ls"],
    "oup": ["up"],
    "oat": ["attach"],
    "owa": ["attach", "--next", "--waiting"],
    "olg": ["logs"],
    "osd": ["send"],
    "odf": ["diff"],
    "omg": ["merge"],
    "okl": ["kill"],
    "ocl": ["clean"],
    "ors": ["resume"],
    "oev": ["events", "--follow"],
}
AWKWARD = ["two words", "$(echo no)", "", "'quoted'", "-x", "*"]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(SHELL)))
def test_shellcheck_passes(script):
    if shutil.which("shellcheck") is None:
        pytest.fail("shellcheck is not installed: bash shell/setup.sh --test installs it")
    result = subprocess.run(["shellcheck", "--format=gcc", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


# -- short forms ----------------------------------------------------------------------------


@pytest.fixture
def fake_orchestra(tmp_path, monkeypatch):
    """An `orchestra` first on PATH that appends its arguments, as a JSON list, to a file."""
    folder = tmp_path / "fake-bin"
    folder.mkdir()
    log = tmp_path / "orchestra-calls"
    script = folder / "orchestra"
    script.write_text(
        f"#!{sys.executable}\nimport json, sys\nopen({str(log)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n"
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return lambda: [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def _calls_script(shell: str) -> str:
    quote = (
        (lambda a: "'" + a.replace("'", "'\\''") + "'")
        if shell != "fish"
        else (lambda a: json.dumps(a).replace("$", "\\$"))
    )
    awkward = " ".join(quote(a) for a in AWKWARD)
    return "\n".join(f"{name} {awkward}" for name in SHORT_FORMS)


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_short_forms_pass_their_arguments_untouched(shell, fake_orchestra, tmp_path):
    if shutil.which(shell) is None:
        pytest.fail(f"{shell} is not installed: bash shell/setup.sh --test installs it")
    aliases = SHELL / ("aliases.fish" if shell == "fish" else "aliases.sh")
    flags = ["--no-config"] if shell == "fish" else (["-f"] if shell == "zsh" else ["--norc"])
    script = f"source {aliases}\n{_calls_script(shell)}\n"
    result = subprocess.run([shell, *flags, "-c", script], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert fake_orchestra() == [[*words, *AWKWARD] for words in SHORT_FORMS.values()]


@pytest.fixture
def recorded_agents(repo):
    """Two agents in the state file, as completion reads them (it never asks tmux)."""
    with State(repo / ".git" / "orchestra").update_raw() as agents:
        for name in ("fix-login", "write-tests"):
            agents[name] = {"name": name, "status": "running", "task": name.replace("-", " ")}
    return repo


def test_bash_completes_short_forms_like_their_commands(recorded_agents, monkeypatch):
    completion = SHELL / "completion" / "orchestra.bash"
    if not completion.exists():
        pytest.skip("shell/completion/orchestra.bash is not there yet")
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    script = f"""
        source {SHELL / "aliases.sh"}
        complete -p oat owa
        COMP_WORDS=(oat "w"); COMP_CWORD=1; COMPREPLY=()
        _orchestra_short_complete oat w oat
        echo "oat: ${{COMPREPLY[*]}}"
        COMP_WORDS=(osp --ag); COMP_CWORD=1; COMPREPLY=()
        _orchestra_short_complete osp --ag osp
        echo "osp: ${{COMPREPLY[*]}}"
    """
    # The completion script is not loaded: the short forms load it from shell/completion/ themselves.
    result = subprocess.run(["bash", "--norc", "-c", script], cwd=recorded_agents, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "complete -o nosort -F _orchestra_short_complete oat" in result.stdout
    assert "oat: write-tests\n" in result.stdout and "osp: --agent\n" in result.stdout


def test_fish_completes_short_forms_like_their_commands(recorded_agents, monkeypatch):
    completion = SHELL / "completion" / "orchestra.fish"
    if not completion.exists():
        pytest.skip("shell/completion/orchestra.fish is not there yet")
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    script = f"source {completion}; source {SHELL / 'aliases.fish'}; complete -C 'oat '"
    result = subprocess.run(["fish", "--no-config", "-c", script], cwd=recorded_agents, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert [line.split("\t")[0] for line in result.stdout.splitlines()] == ["fix-login", "write-tests"]


def test_zsh_registers_the_short_forms_with_compinit(tmp_path):
    script = f"autoload -Uz compinit; compinit -u -d {tmp_path}/zcompdump; source {SHELL / 'aliases.sh'}; print -r -- $_comps[oat] $_comps[oev]"
    result = subprocess.run(["zsh", "-f", "-c", script], capture_output=True, text=True)
    assert result.stdout == "_orchestra_short_complete _orchestra_short_complete\n", result.stderr


# -- install.sh -------------------------------------------------------------------------------

BASICS = ["bash", "env", "id", "dirname", "sed", "cat"]


def _bin(tmp_path: Path, tools: list[str]) -> Path:
    """A folder for PATH with only these real programs in it."""
    folder = tmp_path / "path-bin"
    folder.mkdir(exist_ok=True)
    for tool in tools:
        real = shutil.which(tool)
        assert real, f"{tool} is needed for this test"
        if not (folder / tool).exists():
            (folder / tool).symlink_to(real)
    return folder


def _recorder(folder: Path, name: str, log: Path, then: str = "") -> None:
    """A stand-in program that appends its arguments (as a JSON list) to `log`, then runs `then`."""
    (folder / name).write_text(
        f"#!{sys.executable}\nimport json, os, sys\n"
        f"open({str(log)!r}, 'a').write(json.dumps([{name!r}, *sys.argv[1:]]) + '\\n')\n{then}\n"
    )
    (folder / name).chmod(0o755)


def _calls(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def _install(tmp_path: Path, *args: str, path: Path) -> subprocess.CompletedProcess:
    home = tmp_path / "home"
    env = {"PATH": str(path), "HOME": str(home), "PYTHON": "python3-is-not-here"}
    return subprocess.run(["/bin/bash", str(INSTALL), *args], env=env, capture_output=True, text=True, timeout=60)


def test_install_without_a_package_manager_says_what_to_install_by_hand(tmp_path):
    result = _install(tmp_path, path=_bin(tmp_path, BASICS))
    assert result.returncode == 1
    assert "no known package manager (apt-get, dnf, pacman, apk, brew): install tmux git by hand" in result.stderr


# What `pipx install` leaves behind: an `orchestra` in ~/.local/bin that records its own calls.
PIPX_INSTALLS = (
    "bin = os.path.join(os.environ['HOME'], '.local', 'bin')\n"
    "os.makedirs(bin, exist_ok=True)\n"
    "target = os.path.join(bin, 'orchestra')\n"
    "open(target, 'w').write(open(os.path.join(os.path.dirname(sys.argv[0]), 'orchestra-template')).read())\n"
    "os.chmod(target, 0o755)\n"
)


@pytest.fixture
def pipx_path(tmp_path):
    """PATH with the basics, tmux, git and a stand-in pipx; returns (PATH folder, call log)."""
    folder = _bin(tmp_path, [*BASICS, "tmux", "git"])
    log = tmp_path / "calls"
    _recorder(folder, "pipx", log, then=PIPX_INSTALLS)
    _recorder(folder, "orchestra-template", log)
    template = (folder / "orchestra-template").read_text().replace("'orchestra-template'", "'orchestra'")
    (folder / "orchestra-template").write_text(template)
    return folder, log


def test_install_with_pipx_then_completion_and_again(tmp_path, pipx_path):
    folder, log = pipx_path
    for _ in range(2):  # a second run does the same, without failing
        result = _install(tmp_path, path=folder)
        assert result.returncode == 0, result.stderr
        assert "tmux and git are installed" in result.stderr
        assert f"note: {tmp_path / 'home' / '.local' / 'bin'} is not on your PATH" in result.stderr
        assert (
            f"source {SHELL / 'aliases.sh'}" in result.stderr and f"source-file {SHELL / 'tmux.conf'}" in result.stderr
        )
    install = ["pipx", "install", "--force", "claude-orchestra"]
    assert _calls(log) == [install, ["orchestra", "completion", "--install"]] * 2


def test_install_from_a_checkout(tmp_path, pipx_path):
    folder, log = pipx_path
    checkout = SHELL.parent
    result = _install(tmp_path, "--from", str(checkout / "shell" / ".."), path=folder)
    assert result.returncode == 0, result.stderr
    assert _calls(log)[0] == ["pipx", "install", "--force", str(checkout.resolve())]
    result = _install(tmp_path, "--from", str(tmp_path), path=folder)
    assert result.returncode == 1 and "is not a checkout of claude-orchestra" in result.stderr


def test_install_leaves_an_installed_orchestra_and_goes_on_when_completion_fails(tmp_path, pipx_path):
    folder, log = pipx_path
    _recorder(folder, "orchestra", log, then="sys.exit(0 if sys.argv[1:] == ['--version'] else 3)")
    result = _install(tmp_path, path=folder)
    assert result.returncode == 0, result.stderr
    assert "orchestra is installed" in result.stderr
    assert "note: shell completion was not installed" in result.stderr
    assert _calls(log) == [["orchestra", "--version"], ["orchestra", "completion", "--install"]]


def test_install_gets_tmux_from_the_package_manager(tmp_path, pipx_path):
    folder, log = pipx_path
    (folder / "tmux").unlink()
    _recorder(folder, "apt-get", log)
    _recorder(folder, "sudo", log, then="os.execvp(sys.argv[1], sys.argv[1:])")
    result = _install(tmp_path, path=folder)
    assert result.returncode == 0, result.stderr
    apt = [c for c in _calls(log) if c[0] == "apt-get"]
    assert apt == [["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "tmux"]]
