"""The Python side of the shell hooks: answer `guard _query` with code the shell evals.

See docs/hook-protocol.md. The reply is a list of ``__guard_put WORD ACTION STAMP MESSAGE
WATCH...`` calls, quoted for the asking shell, so the hook needs no parser of its own.
"""

from __future__ import annotations

import os
import time

from guard.decide import Context, decide
from guard.model import Mode, Reason
from guard.textsafe import SHELL_SAFE_BYTES, json_safe, quote_posix

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~4 ms per check

if TYPE_CHECKING:
    from guard.model import Verdict

STAMP_SLACK_NS = 20_000_000  # the stamp predates the check, so a racing write is "newer"
STAMP_MAX_AGE_S = 86_400


def quote_fish(s: str) -> str:
    """Quote for fish: unquoted words with \\xNN (ASCII) / \\XNN (raw byte) escapes."""
    b = os.fsencode(s)
    if b and all(c in SHELL_SAFE_BYTES and c not in b"%" for c in b):
        return s
    out = []
    for c in b:
        if c in SHELL_SAFE_BYTES and c != ord("%"):
            out.append(chr(c))
        elif c < 0x80:
            out.append(f"\\x{c:02x}")
        else:
            out.append(f"\\X{c:02x}")
    return "".join(out) if out else "''"


QUOTERS = {"bash": quote_posix, "zsh": quote_posix, "fish": quote_fish}


def existing_ancestor(path: str) -> str:
    while path not in ("/", "") and not os.path.isdir(path):
        path = os.path.dirname(path)
    return path or "/"


def watch_list(paths: list[str]) -> list[str]:
    """The WATCH paths, deduplicated. `-nt` is false for a missing file, so a missing one is
    replaced by its nearest existing ancestor: creating it (a PATH dir that did not exist, the
    config dir) changes that ancestor's mtime."""
    out: dict[str, None] = {}
    for p in paths:
        out[p if os.path.lexists(p) else existing_ancestor(p)] = None
    return list(out)


def _has_control(s: str) -> bool:
    return any(c < 0x20 or c == 0x7F for c in os.fsencode(s))


def make_stamp(stamps_dir: str, started_ns: int) -> str | None:
    """A file whose mtime is just before this check began; see docs/hook-protocol.md."""
    try:
        os.makedirs(stamps_dir, mode=0o700, exist_ok=True)
        p = os.path.join(stamps_dir, f"{os.getppid()}-{started_ns}")
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        os.close(fd)
        t = started_ns - STAMP_SLACK_NS
        os.utime(p, ns=(t, t))
    except OSError:
        return None
    if started_ns % 64 == 0:  # prune now and then, not on every query
        _prune(stamps_dir)
    return p


def _prune(d: str) -> None:
    """Drop stamps older than a day; a long-lived shell just re-queries."""
    cutoff = time.time() - STAMP_MAX_AGE_S
    try:
        with os.scandir(d) as it:
            for e in it:
                try:
                    if e.stat().st_mtime < cutoff:
                        os.unlink(e.path)
                except OSError:
                    pass
    except OSError:
        pass


def render_block_line(v: Verdict, action: str) -> str:
    verb = {"block": "blocked", "warn": "warning: would block", "ask": "untrusted"}.get(
        action, "blocked"
    )
    fix = v.trust_command()
    if fix and os.environ.get("GUARD_LOCK"):
        fix = lock_fix(v.word)  # under a lock (guard-bash) `guard trust` would not help
    tail = f"; to allow: {fix}" if fix else ""
    return f"guard: {verb} {v.message}{tail}"


def lock_fix(word: str) -> str:
    """The fix when GUARD_LOCK is the trust source: re-pin the name in guard.lock."""
    plain = all(c.isascii() and (c.isalnum() or c in "._+-") for c in word)
    if word and plain and not word.startswith("-"):
        return f"guard lock {word} on the runner, review, commit guard.lock"
    return "pin it in guard.lock (docs/ci.md)"


def action_for(v: Verdict, mode: str, interactive: bool, may_ask: bool) -> str:
    if v.allowed or v.reason == Reason.NOT_FOUND:
        return "ok"
    if mode == Mode.MONITOR:
        return "monitor"
    if mode == Mode.WARN:
        return "warn"
    # Only a brand-new command may be trusted on the spot; a shadow, a changed pin or a
    # hijacked interpreter needs an explicit `guard trust`.
    if interactive and may_ask and v.reason == Reason.UNTRUSTED:
        return "ask"
    return "block"


def mode_line(ctx: Context) -> str:
    """``__guard_mode MODE`` (``--want-mode``): the effective mode — config.yaml, GUARD_MODE,
    then the system policy's floor — for the hook's own local decisions (a substitution in
    command position, guard being unavailable later), which it cannot read from the config."""
    return f"__guard_mode {ctx.config.mode}"


