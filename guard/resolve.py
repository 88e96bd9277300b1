"""Resolve a command word the way a POSIX shell does, and a file's shebang interpreter chain.

Shadow analysis needs every candidate, not only the winner, so ``candidates()`` walks the whole
PATH. Nothing here opens a file that is not a regular file (a FIFO would hang the open).
"""

from __future__ import annotations

import errno
import os
import stat

from guard.model import Candidate

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~4 ms per check

if TYPE_CHECKING:
    pass

# Linux reads at most this many bytes of a "#!" line (BINPRM_BUF_SIZE since 5.1).
SHEBANG_MAX = 256
# Linux follows at most this many nested interpreters before ELOOP.
MAX_INTERPRETER_DEPTH = 4
_ENV_NAMES = ("env",)


def path_entries(path_env: str) -> list[str]:
    """PATH split as the shell splits it: an empty entry means the current directory."""
    return [e if e else "." for e in path_env.split(":")]


def absolute(path: str, cwd: str) -> str:
    """Make ``path`` absolute against ``cwd`` and drop "." components and repeated slashes.

    Not os.path.normpath: folding "a/../b" lexically is wrong when "a" is a symlink, and the
    kernel would resolve it through the link."""
    p = path if path.startswith("/") else os.path.join(cwd, path)
    parts = [c for c in p.split("/") if c not in ("", ".")]
    return "/" + "/".join(parts)


def _is_runnable(path: str) -> bool:
    """What the shell's PATH search accepts: exists (through symlinks), not a directory, and
    executable by us. A FIFO with an x bit qualifies for the shell, so it does here."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    if stat.S_ISDIR(st.st_mode):
        return False
    return os.access(path, os.X_OK)


def real_path(path: str) -> tuple[str | None, str | None]:
    """Follow symlinks; return (real path, None) or (None, why)."""
    try:
        os.stat(path)
    except OSError as e:
        if e.errno == errno.ELOOP:
            return None, "symlink loop"
        if e.errno == errno.ENOENT:
            return None, "dangling symlink" if os.path.islink(path) else "no such file"
        return None, e.strerror or "cannot stat"
    return os.path.realpath(path), None


def symlink_hops(path: str, limit: int = 40) -> list[str]:
    """The links walked from ``path`` to the real file, in order (the link paths themselves)."""
    hops: list[str] = []
    cur = path
    for _ in range(limit):
        if not os.path.islink(cur):
            break
        hops.append(cur)
        target = os.readlink(cur)
        cur = target if target.startswith("/") else os.path.join(os.path.dirname(cur), target)
    return hops


def candidates(word: str, path_env: str, cwd: str) -> list[Candidate]:
    """Every file ``word`` could run, in the order the shell would try them."""
    if "/" in word:
        p = absolute(word, cwd)
        if not os.path.lexists(p):
            return []
        real, err = real_path(p)
        if real is not None and not _is_runnable(p):
            err = "not executable" if not os.path.isdir(p) else "is a directory"
        return [Candidate(invoked=p, real=real, error=err)]
    if not word or word in (".", ".."):
        return []
    out: list[Candidate] = []
    seen: set[str] = set()
    for entry in path_entries(path_env):
        p = os.path.join(absolute(entry, cwd), word)
        if p in seen:
            continue
        seen.add(p)
        if _is_runnable(p):
            real, err = real_path(p)
            out.append(Candidate(invoked=p, real=real, error=err))
    return out


class Shebang:
    __slots__ = ("interpreter", "args")

    def __init__(self, interpreter: str, args: list[str]) -> None:
        self.interpreter = interpreter  # as written on the #! line
        self.args = args  # Linux passes the rest of the line as at most one argument


def read_shebang(real: str) -> Shebang | None:
    """Parse a "#!" line the way Linux does: interpreter, then the rest as one argument."""
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        head = os.read(fd, SHEBANG_MAX)
    except OSError:
        return None
    finally:
        os.close(fd)
    return parse_shebang(head)


def parse_shebang(head: bytes) -> Shebang | None:
    """The "#!" line of a file's first bytes: interpreter, then the rest as one argument."""
    if not head.startswith(b"#!"):
        return None
    line = head[2:].split(b"\n", 1)[0].strip(b" \t\r")
    if not line:
        return None
    parts = line.split(None, 1)
    rest = [os.fsdecode(parts[1].strip())] if len(parts) > 1 else []
    return Shebang(os.fsdecode(parts[0]), rest)


