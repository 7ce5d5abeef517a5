"""The other agent CLIs orchestra bundles a kind for, pinned, by path: fixtures that find or install them.

    def test_x(agent_clis): agent_clis["codex"]  # the argument list that starts the CLI

Each is installed once into the cache folder that shell/setup.sh uses (npm for codex, gemini
and opencode; a virtual environment of its own for aider), beside its final folder and then
renamed, so a cut-off install never leaves a half folder.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from claude_support import claude_code_folder

# shell/setup.sh names the same versions and folders.
NPM_CLIS = {
    "codex": ("codex-0.169.0", "@openai/codex@0.169.0", "codex"),
    "gemini": ("gemini-cli-0.61.0", "@google/gemini-cli@0.61.0", "gemini"),
    "opencode": ("opencode-1.18.33", "opencode-ai@1.18.33", "opencode"),
}
AIDER = ("aider-0.86.2", "aider-chat==0.86.2")
CACHE = claude_code_folder().parent


def _install_beside(folder: Path, fill) -> None:
    folder.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f"{folder.name}.partial.", dir=folder.parent))
    try:
        fill(partial)
        partial.chmod(0o755)
        partial.rename(folder)
    except subprocess.CalledProcessError as error:
        pytest.fail(f"could not install into {folder}:\n{error.stderr}")
    except OSError:
        if not folder.exists():  # else another run got there first
            raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def npm_cli(name: str) -> Path:
    folder_name, package, program = NPM_CLIS[name]
    folder = CACHE / folder_name
    path = folder / "node_modules" / ".bin" / program
    if not path.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail(f"npm is missing, so {package} cannot be installed: run `bash shell/setup.sh --test`")
        _install_beside(
            folder,
            lambda partial: subprocess.run(
                [
                    npm,
                    "install",
                    "--prefix",
                    str(partial),
                    "--no-audit",
                    "--no-fund",
                    "--no-update-notifier",
                    "--loglevel=error",
                    package,
                ],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                check=True,
                timeout=600,
            ),
        )
    return path


def aider_python() -> Path:
    """aider's own interpreter: its console script would keep the install folder's old name."""
    folder = CACHE / AIDER[0]
    python = folder / "bin" / "python"
    if not python.exists():

        def fill(partial: Path) -> None:
            subprocess.run([sys.executable, "-m", "venv", str(partial)], capture_output=True, text=True, check=True)
            subprocess.run(
                [str(partial / "bin" / "python"), "-m", "pip", "install", "--quiet", AIDER[1]],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                check=True,
                timeout=900,
            )

        _install_beside(folder, fill)
    return python


@pytest.fixture(scope="session")
def agent_clis() -> dict[str, list[str]]:
    """Each bundled kind's pinned CLI as the `command` for orchestra.toml, by absolute path."""
    commands = {name: [str(npm_cli(name))] for name in NPM_CLIS}
    commands["aider"] = [str(aider_python()), "-m", "aider"]
    return commands
