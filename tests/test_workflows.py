"""The GitHub workflows: valid by GitHub's own workflow schema, and running what CI here runs.

They cannot run on this machine, so they are checked the way GitHub would read them: against
the workflow schema that check-jsonschema carries (no network), then for what they must do.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def schema_check(*paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_workflow_is_valid_by_githubs_schema(tmp_path):
    assert [p.name for p in WORKFLOWS] == ["release.yml", "tests.yml"]
    result = schema_check(*WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr
    broken = tmp_path / "broken.yml"  # the check can fail: a job without runs-on
    broken.write_text("name: x\non: push\njobs:\n  a:\n    steps:\n      - run: echo\n")
    result = schema_check(broken)
    assert result.returncode == 1 and "'runs-on' is a required property" in result.stdout


def test_the_tests_workflow_runs_the_ci_command_on_every_supported_python():
    workflow = (ROOT / ".github" / "workflows" / "tests.yml").read_text()
    assert "exec bash shell/test.sh" in (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^\s+run: bash shell/test\.sh$", workflow, re.MULTILINE)
    [matrix] = re.findall(r"python: \[(.*)\]", workflow)
    lowest = re.search(r'requires-python = ">=3\.(\d+)"', (ROOT / "pyproject.toml").read_text()).group(1)
    assert [v.strip(' "') for v in matrix.split(",")] == [f"3.{n}" for n in range(int(lowest), 14)]


def test_release_publishes_with_trusted_publishing_and_no_stored_token():
    workflow = (ROOT / ".github" / "workflows" / "release.yml").read_text()
    assert "id-token: write" in workflow and "pypa/gh-action-pypi-publish" in workflow
    assert "password" not in workflow and "secrets." not in workflow
    assert "twine check --strict" in workflow
