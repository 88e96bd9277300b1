"""The one decision: may this command word run? Every surface calls ``decide``.

Order of questions, cheapest first: resolve like the shell; is the winner pinned (by the path
as invoked, then by real path) or an intact OS-package file; if so, is every shebang interpreter
trusted too; if not, is a trusted file of the same name further down PATH (a shadow).
"""

from __future__ import annotations

import os

from guard.allowlist import load_allowlist
from guard.config import load_config
from guard.hashing import HashError
from guard.model import Reason, Verdict
from guard.paths import locations
from guard.resolve import candidates, interpreter_chain, path_entries, symlink_hops
from guard.system import load_policy
from guard.textsafe import safe
from guard.verify_cache import VerifyCache

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~4 ms per check

if TYPE_CHECKING:
    from guard.allowlist import Allowlist, Pin
    from guard.config import Config
    from guard.model import Candidate, Provenance
    from guard.paths import Locations
    from guard.system import Policy


class Context:
    """What a batch of decisions shares: config, allowlist, package DB and caches, loaded once."""

    def __init__(self, loc: Locations | None = None) -> None:
        self.loc = loc or locations()
        self.config: Config = load_config(self.loc)
        # The root-owned system policy (guard.system) tightens the config and may replace or
        # override the user's pins; None when the machine has none.
        self.policy: Policy | None = load_policy(self.loc)
        # GUARD_LOCK (set by guard-bash; docs/ci.md): a guard.lock whose pins take the place
        # of the user's allowlist, so a CI job trusts what the repository reviewed, not what a
        # runner happens to have pinned. The system policy still applies on top of it.
        self.lock_file: str | None = os.environ.get("GUARD_LOCK") or None
        if self.policy is None:
            self.allowlist: Allowlist = self._user_allowlist()
        else:
            mine = None
            if self.policy.allow_user_trust or self.lock_file is not None:
                mine = self._user_allowlist()  # a lock still counts for trust_os_packages
            self.allowlist = self.policy.apply(
                self.config, mine if self.policy.allow_user_trust else None
            )
        self.cache = VerifyCache(self.loc.verify_cache_file)
        # Also look up the OS package of a file its pin already settles: reports show it
        # (`guard check --json`, audit). The hooks' query turns this off: its answer never
        # shows it, and the package DB costs a first sighting ~1.5 ms to import and open.
        self.pinned_owner = True
        self._osdb: object = None
        self._osdb_loaded = False

    def _user_allowlist(self) -> Allowlist:
        if self.lock_file is None:
            return load_allowlist(self.loc)
        from guard.lockfile import load_lock_allowlist

        pins, trust_os = load_lock_allowlist(self.lock_file, self.loc)
        if trust_os is False:
            self.config.trust_os_packages = False
        return pins

    @property
    def osdb(self):  # -> Optional[OsPackageDB]
        if not self._osdb_loaded:
            self._osdb_loaded = True
            from guard.provenance import load_os_db

            self._osdb = load_os_db(self.loc.cache_dir)
        return self._osdb

    def close(self) -> None:
        self.cache.save()


class FileTrust:
    """How far one file is trusted, with the evidence."""

    __slots__ = ("status", "detail", "sha256", "provenance", "pin")

    def __init__(
        self,
        status: str,  # "pinned" | "os-package" | "modified" | "untrusted" | "unreadable"
        detail: str = "",
        sha256: str | None = None,
        provenance: Provenance | None = None,
        pin: Pin | None = None,
    ) -> None:
        self.status = status
        self.detail = detail
        self.sha256 = sha256
        self.provenance = provenance
        self.pin = pin

    @property
    def trusted(self) -> bool:
        return self.status in ("pinned", "os-package")


def trust_file(
    ctx: Context, invoked: str, real: str | None, provenance: bool | None = None
) -> FileTrust:
    """Judge one file on its own: pins first, then the OS package database.

    ``provenance``: look up where a file outside the OS packages came from (pip, npm,
    Homebrew; guard.provenance.lookup) — None: only when it is not trusted, so the allow path
    pays nothing; True: always (`guard which`); False: never (only ``.trusted`` is wanted)."""
    eager = provenance is True or getattr(ctx, "pinned_owner", True)
    t = _judge_file(ctx, invoked, real, with_owner=eager)
    if provenance is None:
        provenance = not t.trusted
    if provenance and t.provenance is None:
        from guard.provenance.lookup import provenance_of

        t.provenance = provenance_of(invoked, real, sha256=t.sha256)
    return t


