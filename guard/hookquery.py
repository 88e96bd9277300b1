"""The Python side of the shell hooks: answer `guard _query` with code the shell evals.

See docs/hook-protocol.md. The reply is a list of ``__guard_put WORD ACTION STAMP MESSAGE
WATCH...`` calls, quoted for the asking shell, so the hook needs no parser of its own.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Optional

from guard.decide import Context, decide
from guard.events import log_event
from guard.model import Mode, Reason, Verdict
from guard.textsafe import json_safe

STAMP_SLACK_NS = 20_000_000  # the stamp predates the check, so a racing write is "newer"
STAMP_MAX_AGE_S = 86_400
_SAFE = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./+,:@%=")


def quote_posix(s: str) -> str:
    """Quote for bash and zsh. ``$'…'`` with \\xNN keeps every byte exact (newlines, ESC,
    non-UTF-8) and never lets one reach the terminal raw when the code is echoed."""
    b = os.fsencode(s)
    if b and all(c in _SAFE for c in b):
        return s
    out = []
    for c in b:
        if 0x20 <= c < 0x7F and c not in (0x27, 0x5C):
            out.append(chr(c))
        else:
            out.append(f"\\x{c:02x}")
    return "$'" + "".join(out) + "'"


def quote_fish(s: str) -> str:
    """Quote for fish: unquoted words with \\xNN (ASCII) / \\XNN (raw byte) escapes."""
    b = os.fsencode(s)
    if b and all(c in _SAFE and c not in b"%" for c in b):
        return s
    out = []
    for c in b:
        if c in _SAFE and c != ord("%"):
            out.append(chr(c))
        elif c < 0x80:
            out.append(f"\\x{c:02x}")
        else:
            out.append(f"\\X{c:02x}")
    return "".join(out) if out else "''"


QUOTERS = {"bash": quote_posix, "zsh": quote_posix, "fish": quote_fish}


def _has_control(s: str) -> bool:
    return any(c < 0x20 or c == 0x7F for c in os.fsencode(s))


def make_stamp(cache_dir: Path, started_ns: int) -> Optional[str]:
    """A file whose mtime is just before this check began; see docs/hook-protocol.md."""
    d = cache_dir / "stamps"
    try:
        d.mkdir(mode=0o700, parents=True, exist_ok=True)
        p = d / f"{os.getppid()}-{started_ns}"
        fd = os.open(str(p), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        os.close(fd)
        t = started_ns - STAMP_SLACK_NS
        os.utime(str(p), ns=(t, t))
        _prune(d)
        return str(p)
    except OSError:
        return None


def _prune(d: Path) -> None:
    """Drop stamps older than a day; a long-lived shell just re-queries."""
    cutoff = time.time() - STAMP_MAX_AGE_S
    with contextlib.suppress(OSError), os.scandir(d) as it:
        for e in it:
            with contextlib.suppress(OSError):
                if e.stat().st_mtime < cutoff:
                    os.unlink(e.path)


def render_block_line(v: Verdict, action: str) -> str:
    verb = {"block": "blocked", "warn": "warning: would block", "ask": "untrusted"}.get(
        action, "blocked"
    )
    fix = v.trust_command()
    tail = f"; to allow: {fix}" if fix else ""
    return f"guard: {verb} {v.message}{tail}"


def action_for(v: Verdict, mode: Mode, interactive: bool, may_ask: bool) -> str:
    if v.allowed or v.reason is Reason.NOT_FOUND:
        return "ok"
    if mode is Mode.MONITOR:
        return "monitor"
    if mode is Mode.WARN:
        return "warn"
    # Only a brand-new command may be trusted on the spot; a shadow, a changed pin or a
    # hijacked interpreter needs an explicit `guard trust`.
    if interactive and may_ask and v.reason is Reason.UNTRUSTED:
        return "ask"
    return "block"


def query(
    shell: str,
    words: list[str],
    hashed: dict[str, str],
    interactive: bool = False,
    ctx: Optional[Context] = None,
) -> str:
    quote = QUOTERS[shell]
    started = time.time_ns()
    own = ctx is None
    ctx = ctx or Context()
    stamp = make_stamp(ctx.loc.cache_dir, started)
    lines = []
    try:
        for w in words:
            v = decide(w, hashed=hashed.get(w), ctx=ctx)
            action = action_for(v, ctx.config.mode, interactive, ctx.config.prompt_new_commands)
            msg = "" if action == "ok" else render_block_line(v, action)
            if action != "ok":
                log_event(
                    ctx.loc,
                    {
                        "event": action,
                        "shell": shell,
                        "mode": ctx.config.mode.value,
                        **v.to_json(),
                        "word": json_safe(w),
                    },
                    ctx.config.events_max_bytes,
                )
            cacheable = (
                stamp is not None
                and action == "ok"
                and v.reason is not Reason.NOT_FOUND
                and not any(_has_control(p) for p in v.watch)
            )
            args = [w, action, stamp if cacheable else "", msg]
            if cacheable:
                args.extend(dict.fromkeys(v.watch))
            lines.append("__guard_put " + " ".join(quote(a) if a else "''" for a in args))
    finally:
        if own:
            ctx.close()
    return "\n".join(lines) + ("\n" if lines else "")
