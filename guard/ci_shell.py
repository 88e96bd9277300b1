"""`guard-bash` (and `guard-zsh`): a drop-in shell for CI with every command checked.

``shell: guard-bash {0}`` (GitHub Actions), ``SHELL := guard-bash`` (make), ``guard-bash
script.sh``, ``guard-bash -c '…'``: guard-bash takes bash's own arguments and execs the real
bash — /bin/bash (else /usr/bin/bash), never looked up on PATH, itself verified by
``guard.decide`` and executed from the very descriptor that was hashed (guard.execute) — with:

- ``BASH_ENV`` pointing at the bash hook rendered into guard's private data dir, so this bash
  and every ``bash`` it starts load the hook before their first command;
- ``GUARD_MODE=block``, whatever the environment said: no warn/monitor, no prompt, a command
  guard cannot vouch for stops the script with 126 (also when guard itself cannot answer);
- ``GUARD_LOCK``: a private snapshot of ``./guard.lock`` (or of the lock ``GUARD_LOCK`` names),
  whose pins replace the user's allowlist in every check (guard.decide.Context).

The hook file makes those three read-only in every shell that loads it. Anything that would
make bash skip ``BASH_ENV`` (POSIX mode, privileged mode, an interactive or login shell) is
refused with 126 rather than run unchecked. Design and limits: docs/ci.md, "guard-bash".
"""

from __future__ import annotations

import hashlib
import os
import sys

from guard.errors import GuardError
from guard.textsafe import quote_posix, safe

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~4 ms per check

if TYPE_CHECKING:
    from typing import Callable

    from guard.paths import Locations

EXIT_REFUSED = 126  # what bash itself returns for "found but cannot execute"
BASH_PATHS = ("/bin/bash", "/usr/bin/bash")
ZSH_PATHS = ("/bin/zsh", "/usr/bin/zsh")


class Refused(Exception):
    """guard-bash will not start the shell; the message says why (nothing ran)."""


# --- arguments -------------------------------------------------------------------------------

# Long options bash accepts before its single-letter ones, with one or two dashes.
_BASH_LONG = frozenset(
    (
        "debug",
        "debugger",
        "dump-po-strings",
        "dump-strings",
        "help",
        "login",
        "noediting",
        "noprofile",
        "norc",
        "posix",
        "pretty-print",
        "protected",
        "restricted",
        "verbose",
        "version",
        "wordexp",
    )
)
_BASH_LONG_ARG = frozenset(("init-file", "rcfile"))


def check_bash_args(argv: list[str], tty: bool) -> None:
    """Refuse the bash invocations that would not load the hook through ``BASH_ENV``.

    bash skips ``BASH_ENV`` in POSIX mode (``--posix``, ``-o posix``), in privileged mode
    (``-p``, ``-o privileged``) and when interactive (``-i``, or no script and no ``-c`` with a
    terminal on stdin and stderr); a login shell (``-l``) runs the profile files before it.
    Options are read as bash reads them: long ones first, then ``-``/``+`` clusters whose
    ``o``/``O`` take the next word, up to the first operand, ``-`` or ``--``."""
    i, n = 0, len(argv)
    command = stdin = False
    while i < n:  # long options: only before the single-letter ones
        a = argv[i]
        if a == "--" or not a.startswith("-") or len(a) < 2:
            break
        name = a[2:] if a.startswith("--") else a[1:]
        if name in _BASH_LONG_ARG:
            i += 2
            continue
        if name not in _BASH_LONG:
            break
        if name == "posix":
            raise Refused(f"{a}: bash in POSIX mode does not read BASH_ENV")
        if name == "login":
            raise Refused(f"{a}: a login shell runs the profile files before guard's hook")
        i += 1
    while i < n:
        a = argv[i]
        if a in ("-", "--"):
            i += 1
            break
        if len(a) < 2 or a[0] not in "-+":
            break
        on = a[0] == "-"
        i += 1
        for c in a[1:]:
            if c in "oO":
                value = argv[i] if i < n else ""
                i += 1
                if c == "o" and on and value in ("posix", "privileged"):
                    raise Refused(f"-o {value}: bash in {value} mode does not read BASH_ENV")
            elif on and c == "p":
                raise Refused("-p: bash in privileged mode does not read BASH_ENV")
            elif on and c == "i":
                raise Refused(
                    "-i: an interactive bash does not read BASH_ENV; for interactive use, "
                    "load the hook from ~/.bashrc (docs/shell-bash.md)"
                )
            elif on and c == "l":
                raise Refused("-l: a login shell runs the profile files before guard's hook")
            elif on and c == "c":
                command = True
            elif on and c == "s":
                stdin = True
    if not command and (i >= n or stdin) and tty:
        raise Refused(
            "no script and no -c with a terminal on stdin: bash would be interactive and not "
            "read BASH_ENV; guard-bash runs scripts (for a terminal, load the hook from "
            "~/.bashrc, docs/shell-bash.md)"
        )