def _judge_file(ctx: Context, invoked: str, real: str | None, with_owner: bool) -> FileTrust:
    limit = ctx.config.max_hash_bytes
    pin = ctx.allowlist.by_path(invoked)
    if real is None:
        why = "pinned file is gone" if pin else "cannot be resolved"
        return FileTrust("modified" if pin else "unreadable", why, pin=pin)
    # Without ``with_owner``, a file with a pin is judged by its SHA-256 alone when that
    # matches: the OS package DB is read only when the pins do not settle it.
    by_real = ctx.allowlist.by_real(real)
    defer_owner = (pin is not None or bool(by_real)) and not with_owner
    owner = None if defer_owner else _os_owner(ctx, real)
    want_md5 = owner is not None and owner.algo == "md5" and owner.digest is not None
    try:
        d = ctx.cache.digests(real, want_md5=want_md5, limit=limit)
        if defer_owner:
            if pin is not None and pin.real == real and pin.sha256 == d.sha256:
                return FileTrust("pinned", "matches its pin", d.sha256, None, pin)
            if pin is None:
                for p in by_real:
                    if p.sha256 == d.sha256:
                        detail = f"matches the pin of {safe(p.path)}"
                        return FileTrust("pinned", detail, d.sha256, None, p)
            owner = _os_owner(ctx, real)  # not pinned after all: judged in full below
            if owner is not None and owner.algo == "md5" and owner.digest is not None:
                d = ctx.cache.digests(real, want_md5=True, limit=limit)
    except HashError as e:
        return FileTrust("unreadable", str(e), pin=pin)
    prov: Provenance | None = None
    os_ok: bool | None = None
    if owner is not None:
        from guard.provenance import to_provenance

        if owner.digest is not None:
            mine = d.md5 if owner.algo == "md5" else d.sha256
            os_ok = mine == owner.digest
        prov = to_provenance(owner, os_ok)
    if pin is not None:
        if pin.real != real:
            return FileTrust(
                "modified",
                f"pinned as {safe(pin.real)} but now resolves to {safe(real)}",
                d.sha256,
                prov,
                pin,
            )
        if pin.sha256 != d.sha256:
            return FileTrust("modified", "content differs from its pin", d.sha256, prov, pin)
        return FileTrust("pinned", "matches its pin", d.sha256, prov, pin)
    for p in by_real:
        if p.sha256 == d.sha256:
            return FileTrust("pinned", f"matches the pin of {safe(p.path)}", d.sha256, prov, p)
    if by_real:
        return FileTrust("modified", "content differs from its pin", d.sha256, prov, by_real[0])
    if owner is not None and ctx.config.trust_os_packages:
        if os_ok:
            return FileTrust("os-package", f"intact file of {prov.short()}", d.sha256, prov)
        if os_ok is False:
            return FileTrust(
                "modified",
                f"differs from the {owner.algo} that package {owner.package} recorded",
                d.sha256,
                prov,
            )
    return FileTrust("untrusted", "not pinned and not from an OS package", d.sha256, prov)


def _os_owner(ctx: Context, real: str):  # -> Optional[OsOwner]
    osdb = ctx.osdb
    return osdb.owner(real) if osdb is not None else None


def _watch_for(word: str, winner: Candidate, path_env: str, cwd: str, loc: Locations) -> list[str]:
    """Everything whose change could change this verdict (the hook compares these to a stamp)."""
    w: list[str] = []
    if "/" not in word:
        wdir = os.path.dirname(winner.invoked)
        for entry in path_entries(path_env):
            d = entry if entry.startswith("/") else os.path.join(cwd, entry)
            w.append(d)
            if d == wdir:
                break
    w.append(winner.invoked)
    for hop in symlink_hops(winner.invoked):
        w.extend((hop, os.path.dirname(hop)))
    if winner.real:
        w.append(winner.real)
    # The dir catches an allowlist replaced by rename (guard's own writes); the files catch an
    # editor that rewrites them in place.
    w.extend((loc.config_dir, loc.allowlist_file, loc.config_file))
    return w


