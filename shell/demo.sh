#!/usr/bin/env bash
# Set up orchestra on a fresh machine, then run `orchestra demo`: a throwaway repository with
# three scripted agents, no API key needed. Extra arguments go to `orchestra demo`.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$here/shell/setup.sh"
exec "$here/.venv/bin/orchestra" demo "$@"
