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
    return _shell_file(f"guard.{shell}")


def _shell_file(name: str) -> str:
    """The text of a file shipped in guard.shell: from the plain file when there is one
    (_package_file), else through importlib.resources (a zip or another loader)."""
    p = _package_file(name)
    try:
        if p is not None:
            with open(p, encoding="utf-8") as f:
                return f.read()
        from importlib.resources import files

        return (files("guard.shell") / name).read_text(encoding="utf-8")
    except (ModuleNotFoundError, OSError, TypeError):
        raise GuardError(f"hook file {name} is missing from this install") from None


def bash_lib() -> str:
    """shell/guard-lib.bash without its comment lines: the text the bash hook keeps as one
    string and evaluates only in a forked child (smaller text, faster to parse there)."""
    lines = _shell_file("guard-lib.bash").splitlines()
    return "\n".join(ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")) + "\n"


# Third-party packages guard imports (runtime dependencies); their directories go on sys.path.
_DEPENDENCIES = ("yaml", "xxhash", "platformdirs")
_MAIN = "from guard._cli import main;sys.exit(main())"


def guard_command() -> list[str]:
    """How the hook runs guard: this interpreter by absolute path, never looked up on PATH —
    PATH and the environment are exactly what an attacker controls.

    ``-I`` ignores PYTHON* variables (PYTHONPATH, PYTHONHOME, PYTHONSTARTUP) and keeps the
    current directory off sys.path. ``-S`` skips ``site``: no ``.pth`` file in a writable
    site-packages runs code, and the ~2.5 ms ``site`` costs (much more for an editable
    install, whose import finder pulls in pathlib) is not paid on every first sighting.
    The directories guard and its dependencies were found in now are named instead, after
    the standard library. Where one cannot be named as a plain directory (a zip, an import
    hook), the command keeps ``site``."""
    exe = sys.executable
    dirs = import_dirs()
    if dirs is None:
        return [exe, "-I", "-c", "import sys;" + _MAIN]
    return [exe, "-I", "-S", "-c", f"import sys;sys.path+={dirs!r};{_MAIN}"]


def import_dirs() -> list[str] | None:
    """The sys.path entries guard and its dependencies are imported from, or None when one of
    them is not a package in a plain directory, or the list would find a different one.

    The current directory is not searched (``python -m guard`` puts it on sys.path): a
    ``yaml/`` where someone happened to render the hook must not be baked into it."""
    from importlib.machinery import PathFinder

    here = os.path.dirname(os.path.abspath(__file__))
    if not os.path.isfile(os.path.join(here, "__init__.py")):
        return None
    cwd = os.getcwd()
    search = [p for p in sys.path if p and os.path.abspath(p) != cwd]
    out = [os.path.dirname(here)]
    found = {"guard": os.path.join(here, "__init__.py")}
    for name in _DEPENDENCIES:
        spec = PathFinder.find_spec(name, search)
        origin = spec.origin if spec is not None else None
        if not origin or not spec.has_location or not os.path.isfile(origin):
            return None
        found[name] = origin
        top = os.path.dirname(origin)
        if spec.submodule_search_locations is not None:
            top = os.path.dirname(top)  # a package: .../site-packages/yaml/__init__.py
        top = os.path.abspath(top)
        if top not in out:
            out.append(top)
    for name, origin in found.items():  # e.g. a yaml/ beside an editable guard's checkout
        spec = PathFinder.find_spec(name, out)
        if spec is None or spec.origin is None or not os.path.samefile(spec.origin, origin):
            return None
    return out


def render(shell: str, lib_file: str | None = None) -> str:
    """The hook text with guard's command filled in as its first line; for bash also where
    the hook reads the rest of itself (``lib_file``, by default guard-lib.bash in this
    install; its text itself when that is not a plain file)."""
    body = hook_source(shell)
    cmd = guard_command()
    if shell == "fish":
        head = "set -g __guard_bin " + " ".join(_fish_q(c) for c in cmd) + "\n"
    else:
        head = "__guard_bin=(" + " ".join(_posix_q(c) for c in cmd) + ")\n"
    if shell == "bash":
        lib_file = lib_file or _package_file("guard-lib.bash")
        if lib_file:
            head += "__guard_libfile=" + _posix_q(lib_file) + "\n"
        else:
            head += "__guard_libfile= __guard_lib=" + _posix_q(bash_lib()) + "\n"
    return head + body


def _package_file(name: str) -> str | None:
    """The absolute path of a file shipped in guard.shell, when it is a plain file (installed:
    guard/shell/NAME; a checkout: shell/NAME beside guard/)."""
    try:
        from importlib.resources import files

        p = str(files("guard.shell") / name)
        if os.path.isfile(p):
            return os.path.abspath(p)
    except (ModuleNotFoundError, TypeError):
        # TypeError: Python 3.9's importlib.resources on guard/shell/ (a directory without
        # __init__.py, so a namespace package with no origin).
        pass
    pkg = os.path.dirname(os.path.realpath(__file__))
    for d in (pkg, os.path.dirname(pkg)):
        p = os.path.join(d, "shell", name)
        if os.path.isfile(p):
            return p
    return None


def _posix_q(s: str) -> str:
    return "'" + s.replace("'", "'\\''") + "'"


def _fish_q(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def render_to_file(shell: str, loc: Locations) -> str:
    """Write the rendered hook under the data dir, so an rc can source it without Python."""
    p = os.path.join(loc.data_dir, f"hook.{shell}")
    lib = None
    if shell == "bash":  # written next to it, so that the two always come from one version
        lib = os.path.join(loc.data_dir, "hook-lib.bash")
        atomic_write(lib, bash_lib().encode("utf-8"), mode=0o644)
    atomic_write(p, render(shell, lib).encode("utf-8"), mode=0o644)
    return p