def check_bash_env(environ: dict[str, str]) -> None:
    """Environment variables that make bash start in a mode that skips ``BASH_ENV``."""
    if "POSIXLY_CORRECT" in environ:
        raise Refused("POSIXLY_CORRECT is set: bash would start in POSIX mode, without BASH_ENV")
    opts = environ.get("SHELLOPTS", "").split(":")
    for o in ("posix", "privileged"):
        if o in opts:
            raise Refused(f"SHELLOPTS holds {o}: bash would start without reading BASH_ENV")


# zsh reads $ZDOTDIR/.zshenv unless one of many spellings turns RCS off (-f, --no-rcs,
# +o r_c_s, -o NO_RCS…), privileged mode or sh/ksh emulation is on: guard-zsh accepts only
# the options below and refuses every other one rather than parse zsh's option grammar.
_ZSH_LETTERS = frozenset("exvunlcs")
_ZSH_NAMED = frozenset(
    (
        "errexit",
        "errreturn",
        "pipefail",
        "nounset",
        "unset",
        "xtrace",
        "verbose",
        "noexec",
        "extendedglob",
        "nullglob",
        "login",
    )
)
_ZSH_ACCEPTS = f"-{''.join(sorted(_ZSH_LETTERS))} and -o NAME"


def check_zsh_args(argv: list[str], tty: bool) -> None:
    """Refuse zsh invocations that might not read ``$ZDOTDIR/.zshenv`` (see _ZSH_LETTERS)."""
    i, n = 0, len(argv)
    command = stdin = False
    while i < n:
        a = argv[i]
        if a in ("-", "--"):
            i += 1
            break
        if len(a) < 2 or a[0] not in "-+":
            break
        if a.startswith(("--", "++")):
            raise Refused(f"{a}: guard-zsh accepts no long options (only {_ZSH_ACCEPTS})")
        i += 1
        for c in a[1:]:
            if c == "o":
                value = argv[i] if i < n else ""
                i += 1
                if value.lower().replace("_", "") not in _ZSH_NAMED:
                    raise Refused(
                        f"{a[0]}o {value}: guard-zsh accepts -o/+o only with "
                        f"{', '.join(sorted(_ZSH_NAMED))}"
                    )
            elif c not in _ZSH_LETTERS:
                raise Refused(
                    f"{a[0]}{c}: guard-zsh accepts only {_ZSH_ACCEPTS}, so that zsh surely "
                    "reads its .zshenv"
                )
            elif a[0] == "-" and c == "c":
                command = True
            elif a[0] == "-" and c == "s":
                stdin = True
    if not command and (i >= n or stdin) and tty:
        raise Refused(
            "no script and no -c with a terminal on stdin: zsh would be interactive; "
            "guard-zsh runs scripts (for a terminal, load the hook from ~/.zshrc)"
        )


def _stdio_tty() -> bool:
    try:
        return os.isatty(0) and os.isatty(2)
    except OSError:
        return False


# --- the lock --------------------------------------------------------------------------------


def lock_source(environ: dict[str, str], cwd: str) -> str | None:
    """The lock this job enforces: ``GUARD_LOCK`` when set (relative to the working
    directory), else ``./guard.lock`` when it exists, else None (the user's allowlist)."""
    from guard.lockfile import LOCK_ENV, LOCK_FILE

    named = environ.get(LOCK_ENV, "")
    if named:
        return os.path.normpath(os.path.join(cwd, named))
    here = os.path.join(cwd, LOCK_FILE)
    return here if os.path.lexists(here) else None


def _store(directory: str, name: str, data: bytes) -> str:
    """Write ``data`` as ``directory/name`` unless that file already holds exactly it. Names
    are derived from the content, so concurrent guard-bash runs (make -j) agree."""
    from guard.errors import ConfigError
    from guard.fsutil import atomic_write, read_bytes_nofollow

    path = os.path.join(directory, name)
    try:
        same = read_bytes_nofollow(path, len(data)) == data
    except ConfigError:
        same = False
    if not same:
        atomic_write(path, data, mode=0o600)
    return path


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


