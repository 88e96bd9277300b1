"""`guard exec`: run a command only when it is trusted, and run exactly the bytes that were checked.

A check by path followed by an exec by path leaves a window in which the file can be swapped.
So each file that will run is opened once, hashed from that descriptor, judged on that digest
(``trust_file``, the same judgement ``decide`` makes, fed the descriptor's digest), and then the
same descriptor is executed: ``os.execve(fd, …)`` is fexecve(3) (execveat with AT_EMPTY_PATH).

A ``#!`` script is not handed to the kernel (which would look its interpreter up by path
again). Its interpreter is opened and verified the same way and executed by descriptor, with
the verified script passed as ``/dev/fd/N`` of a descriptor left open across the exec, the
very argument the kernel itself passes when fexecve runs a script. ``#!/usr/bin/env NAME``
is emulated: NAME is looked up on PATH here, verified and executed directly, so no unverified
lookup happens after the check.

Where ``os.execve`` cannot take a descriptor (``os.execve not in os.supports_fd``), the file is
re-hashed by path just before the exec and executed by path: a narrow window remains there.

Exit codes: the command's own status once it runs; 126 denied or cannot be verified, 127 not
found, 125 guard's own error (bad config, no command) — the codes env(1) and the shell use, so
they do not collide with a command's own 1 or 2. Nothing runs in any of those cases.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys

from guard.decide import Context, decide, trust_file
from guard.errors import GuardError
from guard.hashing import Digests, HashError, hash_fd, open_regular, stat_key
from guard.model import Reason
from guard.resolve import (
    MAX_INTERPRETER_DEPTH,
    SHEBANG_MAX,
    candidates,
    parse_shebang,
    real_path,
)
from guard.textsafe import safe

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~4 ms per check

if TYPE_CHECKING:
    from typing import Callable, NoReturn

    from guard.model import Verdict

EXIT_GUARD_ERROR = 125
EXIT_DENIED = 126
EXIT_NOT_FOUND = 127

# fexecve is available: execute the verified descriptor itself. Tests flip this to exercise
# the by-path fallback that platforms without it use.
FD_EXEC = os.execve in os.supports_fd

# Test-only: called with the Plan after every file is verified and just before the exec, so a
# test can swap files in that window (tests/ci/test_exec.py). Only code already running inside
# this Python process can set it; nothing reads it from the environment.
_before_exec: Callable[[Plan], None] | None = None

# An env(1) shebang adds a level the kernel does not count, so allow twice its depth.
MAX_LINKS = 2 * MAX_INTERPRETER_DEPTH
_ENV_NAMES = ("env",)


class Denied(Exception):
    """Nothing will run; ``message`` is the one line for stderr."""

    def __init__(self, message: str, code: int = EXIT_DENIED) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class Opened:
    """One file opened once, hashed from that descriptor, and trusted on that digest."""

    __slots__ = ("invoked", "real", "fd", "key", "sha256", "head")

    def __init__(
        self, invoked: str, real: str, fd: int, key: tuple, sha256: str, head: bytes
    ) -> None:
        self.invoked = invoked
        self.real = real
        self.fd = fd
        self.key = key  # stat key when hashed: any write since moves ctime (and size)
        self.sha256 = sha256
        self.head = head  # the first bytes, read from the same descriptor: the #! line


class Plan:
    """What will be executed: ``files[-1]`` by descriptor, ``argv``, ``env``. Earlier files
    are the scripts it will read through ``/dev/fd/N``."""

    __slots__ = ("word", "files", "argv", "env")

    def __init__(self, word: str, files: list[Opened], argv: list[str], env: dict[str, str]):
        self.word = word
        self.files = files
        self.argv = argv
        self.env = env

    def close(self) -> None:
        for f in self.files:
            with contextlib.suppress(OSError):
                os.close(f.fd)


class _FdView:
    """What ``trust_file`` reads from a Context, with the digest of one open descriptor as
    its only hash source: the judgement is the decision's own, the evidence is the fd's."""

    def __init__(self, ctx: Context, real: str, digests: Digests) -> None:
        self.config = ctx.config
        self.allowlist = ctx.allowlist
        self.osdb = ctx.osdb
        self.loc = ctx.loc
        self.cache = self
        self._real = real
        self._digests = digests

    def digests(self, real: str, want_md5: bool, limit: int) -> Digests:
        if real != self._real or (want_md5 and self._digests.md5 is None):
            raise HashError("not the file that was opened")
        return self._digests


def open_verified(ctx: Context, invoked: str, real: str, what: str) -> Opened:
    """Open ``real``, hash it from that descriptor and judge that digest; Denied otherwise."""
    owner = ctx.osdb.owner(real) if ctx.osdb is not None else None
    want_md5 = owner is not None and owner.algo == "md5" and owner.digest is not None
    label = f"{what}{safe(invoked)}"
    try:
        fd, before = open_regular(real)
    except HashError as e:
        raise Denied(f"guard: blocked {label}: cannot open it to verify: {e}") from None
    try:
        limit = ctx.config.max_hash_bytes
        if before.st_size > limit:
            raise HashError(f"larger than max_hash_bytes ({limit} bytes)")
        head = os.pread(fd, SHEBANG_MAX, 0)
        sha, md5, total = hash_fd(fd, want_md5, limit)
        after = os.fstat(fd)
        if stat_key(before) != stat_key(after) or total != after.st_size:
            raise HashError("it changed while it was being verified")
        key = stat_key(after)
        t = trust_file(_FdView(ctx, real, Digests(sha, md5, total, key)), invoked, real)  # type: ignore[arg-type]
        if not t.trusted:
            raise HashError(f"the opened file is {t.status}: {t.detail}")
        # Let the descriptor be read from its start by whoever gets it as /dev/fd/N (on
        # systems where /dev/fd/N shares the offset rather than reopening).
        os.lseek(fd, 0, os.SEEK_SET)
    except (HashError, OSError) as e:
        os.close(fd)
        why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise Denied(f"guard: blocked {label}: {why}") from None
    return Opened(invoked, real, fd, key, sha, head)


def emulate_env(args: list[str], env: dict[str, str]) -> tuple[str, list[str], dict[str, str]]:
    """What `#!/usr/bin/env ARG` would run: (command word, its args, environment).

    The kernel passes everything after the interpreter as ONE argument, so without ``-S`` the
    whole of it is the command name, as env(1) sees it. Options beyond the common ones are
    refused rather than guessed."""
    if not args:
        raise Denied("guard: blocked: a `#!env` line names no command")
    arg = args[0]
    if arg.startswith("-S") or arg.startswith("--split-string"):
        rest = arg[2:] if arg.startswith("-S") else arg[len("--split-string") :].lstrip("=")
        if any(c in rest for c in "'\"\\$#"):
            raise Denied(
                f"guard: blocked: `#!env {safe(arg)}` uses quoting or expansion that "
                "guard exec does not emulate; run its interpreter explicitly"
            )
        words = rest.split()
    elif arg.startswith("-"):
        raise Denied(f"guard: blocked: `#!env {safe(arg)}`: option not emulated by guard exec")
    else:
        words = [arg]
    env = dict(env)
    i = 0
    while i < len(words):
        w = words[i]
        if w in ("-i", "--ignore-environment", "-"):
            env = {}
        elif w in ("-u", "--unset") and i + 1 < len(words):
            env.pop(words[i + 1], None)
            i += 1
        elif w.startswith("--unset="):
            env.pop(w[len("--unset=") :], None)
        elif w == "--":
            i += 1
            break
        elif w.startswith("-"):
            raise Denied(f"guard: blocked: `#!env {safe(arg)}`: option {safe(w)} not emulated")
        else:
            break
        i += 1
    while i < len(words) and "=" in words[i] and not words[i].startswith("="):
        k, _, v = words[i].partition("=")
        env[k] = v
        i += 1
    if i >= len(words):
        raise Denied(f"guard: blocked: `#!env {safe(arg)}` names no command")
    return words[i], words[i + 1 :], env


def make_plan(
    word: str,
    args: list[str],
    ctx: Context,
    path_env: str | None = None,
    cwd: str | None = None,
) -> Plan:
    """Decide, then open and verify every file that will run, and build the final exec."""
    path_env = os.environ.get("PATH", "") if path_env is None else path_env
    cwd = cwd or os.getcwd()
    v = decide(word, path_env, cwd, ctx=ctx)
    if not v.allowed:
        if v.reason != Reason.NOT_FOUND:
            _log_block(ctx, v)
        from guard.hookquery import render_block_line

        code = EXIT_NOT_FOUND if v.reason == Reason.NOT_FOUND else EXIT_DENIED
        raise Denied(render_block_line(v, "block"), code)
    assert v.path is not None and v.real is not None
    plan = Plan(word, [], [word, *args], dict(os.environ))
    try:
        first = open_verified(ctx, v.path, v.real, f"{safe(word)} → ")
        plan.files.append(first)
        if first.sha256 != v.sha256:
            raise Denied(
                f"guard: blocked {safe(word)} → {safe(v.path)}: it changed between the check "
                "and opening it"
            )
        _add_interpreters(plan, ctx, cwd)
    except BaseException:
        plan.close()
        raise
    return plan


def _add_interpreters(plan: Plan, ctx: Context, cwd: str) -> None:
    """Follow #! lines read from the verified descriptors, verifying each interpreter."""
    for _ in range(MAX_LINKS):
        cur = plan.files[-1]
        sb = parse_shebang(cur.head)
        if sb is None:
            return
        os.set_inheritable(cur.fd, True)  # the interpreter reads the script through it
        script = f"/dev/fd/{cur.fd}"
        rest = plan.argv[1:]
        interp = (
            sb.interpreter if sb.interpreter.startswith("/") else os.path.join(cwd, sb.interpreter)
        )
        ireal, err = real_path(interp)
        if ireal is None:
            raise Denied(
                f"guard: blocked {safe(cur.invoked)}: its interpreter {safe(interp)}: {err}"
            )
        if os.path.basename(interp) in _ENV_NAMES or os.path.basename(ireal) in _ENV_NAMES:
            target, targs, plan.env = emulate_env(sb.args, plan.env)
            cands = candidates(target, plan.env.get("PATH", os.defpath), cwd)
            if not cands or cands[0].real is None or cands[0].error is not None:
                why = cands[0].error if cands else "not found on PATH"
                raise Denied(
                    f"guard: blocked {safe(cur.invoked)}: `#!{safe(interp)}` cannot run "
                    f"{safe(target)}: {why}",
                    EXIT_NOT_FOUND if not cands else EXIT_DENIED,
                )
            c = cands[0]
            nxt = open_verified(ctx, c.invoked, c.real, "interpreter ")
            plan.argv = [target, *targs, script, *rest]
        else:
            nxt = open_verified(ctx, interp, ireal, "interpreter ")
            plan.argv = [interp, *sb.args, script, *rest]
        plan.files.append(nxt)
    raise Denied(f"guard: blocked {safe(plan.word)}: more than {MAX_LINKS} nested interpreters")


