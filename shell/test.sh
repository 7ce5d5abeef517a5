#!/usr/bin/env bash
# Set up everything the test suite needs on a fresh machine, then run the whole suite.
# Extra arguments go to pytest:  bash shell/test.sh -k spawn -x
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$here/shell/setup.sh" --test
cd "$here"
exec .venv/bin/python -m pytest "$@"