def snapshot_lock(src: str, directory: str) -> str:
    """Validate the lock and copy it where the job cannot rewrite it by accident: a step that
    edits ./guard.lock (even `guard lock --update`) changes nothing for the running job."""
    from guard.lockfile import _read, parse_lock

    data = _read(src)
    parse_lock(src, data)  # a missing or malformed lock is an error here, not a fallback
    return _store(directory, f"lock-{_digest(data)}.lock", data)


def ci_dir(loc: Locations) -> str:
    """Where guard-bash keeps its rendered hooks and lock snapshots: guard's private data dir
    (0700), which persists across the steps of a job; files are named by their content."""
    import stat

    from guard.errors import ConfigError
    from guard.fsutil import ensure_private_dir

    d = os.path.join(loc.data_dir, "ci")
    ensure_private_dir(d)
    st = os.lstat(d)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
        raise ConfigError(
            f"{safe(d)} must be a directory of yours that only you can write "
            f"(fix: rm -rf {safe(d)}; guard-bash recreates it)"
        )
    return d


# --- the hook files --------------------------------------------------------------------------

_BASH_HEAD = r"""__guard_ci_opts=$- && \builtin set +xv  # loading guard's hook: not traced by -x/-v
# guard-bash: read through BASH_ENV by every bash of a guard-bash job (docs/ci.md).
# Written by guard-bash, named by its content; do not edit.
if ((BASH_VERSINFO[0] < 4 || (BASH_VERSINFO[0] == 4 && BASH_VERSINFO[1] < 4))); then
    \builtin printf 'guard-bash: bash %s cannot run the hook (needs 4.4+); refusing to run\n' \
        "$BASH_VERSION" >&2
    \builtin exit 126
fi
# Block mode, the job's lock and this file, here and (through the environment) in every bash
# started from here. Read-only: `export GUARD_MODE=warn` or `unset BASH_ENV` fails instead.
\builtin declare -grx GUARD_MODE=block GUARD_LOCK=@LOCK@ BASH_ENV 2>/dev/null || :
if [[ ${GUARD_MODE-} != block || ${GUARD_LOCK-} != @LOCK@ ]]; then
    \builtin printf '%s\n' 'guard-bash: cannot force GUARD_MODE and GUARD_LOCK; refusing to run' >&2
    \builtin exit 126
fi
"""

# After the hook the trap is live: plain `set`/`unset` take its fast path (a `\builtin` prefix
# would cost a query). One line, so that -v echoes nothing of it; `set -x` comes last.
_BASH_TAIL = (
    "\n[[ $__guard_ci_opts != *v* ]] || set -v; "
    "if [[ $__guard_ci_opts == *x* ]]; then unset -v __guard_ci_opts; set -x; "
    "else unset -v __guard_ci_opts; fi\n"
)


def render_bash_env(lock: str) -> bytes:
    """The file BASH_ENV names: the forced settings, then the hook as `guard hook bash`
    renders it (guard's interpreter by absolute path)."""
    from guard.hookfiles import render

    head = _BASH_HEAD.replace("@LOCK@", quote_posix(lock) if lock else "''")
    return (head + render("bash") + _BASH_TAIL).encode("utf-8")


_ZSH_HEAD = r"""# guard-zsh: $ZDOTDIR/.zshenv of every zsh a guard-zsh job starts (docs/ci.md).
# Written by guard-zsh, named by its content; do not edit.
# Block mode, the job's lock and this directory, here and (through the environment) in every
# zsh started from here. Read-only: assigning one is an error (fatal in a zsh script).
[[ ${(t)GUARD_MODE-} == *readonly* ]] || typeset -grx GUARD_MODE=block
[[ ${(t)GUARD_LOCK-} == *readonly* ]] || typeset -grx GUARD_LOCK=@LOCK@
[[ ${(t)ZDOTDIR-} == *readonly* ]] || typeset -grx ZDOTDIR
if [[ $GUARD_MODE != block || $GUARD_LOCK != @LOCK@ ]]; then
  print -ru2 -- 'guard-zsh: cannot force GUARD_MODE=block and GUARD_LOCK here; refusing to run'
  exit 126
fi
typeset -g __guard_ci_x=0
if [[ -o xtrace ]]; then __guard_ci_x=1; unsetopt xtrace; fi  # loading is not the script
"""

_ZSH_TAIL = r"""
if (( __guard_ci_x )); then setopt xtrace; fi
"""