def _log_block(ctx: Context, v: Verdict) -> None:
    from guard.events import log_event
    from guard.textsafe import json_safe

    record = {"event": "block", "source": "exec", "mode": "block", **v.to_json()}
    record["word"] = json_safe(v.word)
    log_event(ctx.loc, record, ctx.config.events_max_bytes)


def _still_verified(f: Opened, limit: int) -> None:
    """The inode behind the descriptor still holds the verified bytes. A moved stat key is not
    proof of a change (renaming another file over the name moves the old inode's ctime), so
    then the descriptor is hashed again; a change that cannot be ruled out denies."""
    st = os.fstat(f.fd)
    if stat_key(st) == f.key:
        return
    try:
        os.lseek(f.fd, 0, os.SEEK_SET)
        sha, _, _ = hash_fd(f.fd, False, limit)
        os.lseek(f.fd, 0, os.SEEK_SET)
        same = sha == f.sha256 and stat_key(os.fstat(f.fd)) == stat_key(st)
    except (HashError, OSError):
        same = False
    if not same:
        raise Denied(f"guard: blocked {safe(f.invoked)}: it was modified after it was verified")


def run_plan(plan: Plan, limit: int) -> NoReturn:
    """Execute the verified descriptor; raise Denied if anything moved since it was hashed."""
    if _before_exec is not None:
        _before_exec(plan)
    for f in plan.files:
        _still_verified(f, limit)
    target = plan.files[-1]
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        if FD_EXEC:
            os.execve(target.fd, plan.argv, plan.env)
        # No fexecve here: re-hash by path immediately before executing by path.
        from guard.hashing import digest_file

        try:
            d = digest_file(target.real, limit=limit)
        except HashError as e:
            raise Denied(f"guard: blocked {safe(target.invoked)}: {e}") from None
        if d.sha256 != target.sha256:
            raise Denied(f"guard: blocked {safe(target.invoked)}: it changed after it was verified")
        os.execve(target.real, plan.argv, plan.env)
    except OSError as e:
        why = e.strerror or "cannot execute"
        if e.errno == errno.ENOEXEC:  # neither a binary the kernel knows nor a #! script
            why = "not an executable format (no #! line); run it with its interpreter"
        raise Denied(f"guard: cannot run {safe(target.invoked)}: {why}") from None
    raise AssertionError("unreachable")


def main(argv: list[str]) -> int:
    """``guard exec [--] CMD ARGS…``. Returns only when nothing ran (the exit status)."""
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv or not argv[0]:
        sys.stderr.write("guard: exec: no command given (usage: guard exec [--] CMD ARGS…)\n")
        return EXIT_GUARD_ERROR
    plan: Plan | None = None
    try:
        ctx = Context()
        try:
            plan = make_plan(argv[0], argv[1:], ctx)
        finally:
            ctx.close()
        run_plan(plan, ctx.config.max_hash_bytes)
    except Denied as d:
        sys.stderr.write(d.message + "\n")
        return d.code
    except GuardError as e:
        sys.stderr.write(f"guard: error: {e}; nothing was run\n")
        return EXIT_GUARD_ERROR
    finally:
        if plan is not None:
            plan.close()
    return EXIT_DENIED
