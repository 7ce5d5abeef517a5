#!/usr/bin/env bash
# Set up everything the test suite needs on a fresh machine, then run the whole suite.
# Extra arguments go to pytest:  bash shell/test.sh -k spawn -x
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$here/shell/setup.sh" --test
cd "$here"
# The Claude Code that setup.sh installed: tests run it by this path, never a `claude` found on PATH.
export ORCHESTRA_TEST_CLAUDE="${XDG_CACHE_HOME:-$HOME/.cache}/claude-orchestra/claude-code-2.1.328/node_modules/.bin/claude"
exec .venv/bin/python -m pytest "$@"
