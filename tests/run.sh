#!/usr/bin/env bash
# Run guard's whole test suite: ./tests/run.sh [pytest args...]
#
# Builds a throw-away virtual environment in .venv-test (reused on later runs), installs guard
# with its test extras into it, and runs pytest. Tests drive real bash, zsh and fish: where zsh
# or fish (or shellcheck) is missing and we are root with apt-get, they are installed; otherwise those tests
# are skipped with a reason. Tests never touch your HOME, rc files or allowlist.
set -euo pipefail
repo=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
cd -- "$repo"

missing=()
for sh in zsh fish shellcheck; do
    command -v "$sh" >/dev/null 2>&1 || missing+=("$sh")
done
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "tests/run.sh: installing ${missing[*]} with apt-get" >&2
        apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "tests/run.sh: ${missing[*]} not installed; their tests will be skipped" >&2
    fi
fi

py=${PYTHON:-}
if [ -z "$py" ]; then
    for cand in python3 python; do
        if command -v "$cand" >/dev/null 2>&1; then py=$(command -v "$cand"); break; fi
    done
fi
venv="$repo/.venv-test"
if ! "$venv/bin/python" -c 'import guard, pytest' 2>/dev/null; then
    rm -rf -- "$venv"
    if ! "$py" -m venv -- "$venv"; then
        # Debian ships venv separately (python3-venv); as root we can add it.
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
            echo "tests/run.sh: installing python3-venv with apt-get" >&2
            apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
            rm -rf -- "$venv"
            "$py" -m venv -- "$venv"
        else
            echo "tests/run.sh: cannot create a venv; run: sudo apt-get install python3-venv" >&2
            exit 2
        fi
    fi
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[test]"
exec "$venv/bin/python" -m pytest "$@"
