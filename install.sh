#!/usr/bin/env bash
# Install guard for the current user and turn its shell hooks on.
#
#   ./install.sh              install (or upgrade) and add one line to each shell's rc
#   ./install.sh --no-rc      install only; print the lines to add by hand
#   ./install.sh --uninstall  remove everything this script added (the allowlist stays)
#
# No root needed: guard lives in its own virtual environment under the user data dir and is
# linked into ~/.local/bin. Running it again is harmless. The body is one function called on
# the last line, so a half-downloaded copy runs nothing.

guard_install_main() {
    set -euo pipefail

    local mode=install rc=1 arg
    for arg in "$@"; do
        case "$arg" in
            --uninstall) mode=uninstall ;;
            --no-rc) rc=0 ;;
            -h | --help)
                sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
                return 0
                ;;
            *)
                say_err "unknown option: $arg (try --help)"
                return 2
                ;;
        esac
    done

    local src data venv bindir link marker
    src=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
    data="${XDG_DATA_HOME:-$HOME/.local/share}/guard"
    venv="$data/venv"
    bindir="${GUARD_BIN_DIR:-$HOME/.local/bin}"
    link="$bindir/guard"
    marker="# added by guard install.sh"

    local bashrc="$HOME/.bashrc" zshrc="${ZDOTDIR:-$HOME}/.zshrc"
    local fishconf="${XDG_CONFIG_HOME:-$HOME/.config}/fish/conf.d/guard.fish"

    if [ "$mode" = uninstall ]; then
        remove_rc_line "$bashrc" "$marker"
        remove_rc_line "$zshrc" "$marker"
        if [ -f "$fishconf" ] && grep -qF "$marker" "$fishconf"; then
            rm -f -- "$fishconf"
            say "removed $fishconf"
        fi
        if [ -L "$link" ]; then
            rm -f -- "$link"
            say "removed $link"
        fi
        if [ -d "$data" ]; then
            rm -rf -- "$venv" "$data"/hook.bash "$data"/hook-lib.bash "$data"/hook.zsh "$data"/hook.fish
            rmdir -- "$data" 2>/dev/null || true
            say "removed $venv and the rendered hooks"
        fi
        local cache="${XDG_CACHE_HOME:-$HOME/.cache}/guard"
        if [ -d "$cache" ]; then
            rm -rf -- "$cache"
            say "removed the caches in $cache"
        fi
        say "guard is uninstalled; your allowlist and config are kept in ${XDG_CONFIG_HOME:-$HOME/.config}/guard"
        return 0
    fi

    local py
    py=$(find_python) || return 1
    mkdir -p -- "$data" "$bindir"
    if ! "$venv/bin/python" -c 'import sys' 2>/dev/null; then
        make_venv "$py" "$venv" || return 1
        say "created virtual environment $venv"
    fi
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade -- "$src"
    say "installed guard $("$venv/bin/python" -I -m guard --version | cut -d' ' -f2) into $venv"

    if [ -e "$link" ] && [ ! -L "$link" ]; then
        say_err "$link exists and is not a link; leaving it alone"
    else
        ln -sfn -- "$venv/bin/guard" "$link"
        say "linked $link"
    fi
    case ":$PATH:" in
        *":$bindir:"*) ;;
        *) say "note: $bindir is not on your PATH; add it to call 'guard' by name" ;;
    esac

    # guard's own commands must pass guard: pin its scripts and the interpreter they run on,
    # unless they are already trusted (an OS-packaged python needs no pin, and pinning it would
    # turn the next apt upgrade into a "modified" block). Re-running re-pins after an upgrade.
    local f
    for f in "$venv/bin/python" "$venv/bin/guard" "$venv/bin/guard-bash" "$venv/bin/guard-zsh"; do
        [ -e "$f" ] || continue
        if ! "$venv/bin/python" -I -m guard check "$f" >/dev/null 2>&1; then
            "$venv/bin/python" -I -m guard trust --note "guard itself (install.sh)" "$f" 2>/dev/null
            say "pinned $f"
        fi
    done

    # Render the hooks once, so shell start-up sources a static file and starts no Python.
    local sh hook
    for sh in bash zsh fish; do
        hook=$("$venv/bin/python" -I -m guard hook --path "$sh")
        if [ "$rc" = 0 ]; then
            say "to enable in $sh: source '$hook'"
            continue
        fi
        case "$sh" in
            bash) add_rc_line "$bashrc" "[ -f '$hook' ] && . '$hook'  $marker" "$marker" ;;
            zsh) add_rc_line "$zshrc" "[ -f '$hook' ] && . '$hook'  $marker" "$marker" ;;
            fish)
                mkdir -p -- "$(dirname -- "$fishconf")"
                printf '%s\ntest -f %s; and source %s\n' "$marker" "'$hook'" "'$hook'" >"$fishconf"
                say "wrote $fishconf"
                ;;
        esac
    done
    # Build the OS package index now (~0.5 s once) rather than inside the first command typed.
    "$venv/bin/python" -I -m guard check sh >/dev/null 2>&1 || true
    say "done. Open a new shell; check a command with: guard check NAME"
}

say() { printf 'guard install: %s\n' "$*"; }
say_err() { printf 'guard install: %s\n' "$*" >&2; }

find_python() {
    local cand
    for cand in "${PYTHON:-}" python3 python; do
        [ -n "$cand" ] || continue
        command -v -- "$cand" >/dev/null 2>&1 || continue
        if "$cand" -c 'import sys; sys.exit(sys.version_info < (3, 9))' 2>/dev/null; then
            command -v -- "$cand"
            return 0
        fi
    done
    say_err "Python 3.9 or newer is needed (set PYTHON=/path/to/python3)"
    return 1
}

make_venv() {
    local py=$1 venv=$2
    rm -rf -- "$venv"
    if "$py" -m venv -- "$venv" 2>/dev/null; then
        return 0
    fi
    # Debian ships venv separately; as root we can fetch it, otherwise say exactly what to run.
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        say "installing python3-venv with apt-get"
        apt-get update -qq >/dev/null && apt-get install -y -qq python3-venv >/dev/null
        rm -rf -- "$venv"
        "$py" -m venv -- "$venv" && return 0
    fi
    say_err "could not create a virtual environment; on Debian/Ubuntu run: sudo apt-get install python3-venv"
    return 1
}

add_rc_line() {
    local file=$1 line=$2 marker=$3
    if [ -f "$file" ] && grep -qF "$marker" "$file"; then
        say "$file already loads guard"
        return 0
    fi
    printf '\n%s\n' "$line" >>"$file"
    say "added one line to $file"
}

remove_rc_line() {
    local file=$1 marker=$2 tmp
    [ -f "$file" ] && grep -qF "$marker" "$file" || return 0
    tmp=$(mktemp "$file.guard.XXXXXX")
    grep -vF "$marker" "$file" >"$tmp" || true
    cat -- "$tmp" >"$file"
    rm -f -- "$tmp"
    say "removed the guard line from $file"
}

guard_install_main "$@"
