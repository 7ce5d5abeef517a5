#!/usr/bin/env bash
# Set up everything the test suite needs on a fresh machine, check the conventions the tools hold
# (docs/architecture.md, "Conventions"), then run the whole suite.
# Extra arguments go to pytest:  bash shell/test.sh -k spawn -x
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$here/shell/setup.sh" --test
cd "$here"
bin="$here/.venv/bin"
"$bin/ruff" check --quiet .
"$bin/ruff" format --check --quiet .
"$bin/mypy"
"$bin/lint-imports" --no-cache
# The Claude Code that setup.sh installed: tests run it by this path, never a `claude` found on PATH.
export ORCHESTRA_TEST_CLAUDE="${XDG_CACHE_HOME:-$HOME/.cache}/claude-orchestra/claude-code-2.1.328/node_modules/.bin/claude"
# pytest's exit code is the script's: 5 (no tests collected) fails like any other.
exec "$bin/python" -m pytest "$@"
