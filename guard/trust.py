"""Approving and revoking files: the library behind `guard trust` / `guard untrust`."""

from __future__ import annotations

import os
import time

from guard.allowlist import Pin, update_allowlist
from guard.decide import Context, trust_file
from guard.errors import GuardError
from guard.hashing import HashError, digest_file
from guard.resolve import absolute, candidates, real_path
from guard.textsafe import safe

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~4 ms per check

if TYPE_CHECKING:
    from typing import Callable


class TrustTarget:
    __slots__ = ("invoked", "real")

    def __init__(self, invoked: str, real: str) -> None:
        self.invoked = invoked
        self.real = real


def resolve_target(word: str, path_env: str, cwd: str) -> TrustTarget:
    """NAME means the file the shell would run now; anything with a slash is that path."""
    if "/" in word:
        p = absolute(word, cwd)
        real, err = real_path(p)
        if real is None:
            raise GuardError(f"cannot trust {safe(p)}: {err}")
        if os.path.isdir(real):
            raise GuardError(f"cannot trust {safe(p)}: is a directory (use --dir)")
        return TrustTarget(p, real)
    cands = candidates(word, path_env, cwd)
    if not cands:
        raise GuardError(f"cannot trust {safe(word)}: not found on PATH")
    c = cands[0]
    if c.real is None:
        raise GuardError(f"cannot trust {safe(c.invoked)}: {c.error}")
    return TrustTarget(c.invoked, c.real)


def make_pin(ctx: Context, target: TrustTarget, note: str | None) -> Pin:
    try:
        d = digest_file(target.real, limit=ctx.config.max_hash_bytes)
    except HashError as e:
        raise GuardError(f"cannot trust {safe(target.invoked)}: {e}") from None
    prov = trust_file(ctx, target.invoked, target.real).provenance
    return Pin(
        path=target.invoked,
        real=target.real,
        sha256=d.sha256,
        size=d.size,
        added=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        note=None if note is None else safe(note),
        provenance=prov.to_json() if prov else None,
    )


def dir_targets(directory: str, cwd: str) -> list[TrustTarget]:
    """Every executable regular file directly in ``directory`` (through symlinks)."""
    d = directory if directory.startswith("/") else os.path.join(cwd, directory)
    try:
        names = sorted(os.listdir(d))
    except OSError as e:
        raise GuardError(f"cannot list {safe(d)}: {e.strerror}") from None
    out = []
    for n in names:
        p = os.path.join(d, n)
        real, _ = real_path(p)
        if real and os.path.isfile(real) and os.access(p, os.X_OK):
            out.append(TrustTarget(p, real))
    return out


def _refuse_system_pinned(ctx: Context, targets: list[TrustTarget]) -> None:
    """A user pin never counts for a file the system policy pins: say so instead of writing
    one that would be silently ignored."""
    if ctx.policy is None:
        return
    from guard.system import forbid_user_trust

    forbid_user_trust(ctx.loc)
    for t in targets:
        pin = ctx.policy.claim(t.invoked, t.real)
        if pin is not None:
            raise GuardError(
                f"cannot trust {safe(t.invoked)}: the system policy pins it in "
                f"{safe(ctx.policy.pin_files.get(pin.path, ctx.policy.pins_dir))}, and a system "
                f"pin wins over yours; ask an administrator to update it"
            )


def trust(
    ctx: Context,
    targets: list[TrustTarget],
    note: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[Pin]:
    _refuse_system_pinned(ctx, targets)
    pins = []
    for i, t in enumerate(targets):
        pins.append(make_pin(ctx, t, note))
        if progress:
            progress(i + 1, len(targets))
    update_allowlist(ctx.loc, add=pins, remove=[])
    return pins


def untrust(ctx: Context, words: list[str], cwd: str) -> list[str]:
    """Remove pins: a path removes that pin (or pins of that real file); a name, every pin
    whose file has that name."""
    from guard.allowlist import load_allowlist

    if ctx.policy is not None:
        from guard.system import forbid_user_trust

        forbid_user_trust(ctx.loc)
    # The user's own pins: ctx.allowlist also holds the system policy's, which only root edits.
    # With GUARD_LOCK, ctx.allowlist is the lock's (docs/ci.md): read the user's own file.
    mine = (
        ctx.allowlist.pins
        if ctx.policy is None and ctx.lock_file is None
        else load_allowlist(ctx.loc).pins
    )

    def matches(w: str, key: str, pin: Pin) -> bool:
        if "/" in w:
            return absolute(w, cwd) in (key, pin.real)
        return os.path.basename(key) == w

    doomed: list[str] = []
    for w in words:
        hit = [k for k, pin in mine.items() if matches(w, k, pin)]
        if not hit:
            for k, pin in (ctx.policy.pins if ctx.policy is not None else {}).items():
                if matches(w, k, pin):
                    raise GuardError(
                        f"{safe(w)} is pinned by the system policy "
                        f"({safe(ctx.policy.pin_files.get(k, ctx.policy.pins_dir))}); only an "
                        f"administrator can remove that pin"
                    )
            raise GuardError(f"nothing pinned for {safe(w)}")
        doomed.extend(hit)
    update_allowlist(ctx.loc, add=[], remove=doomed)
    return doomed