def env_target(args: list[str]) -> str | None:
    """The command `env` would run given the single argument Linux passes from a #! line.

    GNU env parses that one argument as getopt does: without -S it is the command whole,
    spaces and all (``#!/usr/bin/env node --flag`` runs a file named "node --flag"); -S,
    --split-string=S (or an abbreviation such as --split=S) and -S inside a cluster (-vS,
    -iSnode) split it. None when env would run no command from the line."""
    if not args or not args[0]:
        return None
    arg = args[0]
    if arg.startswith("--"):
        name, eq, val = arg.partition("=")
        return _env_command(val.split()) if eq and _long_opt(name, "split-string") else None
    if arg.startswith("-") and arg != "-":
        for j in range(1, len(arg)):
            if arg[j] == "S":
                return _env_command(arg[j + 1 :].split())
            if arg[j] not in "iv0":
                return None  # -u/-C take the rest as their argument; others are errors
        return None
    return None if arg == "-" or "=" in arg else arg


def _long_opt(name: str, full: str) -> bool:
    """getopt_long accepts any unambiguous prefix of a long option."""
    return len(name) > 2 and full.startswith(name[2:])


def _env_command(words: list[str]) -> str | None:
    """The command in the argument list env's parser continues with after -S splits."""
    i = 0
    while i < len(words) and words[i].startswith("-") and words[i] != "-":
        w = words[i]
        i += 1
        if w == "--":
            break
        if w.startswith("--"):
            name, eq, val = w.partition("=")
            if _long_opt(name, "split-string"):
                if eq:
                    words.insert(i, val)
            elif not eq and (_long_opt(name, "unset") or _long_opt(name, "chdir")):
                i += 1
            continue
        for j in range(1, len(w)):
            if w[j] in "uCS":
                if j < len(w) - 1:
                    if w[j] == "S":
                        words.insert(i, w[j + 1 :])
                elif w[j] != "S":
                    i += 1  # the option's argument is the next word
                break
    if i < len(words) and words[i] == "-":
        i += 1
    while i < len(words) and "=" in words[i]:
        i += 1
    return words[i] if i < len(words) else None


class InterpreterLink:
    """One step of a shebang chain: the path the kernel (or env) runs, and its real file."""

    __slots__ = ("invoked", "real", "via_env", "searched_dirs", "error")

    def __init__(
        self,
        invoked: str,
        real: str | None,
        via_env: bool = False,
        searched_dirs: list[str] | None = None,
        error: str | None = None,
    ) -> None:
        self.invoked = invoked
        self.real = real
        self.via_env = via_env
        self.searched_dirs = searched_dirs or []
        self.error = error


def interpreter_chain(real: str, path_env: str, cwd: str) -> list[InterpreterLink]:
    """The interpreters that will run ``real``: #!/bin/sh -> [sh]; #!/usr/bin/env node ->
    [env, node (found on PATH)]; nested up to the kernel's limit."""
    chain: list[InterpreterLink] = []
    cur = real
    for _ in range(MAX_INTERPRETER_DEPTH):
        sb = read_shebang(cur)
        if sb is None:
            break
        interp = absolute(sb.interpreter, cwd)
        ireal, err = real_path(interp)
        chain.append(InterpreterLink(invoked=interp, real=ireal, error=err))
        if ireal is None:
            break
        if os.path.basename(interp) in _ENV_NAMES or os.path.basename(ireal) in _ENV_NAMES:
            target = env_target(sb.args)
            if target is not None:
                cands = candidates(target, path_env, cwd)
                dirs: list[str] = []
                if "/" not in target:
                    for entry in path_entries(path_env):
                        dirs.append(absolute(entry, cwd))
                        if cands and os.path.dirname(cands[0].invoked) == dirs[-1]:
                            break
                if not cands:
                    chain.append(
                        InterpreterLink(
                            invoked=target,
                            real=None,
                            via_env=True,
                            searched_dirs=dirs,
                            error="not found on PATH",
                        )
                    )
                    break
                c = cands[0]
                chain.append(
                    InterpreterLink(
                        invoked=c.invoked,
                        real=c.real,
                        via_env=True,
                        searched_dirs=dirs,
                        error=c.error,
                    )
                )
                if c.real is None:
                    break
                cur = c.real
                continue
        cur = ireal
    return chain
