# shellcheck shell=bash
# Short forms of orchestra's commands for bash and zsh. Source it from ~/.bashrc or ~/.zshrc:
#
#   source /path/to/claude-orchestra/shell/aliases.sh
#
# Each is a function that passes its arguments on untouched ("$@"), so quoting works as with
# `orchestra` itself: osp "fix the login bug" "add tests". With orchestra's completion loaded
# (`orchestra completion --install`, or the scripts in shell/completion/), TAB completes them
# like the commands they stand for: oat <TAB> lists the agents. See docs/shell.md.

function osp { command orchestra spawn "$@"; }                   # spawn "task" ...
function ols { command orchestra ls "$@"; }                      # ls (the agents and their status)
function oup { command orchestra up "$@"; }                      # up (go to the session)
function oat { command orchestra attach "$@"; }                  # attach NAME
function owa { command orchestra attach --next --waiting "$@"; } # the next agent waiting for you
function olg { command orchestra logs "$@"; }                    # logs NAME
function osd { command orchestra send "$@"; }                    # send NAME TEXT
function odf { command orchestra diff "$@"; }                    # diff NAME
function omg { command orchestra merge "$@"; }                   # merge [NAME...]
function okl { command orchestra kill "$@"; }                    # kill NAME...
function ocl { command orchestra clean "$@"; }                   # clean
function ors { command orchestra resume "$@"; }                  # resume [NAME...]
function oev { command orchestra events --follow "$@"; }         # events --follow

_orchestra_short_names=(osp ols oup oat owa olg osd odf omg okl ocl ors oev)

# The words a short form stands for, in the array _orchestra_short (same syntax in bash and zsh).
_orchestra_short_words() {
    case "$1" in
        osp) _orchestra_short=(spawn) ;;
        ols) _orchestra_short=(ls) ;;
        oup) _orchestra_short=(up) ;;
        oat) _orchestra_short=(attach) ;;
        owa) _orchestra_short=(attach --next --waiting) ;;
        olg) _orchestra_short=(logs) ;;
        osd) _orchestra_short=(send) ;;
        odf) _orchestra_short=(diff) ;;
        omg) _orchestra_short=(merge) ;;
        okl) _orchestra_short=(kill) ;;
        ocl) _orchestra_short=(clean) ;;
        ors) _orchestra_short=(resume) ;;
        oev) _orchestra_short=(events --follow) ;;
        *) _orchestra_short=() ;;
    esac
}

if [ -n "${BASH_VERSION:-}" ]; then
    _orchestra_shell_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

    # bash: complete `oat x` as `orchestra attach x`, with orchestra's own completion function
    # (click's `_orchestra_completion`), loaded on first use if it is not loaded yet.
    _orchestra_short_complete() {
        if ! declare -F _orchestra_completion >/dev/null; then
            if declare -F _completion_loader >/dev/null; then _completion_loader orchestra; fi
            if ! declare -F _orchestra_completion >/dev/null && [ -r "$_orchestra_shell_dir/completion/orchestra.bash" ]; then
                # shellcheck source=/dev/null
                . "$_orchestra_shell_dir/completion/orchestra.bash"
            fi
            declare -F _orchestra_completion >/dev/null || return 0
        fi
        _orchestra_short_words "${COMP_WORDS[0]}"
        local -a COMP_WORDS=(orchestra "${_orchestra_short[@]}" "${COMP_WORDS[@]:1}")
        local COMP_CWORD=$((COMP_CWORD + ${#_orchestra_short[@]}))
        _orchestra_completion orchestra
    }
    complete -o nosort -F _orchestra_short_complete "${_orchestra_short_names[@]}" 2>/dev/null \
        || complete -F _orchestra_short_complete "${_orchestra_short_names[@]}"  # bash < 4.4 has no nosort

elif [ -n "${ZSH_VERSION:-}" ]; then
    # zsh: the same, through the _orchestra completion function (from fpath or `eval`), when
    # compinit is loaded.
    _orchestra_short_complete() {
        # shellcheck disable=SC2154  # words and CURRENT are zsh's completion variables
        _orchestra_short_words "${words[1]}"
        words=(orchestra "${_orchestra_short[@]}" "${words[@]:1}")
        CURRENT=$((CURRENT + ${#_orchestra_short[@]}))
        if typeset -f _orchestra_completion >/dev/null; then _orchestra_completion
        elif typeset -f _orchestra >/dev/null; then _orchestra
        fi
    }
    if typeset -f compdef >/dev/null; then
        compdef _orchestra_short_complete "${_orchestra_short_names[@]}"
    fi
fi