def query(
    shell: str,
    words: list[str],
    hashed: dict[str, str],
    interactive: bool = False,
    ctx: Context | None = None,
    want_mode: bool = False,
) -> str:
    quote = QUOTERS[shell]
    started = time.time_ns()
    own = ctx is None
    if ctx is None:
        ctx = Context()
        ctx.pinned_owner = False  # the reply never shows a pinned file's package
    stamp = make_stamp(ctx.loc.stamps_dir, started)
    lines = [mode_line(ctx)] if want_mode else []
    try:
        for w in words:
            v = decide(w, hashed=hashed.get(w), ctx=ctx)
            action = action_for(v, ctx.config.mode, interactive, ctx.config.prompt_new_commands)
            msg = "" if action == "ok" else render_block_line(v, action)
            if action != "ok":
                from guard.events import log_event

                log_event(
                    ctx.loc,
                    {
                        "event": action,
                        "shell": shell,
                        "mode": ctx.config.mode,
                        **v.to_json(),
                        "word": json_safe(w),
                    },
                    ctx.config.events_max_bytes,
                )
            cacheable = (
                stamp is not None
                and action == "ok"
                and v.reason != Reason.NOT_FOUND
                and not any(_has_control(p) for p in v.watch)
            )
            args = [w, action, stamp if cacheable else "", msg]
            if cacheable:
                args.extend(watch_list(v.watch))
            lines.append("__guard_put " + " ".join(quote(a) if a else "''" for a in args))
    finally:
        if own:
            ctx.close()
    return "\n".join(lines) + ("\n" if lines else "")


def _plainly_os_packaged(ctx: Context, invoked: str, path_env: str, cwd: str) -> bool:
    """Cheap pre-check for the name list: an unpinned winner that the OS package DB owns, as
    is every interpreter in its shebang chain, is taken as allowed without hashing it (hashing
    all of /usr/bin costs seconds). The per-command check still verifies its content."""
    from guard.resolve import interpreter_chain, real_path

    osdb = ctx.osdb
    if osdb is None or not ctx.config.trust_os_packages:
        return False
    real = real_path(invoked)[0]
    if real is None or ctx.allowlist.by_path(invoked) or ctx.allowlist.by_real(real):
        return False
    if osdb.owner(real) is None:
        return False
    for link in interpreter_chain(real, path_env, cwd):
        if link.real is not None and osdb.owner(link.real) is None:
            return False
    return True


def shadows(shell: str, ctx: Context | None = None, want_mode: bool = False) -> str:
    """For hooks that can only protect by name (fish scripts and `fish -c`, where no key press
    can be intercepted): one ``__guard_shadow NAME`` per name whose PATH winner is not allowed,
    then ``__guard_shadows STAMP WATCH...`` saying how long the list holds.

    WATCH is every PATH directory (a file appearing, vanishing or being renamed changes one),
    the config dir (allowlist/config) and what each pinned winner's verdict watches. Files that
    are trusted as intact OS-package files are not watched one by one (there are thousands);
    see docs/shell-fish.md for that residual risk."""
    from guard.resolve import _is_runnable, path_entries

    quote = QUOTERS[shell]
    started = time.time_ns()
    own = ctx is None
    ctx = ctx or Context()
    path_env = os.environ.get("PATH", "")
    cwd = os.getcwd()
    stamp = make_stamp(ctx.loc.stamps_dir, started)
    lines = [mode_line(ctx)] if want_mode else []
    watch: list[str] = []
    relative = False
    try:
        seen: set[str] = set()
        for entry in path_entries(path_env):
            relative = relative or not entry.startswith("/")
            d = entry if entry.startswith("/") else os.path.join(cwd, entry)
            watch.append(d)
            try:
                names = sorted(os.listdir(d))
            except OSError:
                continue
            for name in names:
                if name in seen or not _is_runnable(os.path.join(d, name)):
                    continue
                seen.add(name)
                if _plainly_os_packaged(ctx, os.path.join(d, name), path_env, cwd):
                    continue
                v = decide(name, path_env, cwd, ctx=ctx)
                if v.allowed:
                    if v.reason == Reason.PINNED:
                        watch.extend(v.watch)
                    continue
                if v.reason == Reason.NOT_FOUND:
                    continue
                lines.append("__guard_shadow " + quote(name))
        # the config dir catches files appearing or renamed into place; the files themselves
        # catch an in-place rewrite (a missing one falls back to the dir, see watch_list)
        watch.extend((ctx.loc.config_dir, ctx.loc.config_file, ctx.loc.allowlist_file))
        if ctx.lock_file is not None:
            watch.append(ctx.lock_file)  # GUARD_LOCK: its pins are the trust source
        if ctx.policy is not None:
            watch.extend(ctx.policy.watch)
        wl = watch_list(watch)
        ok = stamp is not None and not relative and not any(_has_control(p) for p in wl)
        tail = [stamp, *wl] if ok and stamp else [""]
        lines.append("__guard_shadows " + " ".join(quote(a) if a else "''" for a in tail))
    finally:
        if own:
            ctx.close()
    return "\n".join(lines) + "\n"
