#!/usr/bin/env bash
# Install orchestra for your user: tmux and git when missing (with the system's package manager:
# apt-get, dnf, pacman, apk or brew; as root or through sudo), then orchestra itself (with pipx
# when it is there, else `python3 -m pip install --user`), then its shell completion.
# Safe to run again: it skips what is already in place.
#
#   bash shell/install.sh                  orchestra from PyPI (claude-orchestra)
#   bash shell/install.sh --from PATH      orchestra from a checkout, installed again each time
set -euo pipefail

package="claude-orchestra"
here="$(cd "$(dirname "${BASH_SOURCE[0]:-.}")" && pwd)"

say() { printf 'install: %s\n' "$*" >&2; }

usage() {
    sed -n '2,8s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

from=""
while (( $# )); do
    case "$1" in
        --from) from="${2:-}"; [[ -n "$from" ]] || { say "--from needs the path of a checkout"; exit 2; }; shift 2 ;;
        --from=*) from="${1#--from=}"; shift ;;
        -h|--help) usage; exit 0 ;;
        *) say "unknown argument '$1' (see --help)"; exit 2 ;;
    esac
done

as_root() {
    if [[ "$(id -u)" == "0" ]]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else say "need root to run: $*"; return 1
    fi
}

install_packages() {
    if command -v apt-get >/dev/null 2>&1; then
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
    elif command -v dnf >/dev/null 2>&1; then as_root dnf install -y "$@"
    elif command -v pacman >/dev/null 2>&1; then as_root pacman -S --noconfirm "$@"
    elif command -v apk >/dev/null 2>&1; then as_root apk add "$@"
    elif command -v brew >/dev/null 2>&1; then brew install "$@"
    else
        say "no known package manager (apt-get, dnf, pacman, apk, brew): install $* by hand, then run this again"
        return 1
    fi
}

# ---- tmux and git ---------------------------------------------------------------------------------
missing=()
command -v tmux >/dev/null 2>&1 || missing+=(tmux)
command -v git >/dev/null 2>&1 || missing+=(git)
if (( ${#missing[@]} )); then
    say "installing ${missing[*]}"
    install_packages "${missing[@]}" || exit 1
else
    say "tmux and git are installed"
fi

# ---- orchestra ------------------------------------------------------------------------------------
spec="$package"
if [[ -n "$from" ]]; then
    if [[ ! -f "$from/pyproject.toml" ]]; then
        say "$from is not a checkout of claude-orchestra (it has no pyproject.toml)"
        exit 1
    fi
    spec="$(cd "$from" && pwd)"
fi
python="${PYTHON:-python3}"
if [[ -z "$from" ]] && command -v orchestra >/dev/null 2>&1; then
    say "orchestra is installed ($(orchestra --version 2>/dev/null || echo "at $(command -v orchestra)")); to upgrade: pipx upgrade $package"
elif command -v pipx >/dev/null 2>&1; then
    say "installing orchestra from $spec with pipx"
    # --force: installing from a checkout again takes its current state.
    pipx install --force "$spec"
else
    if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
        say "orchestra needs Python 3.10 or newer as '$python' (set PYTHON=/path/to/python3), or pipx"
        exit 1
    fi
    say "installing orchestra from $spec with pip (--user); pipx is not installed"
    if ! "$python" -m pip install --user --upgrade --disable-pip-version-check "$spec"; then
        say "pip could not install orchestra: install pipx (for example \`apt-get install pipx\` or \`brew install pipx\`) and run this again"
        exit 1
    fi
fi

# ---- shell completion -----------------------------------------------------------------------------
orchestra="$(command -v orchestra || true)"
if [[ -z "$orchestra" ]]; then
    user_base="$("$python" -m site --user-base 2>/dev/null || true)"
    for dir in "${PIPX_BIN_DIR:-$HOME/.local/bin}" "$HOME/.local/bin" "${user_base:+$user_base/bin}"; do
        if [[ -n "$dir" && -x "$dir/orchestra" ]]; then orchestra="$dir/orchestra"; break; fi
    done
    if [[ -n "$orchestra" ]]; then
        say "note: $(dirname "$orchestra") is not on your PATH: add it (for example in ~/.profile) to run orchestra"
    else
        say "orchestra was installed but cannot be found: look for it in pipx's or pip's bin folder"
        exit 1
    fi
fi
if ! "$orchestra" completion --install; then
    say "note: shell completion was not installed; try later: orchestra completion --install"
fi

say "done: run \`orchestra demo\` to try it, or \`orchestra spawn \"a task\"\` in a repository"
if [[ -f "$here/aliases.sh" && -f "$here/tmux.conf" ]]; then
    say "optional (docs/shell.md): short commands, in ~/.bashrc or ~/.zshrc: source $here/aliases.sh"
    say "  (fish: source $here/aliases.fish); tmux keys and status, in ~/.tmux.conf: source-file $here/tmux.conf"
fi