def render_zsh_env(lock: str) -> bytes:
    """The .zshenv in guard-zsh's ZDOTDIR: the forced settings, then `guard hook zsh`."""
    from guard.hookfiles import render

    head = _ZSH_HEAD.replace("@LOCK@", quote_posix(lock) if lock else "''")
    return (head + render("zsh") + _ZSH_TAIL).encode("utf-8")


# --- running ---------------------------------------------------------------------------------


def pick_shell(paths: tuple[str, ...]) -> str:
    """The first of ``paths`` that exists. Not a PATH search, and no falling back past one
    that exists but is not trusted: a replaced /bin/bash is exactly what must stop the job."""
    for p in paths:
        if os.path.lexists(p):
            return p
    raise Refused(f"no shell at {' or '.join(paths)}")


def exec_verified(shell: str, argv: list[str], env: dict[str, str]) -> int:
    """Verify ``shell`` with the decision function and exec it from the hashed descriptor
    (guard.execute); returns only when it did not run."""
    from guard.decide import Context
    from guard.execute import Denied, make_plan, run_plan

    plan = None
    try:
        ctx = Context()
        try:
            plan = make_plan(shell, argv, ctx)
        finally:
            ctx.close()
        plan.argv = [shell, *argv]  # argv[0] absolute: bash sets $BASH from it, not from PATH
        plan.env = env
        run_plan(plan, ctx.config.max_hash_bytes)
    except Denied as d:
        sys.stderr.write(d.message + "\n")
    finally:
        if plan is not None:
            plan.close()
    return EXIT_REFUSED


def _settings(environ: dict[str, str], cwd: str) -> tuple[dict[str, str], str, str]:
    """(the shell's environment with GUARD_MODE and GUARD_LOCK forced, guard-bash's private
    directory, the lock snapshot or ""). XDG_* stay as the job has them: guard's own dirs
    (config, verify cache, events) are the job's."""
    from guard.paths import locations

    d = ci_dir(locations())
    src = lock_source(environ, cwd)
    lock = snapshot_lock(src, d) if src is not None else ""
    env = dict(environ)
    env["GUARD_MODE"] = "block"
    env["GUARD_LOCK"] = lock  # empty: no lock, the user's allowlist (read-only all the same)
    return env, d, lock


def prepare_bash(argv: list[str], environ: dict[str, str], cwd: str) -> dict[str, str]:
    """Check the arguments and environment, write the hook (and lock snapshot), and return
    the environment bash must start with."""
    check_bash_args(argv, _stdio_tty())
    check_bash_env(environ)
    env, d, lock = _settings(environ, cwd)
    body = render_bash_env(lock)
    env["BASH_ENV"] = _store(d, f"bash-{_digest(body)}.env", body)
    return env


def prepare_zsh(argv: list[str], environ: dict[str, str], cwd: str) -> dict[str, str]:
    """As prepare_bash, for zsh: ZDOTDIR names a private directory holding the hook as
    .zshenv, which every zsh reads first (after the system's /etc/zshenv). The user's own
    ~/.zshenv is not read."""
    check_zsh_args(argv, _stdio_tty())
    env, d, lock = _settings(environ, cwd)
    body = render_zsh_env(lock)
    zdot = os.path.join(d, f"zsh-{_digest(body)}")
    _store(zdot, ".zshenv", body)
    env["ZDOTDIR"] = zdot
    return env


def _run(
    name: str,
    prepare: Callable[[list[str], dict[str, str], str], dict[str, str]],
    paths: tuple[str, ...],
    argv: list[str],
) -> int:
    try:
        env = prepare(argv, dict(os.environ), os.getcwd())
        shell = pick_shell(paths)
        # The decisions about the shell itself use the same settings its hook will use.
        os.environ.clear()
        os.environ.update(env)
        return exec_verified(shell, argv, env)
    except Refused as e:
        sys.stderr.write(f"{name}: refusing to run: {safe(str(e))}\n")
    except GuardError as e:
        sys.stderr.write(f"{name}: error: {safe(str(e))}; nothing was run\n")
    except OSError as e:
        why = e.strerror or str(e)
        sys.stderr.write(f"{name}: error: {safe(why)}; nothing was run\n")
    return EXIT_REFUSED


def bash_main() -> int:
    """Console script ``guard-bash``: ``guard-bash [bash options] [script [args…]]``."""
    return _run("guard-bash", prepare_bash, BASH_PATHS, sys.argv[1:])


def zsh_main() -> int:
    """Console script ``guard-zsh``: ``guard-zsh [-exvunl] [-o NAME] [script [args…]]``."""
    return _run("guard-zsh", prepare_zsh, ZSH_PATHS, sys.argv[1:])
