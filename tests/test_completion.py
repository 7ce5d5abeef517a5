"""Shell completion: the real bash, zsh and fish, with orchestra's script loaded, offer the
commands, options, agent names, agent kinds and plugins; `orchestra completion` prints and
installs the scripts."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from test_plugin_admin import fake_distribution

SHIPPED = Path(__file__).parent.parent / "shell" / "completion"
SCRIPTS = {"bash": SHIPPED / "orchestra.bash", "zsh": SHIPPED / "_orchestra", "fish": SHIPPED / "orchestra.fish"}
BIN = Path(sys.executable).parent  # the venv's bin, with the `orchestra` console script

# What each shell must offer for a command line (the cursor at its end), checked in one world
# with two demo agents, a kind configured in orchestra.toml, codex disabled and a third-party plugin.
EXPECTED = {
    "orchestra att": ["attach"],
    "orchestra sess": ["sessions"],  # a plugin's command (the claude plugin's)
    "orchestra spawn --ag": ["--agent"],
    "orchestra attach ": ["task-one", "task-two"],
    "orchestra kill task-one ": ["task-two"],
    "orchestra pr ": ["task-one", "task-two"],
    "orchestra spawn --agent ": ["claude", "aider", "gemini", "opencode", "command", "demo", "mine"],
    "orchestra spawn --agent d": ["demo"],
    "orchestra plugins uninstall ": ["probe"],
    "orchestra completion ": ["bash", "zsh", "fish"],
}
SORTED = {line: sorted(candidates) for line, candidates in EXPECTED.items()}  # fish sorts what it shows


def needs(program: str) -> str:
    path = shutil.which(program)
    assert path, f"{program} is not installed: run `bash shell/setup.sh --test`"
    return path


@pytest.fixture
def world(orchestra, repo, tmp_path, monkeypatch) -> dict[str, str]:
    """The environment for a shell in `repo`: two agents, a configured kind, a plugin, orchestra on PATH."""
    assert (BIN / "orchestra").exists(), f"no orchestra console script beside {sys.executable}"
    (repo / "orchestra.toml").write_text(
        '[agents.mine]\ncommand = ["true", "{task}"]\n\n[plugins]\ndisabled = ["codex"]\n'
    )
    fake_distribution(tmp_path / "site", "probe_plugin", "", "probe")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "site"))
    orchestra("spawn", "--agent", "demo", "--no-attach", "task one", "task two")
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}


def run(argv: list[str], cwd: Path, env: dict, timeout: float = 30) -> str:
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{argv[0]} exited {result.returncode}: {result.stderr}{result.stdout}"
    return result.stdout


# -- the three shells, driven as a person would -----------------------------------------------


def bash_candidates(line: str, cwd: Path, env: dict, load: str) -> list[str]:
    """COMPREPLY after bash ran orchestra's completion function on `line`."""
    words = line.split(" ")
    code = (
        f"{load}\n"
        f"COMP_WORDS=({' '.join(shlex.quote(w) for w in words)}); COMP_CWORD={len(words) - 1}\n"
        f"COMP_LINE={shlex.quote(line)}; COMP_POINT=${{#COMP_LINE}}\n"
        f"_orchestra_completion orchestra {shlex.quote(words[-1])} {shlex.quote(words[-2])}\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    return run([needs("bash"), "--norc", "--noprofile", "-c", code], cwd, env).split()


def fish_candidates(line: str, cwd: Path, env: dict, source: Path | None) -> list[str]:
    """What `complete -C` (fish's own completion of a command line) offers; without `source`,
    fish must find the script by itself."""
    complete = "complete -C $ORCHESTRA_LINE"
    load = ["--no-config", "-c", f"source $ORCHESTRA_SCRIPT; {complete}"] if source else ["-c", complete]
    env = {**env, "ORCHESTRA_LINE": line, "ORCHESTRA_SCRIPT": str(source)}
    return [entry.split("\t")[0] for entry in run([needs("fish"), *load], cwd, env).splitlines()]


# An interactive zsh in a pseudo-terminal (zsh/zpty): the line is typed, then TAB. `compadd` is
# wrapped to print each match it adds, and TAB prints a marker once completion has finished.
ZSH_DRIVER = r"""
zmodload zsh/zpty
zpty -b interactive zsh $ZSH_FLAGS
zpty -w interactive "source ${(q)ZSH_HARNESS}"
zpty -w -n interactive "$ORCHESTRA_LINE"$'\t'
zpty -r interactive output '*CAPTURE-DONE*'
print -r -- $output
zpty -d interactive
"""
ZSH_HARNESS = r"""
PROMPT='' RPROMPT=''
autoload -Uz compinit && compinit -u -D
compadd() {
  if (( ${@[(I)-[OAD]]} )); then builtin compadd "$@"; return; fi
  local -a hits; builtin compadd -A hits "$@"
  local h; for h in $hits; do print -r -- "CANDIDATE:$h"; done
  builtin compadd "$@"
}
capture-complete() { zle complete-word; print -r -- 'CAPTURE-DONE' }
zle -N capture-complete
bindkey '^I' capture-complete
"""


def zsh_candidates(line: str, cwd: Path, env: dict, tmp_path: Path, source: Path | None) -> list[str]:
    """What zsh's completion system adds for `line`: with `source`, in a zsh without rc files that
    sources the script; without it, in a zsh that reads ~/.zshrc and must find `_orchestra` itself."""
    harness = tmp_path / "harness.zsh"
    harness.write_text(ZSH_HARNESS + (f"source {shlex.quote(str(source))}\n" if source else ""))
    flags = "-f -i" if source else "-d -i"  # -d: no /etc/zsh files, only the user's
    env = {**env, "ORCHESTRA_LINE": line, "ZSH_HARNESS": str(harness), "ZSH_FLAGS": flags, "ZDOTDIR": env["HOME"]}
    output = run([needs("zsh"), "-f", "-c", ZSH_DRIVER.replace("$ZSH_FLAGS", flags)], cwd, env)
    return [part.split("\r")[0].split("\n")[0] for part in output.split("CANDIDATE:")[1:]]


def test_bash_offers_commands_options_agents_kinds_and_plugins(world, repo):
    load = f"source {shlex.quote(str(SCRIPTS['bash']))}"
    offered = {line: sorted(bash_candidates(line, repo, world, load)) for line in EXPECTED}
    assert offered == SORTED


def test_fish_offers_commands_options_agents_kinds_and_plugins(world, repo):
    offered = {line: sorted(fish_candidates(line, repo, world, SCRIPTS["fish"])) for line in EXPECTED}
    assert offered == SORTED


def test_zsh_offers_commands_options_agents_kinds_and_plugins(world, repo, tmp_path):
    offered = {line: sorted(zsh_candidates(line, repo, world, tmp_path, SCRIPTS["zsh"])) for line in EXPECTED}
    assert offered == SORTED


def test_agent_names_come_from_the_repository_the_shell_is_in(world, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    load = f"source {shlex.quote(str(SCRIPTS['bash']))}"
    assert bash_candidates("orchestra attach ", elsewhere, world, load) == []


# -- orchestra completion: printing and installing ---------------------------------------------


@pytest.mark.parametrize("shell", sorted(SCRIPTS))
def test_the_shipped_scripts_are_what_orchestra_completion_prints(orchestra, shell):
    printed = orchestra("completion", shell).stdout
    assert printed == SCRIPTS[shell].read_text(), f"regenerate it: orchestra completion {shell} > {SCRIPTS[shell]}"


def test_without_a_shell_it_falls_back_to_the_SHELL_variable(monkeypatch, capsys):
    import shellingham

    from orchestra.cli import main

    monkeypatch.setattr(shellingham, "detect_shell", _undetectable)
    monkeypatch.setenv("SHELL", "/usr/local/bin/fish")
    main(["completion"])
    assert capsys.readouterr().out == SCRIPTS["fish"].read_text()


def test_a_shell_that_cannot_be_detected_must_be_named(monkeypatch, capsys):
    import shellingham

    from orchestra.cli import main

    monkeypatch.setattr(shellingham, "detect_shell", _undetectable)
    monkeypatch.delenv("SHELL", raising=False)
    with pytest.raises(SystemExit) as exited:
        main(["completion", "--install"])
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert err == "orchestra: cannot tell which shell this is: name it, as in `orchestra completion bash|zsh|fish`.\n"
    assert nothing_installed()


def nothing_installed() -> bool:
    home = Path.home()
    places = [home / ".local/share/bash-completion", home / ".zfunc", home / ".zshrc", home / ".config/fish"]
    return not any(place.exists() for place in places)


def _undetectable(*args, **kwargs):
    import shellingham

    raise shellingham.ShellDetectionFailure()


def test_an_unsupported_shell_is_refused(capsys):
    from orchestra.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["completion", "tcsh", "--install"])
    assert exited.value.code == 1
    said = capsys.readouterr()
    assert said.out == ""
    assert said.err == (
        "orchestra: completion is available for bash, zsh and fish, not tcsh: "
        "name one, as in `orchestra completion bash|zsh|fish`.\n"
    )
    assert nothing_installed()


def test_a_read_only_completion_folder_says_where_to_put_the_script(tmp_path, monkeypatch, capsys):
    from orchestra.cli import main

    data = tmp_path / "data"
    folder = data / "bash-completion"
    folder.mkdir(parents=True)
    if os.geteuid() == 0:  # root writes into read-only folders: a file where the folder should be
        (folder / "completions").write_text("")
    folder.chmod(0o555)
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    try:
        with pytest.raises(SystemExit) as exited:
            main(["completion", "bash", "--install"])
    finally:
        folder.chmod(0o755)
    target = folder / "completions" / "orchestra"
    said = capsys.readouterr()
    assert exited.value.code == 1 and said.out == ""
    assert said.err.startswith(f"orchestra: cannot write {target} (")
    assert said.err.endswith(f"put the script there yourself with `orchestra completion bash > {target}`.\n")
    assert sorted(p.name for p in folder.iterdir()) == (["completions"] if os.geteuid() == 0 else [])


def unchanged(target: Path) -> str:
    return f"already installed: {target} is up to date, nothing changed\n"


def test_bash_install_is_found_by_bash_completion_and_a_second_run_changes_nothing(world, orchestra, repo):
    first = orchestra("completion", "bash", "--install").stdout
    target = Path.home() / ".local" / "share" / "bash-completion" / "completions" / "orchestra"
    assert first.startswith(f"wrote {target}\nopen a new shell")
    assert orchestra("completion", "bash", "--install").stdout == unchanged(target)
    bash_completion = Path("/usr/share/bash-completion/bash_completion")
    assert bash_completion.exists(), "bash-completion is not installed: run `bash shell/setup.sh --test`"
    load = f"source {bash_completion}; __load_completion orchestra || exit 3"
    assert bash_candidates("orchestra attach ", repo, world, load) == ["task-one", "task-two"]


def test_fish_install_is_found_by_fish(world, orchestra, repo):
    orchestra("completion", "fish", "--install")
    target = Path(os.environ["XDG_CONFIG_HOME"]) / "fish" / "completions" / "orchestra.fish"
    assert target.read_text() == SCRIPTS["fish"].read_text()
    assert fish_candidates("orchestra attach ", repo, world, source=None) == ["task-one", "task-two"]
    assert "nothing changed" in orchestra("completion", "fish", "--install").stdout


def test_zsh_install_adds_one_fpath_line_before_compinit_once(world, orchestra, repo, tmp_path):
    zshrc = Path.home() / ".zshrc"
    zshrc.write_text("# my settings\nautoload -Uz compinit\ncompinit\n")
    said = orchestra("completion", "zsh", "--install").stdout
    target = Path.home() / ".zfunc" / "_orchestra"
    assert said.startswith(f"wrote {target} and added the line that puts ~/.zfunc on zsh's fpath to {zshrc}\n")
    lines = zshrc.read_text().splitlines()
    assert lines[1:] == ["# my settings", "autoload -Uz compinit", "compinit"]
    assert lines[0].startswith("fpath=(~/.zfunc $fpath)  # added by `orchestra completion --install`")
    assert orchestra("completion", "zsh", "--install").stdout == unchanged(target)
    assert zshrc.read_text().count(".zfunc") == 1
    assert zsh_candidates("orchestra attach ", repo, world, tmp_path, source=None) == ["task-one", "task-two"]


def test_zsh_install_leaves_a_zshrc_alone_that_already_uses_zfunc(capsys):
    from orchestra.cli import main

    zshrc = Path.home() / ".zshrc"
    zshrc.write_text("fpath+=~/.zfunc\nautoload -Uz compinit && compinit\n")
    main(["completion", "zsh", "--install"])
    said = capsys.readouterr().out
    assert said == f"wrote {Path.home() / '.zfunc' / '_orchestra'}\nopen a new shell to use it\n"
    assert zshrc.read_text() == "fpath+=~/.zfunc\nautoload -Uz compinit && compinit\n"


# -- the installing itself, in-process (orchestra.completion_install) --------------------------


def test_each_shell_has_its_place_and_the_xdg_folders_move_it(monkeypatch):
    from orchestra.completion_install import script_path

    home = Path.home()
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    assert script_path("bash") == home / ".local/share/bash-completion/completions/orchestra"
    assert script_path("zsh") == home / ".zfunc/_orchestra"
    assert script_path("fish") == home / ".config/fish/completions/orchestra.fish"
    monkeypatch.setenv("XDG_DATA_HOME", "/data")
    monkeypatch.setenv("XDG_CONFIG_HOME", "/config")
    assert script_path("bash") == Path("/data/bash-completion/completions/orchestra")
    assert script_path("fish") == Path("/config/fish/completions/orchestra.fish")


def test_install_writes_once_and_says_what_it_changed(monkeypatch):
    from orchestra.completion_install import ZSHRC_LINE, install_script, supported

    zdotdir = Path.home() / "zdot"
    zdotdir.mkdir()
    monkeypatch.setenv("ZDOTDIR", str(zdotdir))
    first = install_script(supported("zsh"), "#compdef orchestra\n")
    assert (first.path, first.wrote, first.rc) == (Path.home() / ".zfunc/_orchestra", True, zdotdir / ".zshrc")
    assert first.compinit_missing and first.path.read_text() == "#compdef orchestra\n"
    assert (zdotdir / ".zshrc").read_text() == ZSHRC_LINE + "\n"
    again = install_script("zsh", "#compdef orchestra\n")
    assert (again.wrote, again.rc) == (False, None)
    (zdotdir / ".zshrc").write_text("# mine\n" + ZSHRC_LINE + "\ncompinit\n")
    changed = install_script("zsh", "#compdef orchestra, newer\n")
    assert (changed.wrote, changed.rc, changed.compinit_missing) == (True, None, False)
    assert (zdotdir / ".zshrc").read_text().count(".zfunc") == 1
    fish = install_script("fish", "complete -c orchestra\n")
    assert fish.wrote and fish.rc is None and not fish.compinit_missing
    assert not (Path.home() / ".zshrc").exists()


def test_a_zshrc_that_cannot_be_changed_is_left_with_the_line_to_add(monkeypatch):
    from orchestra.completion_install import ZSHRC_LINE, install_script
    from orchestra.errors import OrchestraError

    zdotdir = Path.home() / "readonly"
    zdotdir.mkdir()
    monkeypatch.setenv("ZDOTDIR", str(zdotdir))
    if os.geteuid() == 0:  # root writes anywhere: a folder where the file should be
        (zdotdir / ".zshrc").mkdir()
    zdotdir.chmod(0o555)
    try:
        with pytest.raises(OrchestraError) as raised:
            install_script("zsh", "#compdef orchestra\n")
    finally:
        zdotdir.chmod(0o755)
    assert str(raised.value).startswith(f"cannot change {zdotdir / '.zshrc'} (")
    assert str(raised.value).endswith(f"add the line `{ZSHRC_LINE}` before compinit in it yourself.")
