"""Find and render the per-shell hook files (shell/guard.SHELL, shipped as guard.shell)."""

from __future__ import annotations

import os
import sys

from guard.errors import GuardError
from guard.fsutil import atomic_write
from guard.paths import Locations

SHELLS = ("bash", "zsh", "fish")


def hook_source(shell: str) -> str:
    if shell not in SHELLS:
        raise GuardError(f"unknown shell {shell!r}; choose one of: {', '.join(SHELLS)}")
    try:
        from importlib.resources import files

        return (files("guard.shell") / f"guard.{shell}").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError, OSError):
        here = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
        try:
            with open(os.path.join(here, "shell", f"guard.{shell}"), encoding="utf-8") as f:
                return f.read()
        except OSError:
            raise GuardError(f"hook file for {shell} is missing from this install") from None


def guard_command() -> list[str]:
    """How the hook runs guard: this interpreter by absolute path, isolated (``-I``: no
    PYTHONPATH, PYTHONHOME or current directory on sys.path), never looked up on PATH —
    PATH and the environment are exactly what an attacker controls."""
    return [sys.executable, "-I", "-c", "import sys;from guard._cli import main;sys.exit(main())"]


def render(shell: str) -> str:
    """The hook text with guard's command filled in as its first line."""
    body = hook_source(shell)
    cmd = guard_command()
    if shell == "fish":
        head = "set -g __guard_bin " + " ".join(_fish_q(c) for c in cmd) + "\n"
    else:
        head = "__guard_bin=(" + " ".join(_posix_q(c) for c in cmd) + ")\n"
    return head + body


def _posix_q(s: str) -> str:
    return "'" + s.replace("'", "'\\''") + "'"


def _fish_q(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def render_to_file(shell: str, loc: Locations) -> str:
    """Write the rendered hook under the data dir, so an rc can source it without Python."""
    p = os.path.join(loc.data_dir, f"hook.{shell}")
    atomic_write(p, render(shell).encode("utf-8"), mode=0o644)
    return p