def decide(
    word: str,
    path_env: str | None = None,
    cwd: str | None = None,
    *,
    hashed: str | None = None,
    ctx: Context | None = None,
) -> Verdict:
    """Decide whether running ``word`` is allowed. ``hashed`` is the path the shell's own
    command table maps ``word`` to, when it has an entry (bash ``hash -p``, zsh ``hash x=``)."""
    own_ctx = ctx is None
    ctx = ctx or Context()
    try:
        return _decide(word, path_env, cwd, hashed, ctx)
    finally:
        if own_ctx:
            ctx.close()


def _decide(
    word: str, path_env: str | None, cwd: str | None, hashed: str | None, ctx: Context
) -> Verdict:
    path_env = os.environ.get("PATH", "") if path_env is None else path_env
    cwd = cwd or os.getcwd()
    cands = candidates(word, path_env, cwd)
    if hashed:
        hc = candidates(hashed if "/" in hashed else "./" + hashed, path_env, cwd)
        if hc and hc[0].error is None:
            cands = [hc[0]] + [c for c in cands if c.invoked != hc[0].invoked]
    name = safe(word)
    if not cands:
        return Verdict(word, Reason.NOT_FOUND, message=f"{name}: not found")
    win = cands[0]
    head = f"{name} → {safe(win.invoked)}"
    watch = _watch_for(word, win, path_env, cwd, ctx.loc)
    if ctx.policy is not None:
        watch.extend(ctx.policy.watch)
    if ctx.lock_file is not None:
        watch.append(ctx.lock_file)
    if win.error is not None:
        reason = Reason.NOT_FOUND if "/" in word and win.real is None else Reason.UNREADABLE
        return Verdict(
            word,
            reason,
            win.invoked,
            win.real,
            message=f"{head} ({reason}): {win.error}",
            watch=watch,
        )
    t = trust_file(ctx, win.invoked, win.real)
    v = Verdict(
        word,
        Reason.UNTRUSTED,
        win.invoked,
        win.real,
        provenance=t.provenance,
        sha256=t.sha256,
        watch=watch,
    )
    if t.trusted:
        for link in interpreter_chain(win.real or win.invoked, path_env, cwd):
            watch.extend(link.searched_dirs)
            watch.append(link.invoked)
            for hop in symlink_hops(link.invoked):
                watch.extend((hop, os.path.dirname(hop)))
            if link.real is None:
                continue  # exec fails with ENOENT: nothing runs; planting one changes a watched dir
            watch.append(link.real)
            v.interpreters.append(link.real)
            it = trust_file(ctx, link.invoked, link.real)
            if not it.trusted:
                v.reason = Reason.INTERPRETER
                v.culprit = link.invoked
                via = " (found by env on PATH)" if link.via_env else ""
                ip = it.provenance
                iprov = f" [{ip.short()}]" if ip and ip.package else ""
                v.message = (
                    f"{head} (interpreter): its interpreter {safe(link.invoked)}{via} is "
                    f"{it.status}{iprov}: {it.detail}"
                )
                return v
        v.reason = Reason.PINNED if t.status == "pinned" else Reason.OS_PACKAGE
        v.message = f"{head} ({v.reason}): {t.detail}"
        return v
    prov = f" [{t.provenance.short()}]" if t.provenance and t.provenance.package else ""
    if t.status == "modified":
        v.reason = Reason.MODIFIED
        v.culprit = win.invoked
        v.message = f"{head} (modified){prov}: {t.detail}"
        return v
    if t.status == "unreadable":
        v.reason = Reason.UNREADABLE
        v.message = f"{head} (unreadable): {t.detail}"
        return v
    for c in cands[1:]:
        if c.error is None and trust_file(ctx, c.invoked, c.real, provenance=False).trusted:
            v.reason = Reason.SHADOWING
            v.shadowed = c.invoked
            v.message = (
                f"{head} (shadowing){prov}: untrusted file shadows trusted {safe(c.invoked)}"
            )
            return v
    v.message = f"{head} (untrusted){prov}: {t.detail}"
    return v
