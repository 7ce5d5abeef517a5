#!/usr/bin/env bash
# Set up orchestra in this checkout on a fresh machine: tmux and git when missing, and a
# virtual environment in .venv with orchestra installed. With --test, also its test tools,
# Node.js and npm when missing, and the pinned Claude Code in a cache folder shared by all
# checkouts. Safe to run again: it skips what is already in place.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
extras=""
if [[ "${1:-}" == "--test" ]]; then extras="[test]"; fi

say() { printf 'setup: %s\n' "$*" >&2; }

as_root() {
    if [[ "$(id -u)" == "0" ]]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else say "need root to run: $*"; return 1
    fi
}

install_packages() {
    if command -v apt-get >/dev/null 2>&1; then
        as_root apt-get update -qq
        DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
    elif command -v dnf >/dev/null 2>&1; then as_root dnf install -y "$@"
    elif command -v pacman >/dev/null 2>&1; then as_root pacman -S --noconfirm "$@"
    elif command -v apk >/dev/null 2>&1; then as_root apk add "$@"
    elif command -v brew >/dev/null 2>&1; then brew install "$@"
    else
        say "no known package manager: install $* by hand, then run this again"
        return 1
    fi
}

missing=()
command -v tmux >/dev/null 2>&1 || missing+=(tmux)
command -v git >/dev/null 2>&1 || missing+=(git)
if (( ${#missing[@]} )); then
    say "installing ${missing[*]}"
    install_packages "${missing[@]}"
fi

python="${PYTHON:-python3}"
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
    say "orchestra needs Python 3.10 or newer as '$python' (set PYTHON=/path/to/python3)"
    exit 1
fi
if [[ ! -x "$here/.venv/bin/python" ]]; then
    if ! "$python" -m venv "$here/.venv" 2>/dev/null; then
        say "installing Python's venv module"
        install_packages python3-venv
        rm -rf "$here/.venv"
        "$python" -m venv "$here/.venv"
    fi
fi

# Reinstall only when the project's metadata changed since the last install. The install is an
# editable one that puts the checkout on sys.path through .pth lines (`compat`, and plugins/ by a
# line of ours, since the plugins' packages live there): setuptools' default imports a module
# finder at every Python start instead, 10 ms of each orchestra command here.
stamp="$here/.venv/.orchestra-installed-compat${extras}"
if [[ ! -f "$stamp" || "$here/pyproject.toml" -nt "$stamp" ]]; then
    say "installing orchestra${extras} into .venv"
    "$here/.venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        --config-settings editable_mode=compat -e "$here${extras}"
    site="$("$here/.venv/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')"
    printf '%s\n' "$here/plugins" > "$site/claude_orchestra_plugins.pth"
    touch "$stamp"
fi

if [[ -z "$extras" ]]; then exit 0; fi

if ! command -v npm >/dev/null 2>&1; then
    say "installing Node.js and npm"
    install_packages nodejs npm
fi

# The tests run the real Claude Code CLI against a local stand-in for the API, always this pinned
# version by its path (tests/claude_support.py and shell/test.sh name the same folder).
claude_version="2.1.328"
claude_dir="${XDG_CACHE_HOME:-$HOME/.cache}/claude-orchestra/claude-code-$claude_version"
if [[ ! -x "$claude_dir/node_modules/.bin/claude" ]]; then
    say "installing Claude Code $claude_version into $claude_dir"
    mkdir -p "$(dirname "$claude_dir")"
    # Install beside the final folder, then rename: a cut-off install never leaves a half folder.
    partial="$(mktemp -d "$claude_dir.partial.XXXXXX")"
    trap 'rm -rf "$partial"' EXIT
    npm install --prefix "$partial" --no-audit --no-fund --no-update-notifier --loglevel=error \
        "@anthropic-ai/claude-code@$claude_version" </dev/null >/dev/null
    rm -rf "$claude_dir"
    chmod 755 "$partial"
    mv "$partial" "$claude_dir"
fi

# ---- The other bundled agent CLIs (codex, gemini, opencode, aider) ------------------------------
# tests/agent_clis.py names the same versions and folders; tests run each CLI by its path there.
# Each is installed beside its final folder, then renamed, so a cut-off install never leaves a half folder.
agents_cache="${XDG_CACHE_HOME:-$HOME/.cache}/claude-orchestra"
install_npm_cli() {  # folder-name package@version bin-name
    local dir="$agents_cache/$1" partial
    if [[ -x "$dir/node_modules/.bin/$3" ]]; then return 0; fi
    say "installing $2 into $dir"
    mkdir -p "$agents_cache"
    partial="$(mktemp -d "$dir.partial.XXXXXX")"
    if npm install --prefix "$partial" --no-audit --no-fund --no-update-notifier --loglevel=error "$2" </dev/null >/dev/null; then
        rm -rf "$dir"
        chmod 755 "$partial"
        mv "$partial" "$dir"
    else
        rm -rf "$partial"
        return 1
    fi
}
install_npm_cli "codex-0.169.0" "@openai/codex@0.169.0" codex
install_npm_cli "gemini-cli-0.61.0" "@google/gemini-cli@0.61.0" gemini
install_npm_cli "opencode-1.18.33" "opencode-ai@1.18.33" opencode

# aider has heavy Python dependencies: it gets a virtual environment of its own. Its console
# script would keep the temporary folder's path in its #! line, so tests run `bin/python -m aider`.
aider_dir="$agents_cache/aider-0.86.2"
if [[ ! -x "$aider_dir/bin/python" ]] || ! "$aider_dir/bin/python" -c 'import aider' 2>/dev/null; then
    say "installing aider-chat 0.86.2 into $aider_dir"
    mkdir -p "$agents_cache"
    aider_partial="$(mktemp -d "$aider_dir.partial.XXXXXX")"
    if "$python" -m venv "$aider_partial" \
        && "$aider_partial/bin/python" -m pip install --quiet --disable-pip-version-check "aider-chat==0.86.2" </dev/null; then
        rm -rf "$aider_dir"
        chmod 755 "$aider_partial"
        mv "$aider_partial" "$aider_dir"
    else
        rm -rf "$aider_partial"
        exit 1
    fi
fi

# ---- System packages the tests drive (one apt-get run for all that are missing) ----------------
# chromium: the dashboard's browser tests, through the Python package playwright (`playwright
#   install` would download a browser build of its own, which this machine cannot fetch);
# zsh, fish, bash-completion: the completion tests drive the real shells;
# the shell-script checker: every script in shell/ must pass it (the test fails without it);
# gh: the github plugin's flags are checked against `gh pr create --help`;
# openssh-server: the hosts tests run a real sshd on 127.0.0.1 for a second local user.
system_missing=()
[[ -x /usr/bin/chromium ]] || system_missing+=(chromium)
command -v zsh >/dev/null 2>&1 || system_missing+=(zsh)
command -v fish >/dev/null 2>&1 || system_missing+=(fish)
[[ -f /usr/share/bash-completion/bash_completion ]] || system_missing+=(bash-completion)
command -v shellcheck >/dev/null 2>&1 || system_missing+=(shellcheck)
command -v gh >/dev/null 2>&1 || system_missing+=(gh)
[[ -x /usr/sbin/sshd ]] || system_missing+=(openssh-server)
if (( ${#system_missing[@]} )); then
    say "installing ${system_missing[*]}"
    install_packages "${system_missing[@]}"
fi
