"""guard.lock: the tools a repository's CI runs, pinned for CI machines, and `guard verify`.

The lock is committed next to the CI config. ``guard lock`` writes it (names given, or the
tools guard.discover finds in the CI config and scripts); ``guard verify`` checks that this
machine resolves every locked name to the same file with the same SHA-256 (and the same
``#!`` interpreters), and says what differs. Format (version 1, keys in this order, tools
sorted by name, so regenerating an unchanged machine rewrites identical bytes)::

    version: 1
    tools:
      git:
        path: /usr/bin/git             # what PATH finds (the path the shell would exec)
        real: /usr/bin/git             # symlinks resolved
        sha256: 0f3c…
        provenance: dpkg:git 1:2.39.2-1.1
        interpreters:                  # only for #! scripts: the chain, in order
        - {path: /usr/bin/env, real: /usr/bin/env, sha256: …}
        used_in: [.github/workflows/ci.yml]   # where discovery saw it (absent for named tools)

An optional top-level ``trust_os_packages: false`` (written by hand, kept by ``guard lock``)
makes the lock the only trust source where it is enforced (``GUARD_LOCK``, guard-bash).
A path that is not UTF-8 is stored as YAML ``!!binary`` bytes, as in the allowlist.
"""

from __future__ import annotations

import os

from guard.allowlist import yamlable_path
from guard.errors import ConfigError, GuardError
from guard.textsafe import json_safe, safe

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~4 ms per check

if TYPE_CHECKING:
    from typing import Any

    from guard.allowlist import Allowlist, Pin
    from guard.decide import Context
    from guard.paths import Locations

LOCK_FILE = "guard.lock"
# A guard.lock whose pins replace the user's allowlist in every decision (guard-bash sets it;
# guard.decide.Context reads it). Must be an absolute path.
LOCK_ENV = "GUARD_LOCK"
VERSION = 1
MAX_LOCK_BYTES = 16 << 20
_HEX = frozenset("0123456789abcdef")
_TOOL_KEYS = ("path", "real", "sha256", "provenance", "interpreters", "used_in")
HEADER = (
    b"# guard.lock: the tools this repository's CI runs, pinned by SHA-256 (docs/ci.md).\n"
    b"# Check a machine: guard verify.  Update after reviewing a change: guard lock NAME...\n"
)


class LockedFile:
    __slots__ = ("path", "real", "sha256")

    def __init__(self, path: str, real: str, sha256: str) -> None:
        self.path = path
        self.real = real
        self.sha256 = sha256


class LockEntry:
    __slots__ = (
        "name",
        "path",
        "real",
        "sha256",
        "provenance",
        "interpreters",
        "used_in",
        "status",
    )

    def __init__(
        self,
        name: str,
        path: str,
        real: str,
        sha256: str,
        provenance: str | None = None,
        interpreters: list[LockedFile] | None = None,
        used_in: list[str] | None = None,
    ) -> None:
        self.name = name
        self.path = path
        self.real = real
        self.sha256 = sha256
        self.provenance = provenance
        self.interpreters = interpreters or []
        self.used_in = used_in or []
        self.status: str | None = None  # guard's own verdict here when pinned (not stored)


class Lock:
    def __init__(
        self, tools: dict[str, LockEntry] | None = None, trust_os_packages: bool | None = None
    ) -> None:
        self.tools: dict[str, LockEntry] = tools if tools is not None else {}
        # False: where the lock is enforced, OS-package files are not trusted on their own.
        self.trust_os_packages = trust_os_packages

    def to_allowlist(self) -> Allowlist:
        """The lock as an allowlist (every locked file and interpreter pinned), for surfaces
        that enforce it, such as guard-bash with a guard.lock in the working directory."""
        from guard.allowlist import Allowlist, Pin

        pins: dict[str, Pin] = {}
        for e in self.tools.values():
            for f in (LockedFile(e.path, e.real, e.sha256), *e.interpreters):
                pins[f.path] = Pin(f.path, f.real, f.sha256)
        return Allowlist(pins)


# --- writing -----------------------------------------------------------------------------


class NotLockable(GuardError):
    """A name that cannot be pinned (not on PATH, unreadable); the message says why."""


def pin_tool(ctx: Context, name: str, path_env: str, cwd: str) -> LockEntry:
    """The entry for ``name`` as this machine resolves it now."""
    from guard.decide import trust_file
    from guard.hashing import HashError
    from guard.resolve import candidates, interpreter_chain

    if not name or "/" in name or "\0" in name:
        raise NotLockable(f"{safe(name)}: guard lock takes command names looked up on PATH")
    cands = candidates(name, path_env, cwd)
    if not cands:
        raise NotLockable(f"{safe(name)}: not found on PATH")
    c = cands[0]
    if c.real is None or c.error is not None:
        raise NotLockable(f"{safe(name)}: {safe(c.invoked)}: {c.error}")
    t = trust_file(ctx, c.invoked, c.real, provenance=True)
    if t.sha256 is None:
        raise NotLockable(f"{safe(name)}: {safe(c.invoked)}: {t.detail}")
    chain: list[LockedFile] = []
    for link in interpreter_chain(c.real, path_env, cwd):
        if link.real is None:
            raise NotLockable(
                f"{safe(name)}: its interpreter {safe(link.invoked)} is missing: {link.error}"
            )
        try:
            sha = ctx.cache.digests(link.real, False, ctx.config.max_hash_bytes).sha256
        except HashError as e:
            raise NotLockable(f"{safe(name)}: its interpreter {safe(link.invoked)}: {e}") from None
        chain.append(LockedFile(link.invoked, link.real, sha))
    prov = t.provenance.short() if t.provenance else "unknown"
    entry = LockEntry(name, c.invoked, c.real, t.sha256, prov, chain)
    entry.status = t.status
    return entry


def dump(lock: Lock) -> bytes:
    import yaml

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    tools: dict[str, Any] = {}
    for name in sorted(lock.tools):
        e = lock.tools[name]
        d: dict[str, Any] = {
            "path": yamlable_path(e.path),
            "real": yamlable_path(e.real),
            "sha256": e.sha256,
        }
        if e.provenance:
            d["provenance"] = e.provenance
        if e.interpreters:
            d["interpreters"] = [
                {"path": yamlable_path(f.path), "real": yamlable_path(f.real), "sha256": f.sha256}
                for f in e.interpreters
            ]
        if e.used_in:
            d["used_in"] = sorted(e.used_in)
        tools[name] = d
    top: dict[str, Any] = {"version": VERSION}
    if lock.trust_os_packages is not None:
        top["trust_os_packages"] = lock.trust_os_packages
    top["tools"] = tools
    body = yaml.dump(
        top,
        Dumper=dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=1 << 16,
    )
    return HEADER + body.encode("utf-8")


def write_lock(path: str, lock: Lock) -> None:
    from guard.fsutil import atomic_write

    try:
        atomic_write(path, dump(lock), mode=0o644)
    except OSError as e:
        raise GuardError(f"cannot write {safe(path)}: {e.strerror}") from None


# --- reading -----------------------------------------------------------------------------


def _read(path: str) -> bytes:
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except FileNotFoundError:
        raise GuardError(
            f"{safe(path)}: no such file; create it with `guard lock` (docs/ci.md)"
        ) from None
    except OSError as e:
        raise GuardError(f"cannot read {safe(path)}: {e.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise GuardError(f"{safe(path)} is not a regular file")
        chunks, total = [], 0
        while True:
            b = os.read(fd, 1 << 20)
            if not b:
                break
            total += len(b)
            if total > MAX_LOCK_BYTES:
                raise GuardError(f"{safe(path)} is larger than {MAX_LOCK_BYTES} bytes")
            chunks.append(b)
    except OSError as e:
        raise GuardError(f"cannot read {safe(path)}: {e.strerror}") from None
    finally:
        os.close(fd)
    return b"".join(chunks)


def _path(where: str, v: Any) -> str:
    if isinstance(v, bytes):
        v = os.fsdecode(v)
    if not isinstance(v, str) or not v.startswith("/") or "\0" in v:
        raise ConfigError(f"{where} must be an absolute path, got {safe(repr(v))}")
    return v


def _sha(where: str, v: Any) -> str:
    if not isinstance(v, str) or len(v) != 64 or not set(v) <= _HEX:
        raise ConfigError(f"{where}: sha256 must be 64 lowercase hex digits")
    return v


def _file(where: str, d: Any) -> LockedFile:
    if not isinstance(d, dict):
        raise ConfigError(f"{where} must be a mapping with path, real and sha256")
    extra = sorted(str(k) for k in set(d) - {"path", "real", "sha256"})
    if extra:
        raise ConfigError(f"{where}: unknown key {safe(extra[0])!r}")
    p = _path(f"{where}: path", d.get("path"))
    return LockedFile(p, _path(f"{where}: real", d.get("real", p)), _sha(where, d.get("sha256")))


def validate(path: str, doc: Any) -> Lock:
    """Check the whole document; every error names the file and the tool."""
    f = safe(path)
    if not isinstance(doc, dict):
        raise ConfigError(f"{f}: not a guard.lock (expected a mapping with 'version' and 'tools')")
    version = doc.get("version")
    if version != VERSION:
        raise ConfigError(
            f"{f}: lock version {safe(repr(version))} is not supported by this guard "
            f"(it reads version {VERSION})"
        )
    unknown = sorted(str(k) for k in set(doc) - {"version", "tools", "trust_os_packages"})
    if unknown:
        raise ConfigError(f"{f}: unknown key {safe(unknown[0])!r}")
    tools = doc.get("tools") or {}
    if not isinstance(tools, dict):
        raise ConfigError(f"{f}: 'tools' must be a mapping of command name to its pin")
    trust_os = doc.get("trust_os_packages")
    if trust_os is not None and not isinstance(trust_os, bool):
        raise ConfigError(f"{f}: trust_os_packages must be true or false")
    lock = Lock(trust_os_packages=trust_os)
    for name, e in tools.items():
        if not isinstance(name, str) or not name or "/" in name:
            raise ConfigError(f"{f}: tool name {safe(repr(name))} is not a command name")
        where = f"{f}: tool {safe(name)}"
        if not isinstance(e, dict):
            raise ConfigError(f"{where} must be a mapping")
        extra = sorted(str(k) for k in set(e) - set(_TOOL_KEYS))
        if extra:
            raise ConfigError(f"{where}: unknown key {safe(extra[0])!r}")
        base = _file(where, {k: e[k] for k in ("path", "real", "sha256") if k in e})
        prov = e.get("provenance")
        if prov is not None and not isinstance(prov, str):
            raise ConfigError(f"{where}: provenance must be a string")
        chain = e.get("interpreters") or []
        if not isinstance(chain, list):
            raise ConfigError(f"{where}: interpreters must be a list")
        used = e.get("used_in") or []
        if not isinstance(used, list) or not all(isinstance(u, str) for u in used):
            raise ConfigError(f"{where}: used_in must be a list of file names")
        lock.tools[name] = LockEntry(
            name,
            base.path,
            base.real,
            base.sha256,
            prov,
            [_file(f"{where}: interpreter {i + 1}", x) for i, x in enumerate(chain)],
            list(used),
        )
    return lock


def read_lock(path: str) -> Lock:
    """Load and validate; a missing, unreadable or malformed lock raises with a clear line."""
    return parse_lock(path, _read(path))


def parse_lock(path: str, data: bytes) -> Lock:
    """Validate a lock's bytes (``path`` names it in errors)."""
    from guard.yamlstore import parse_yaml

    try:
        doc = parse_yaml(path, data)
    except ConfigError as e:
        raise ConfigError(str(e).replace("; the file was left unchanged", "")) from None
    if doc is None:
        raise ConfigError(f"{safe(path)}: empty; regenerate it with `guard lock`")
    return validate(path, doc)


def load_lock_allowlist(path: str, loc: Locations) -> tuple[Allowlist, bool | None]:
    """The lock named by ``GUARD_LOCK`` as (allowlist, its trust_os_packages), for every check.

    Checks run this on every query, so the validated pins are kept in a compact index keyed by
    the lock's fingerprint (as the allowlist is) and YAML is parsed only when the lock changed.
    A missing, relative or malformed lock is a ConfigError: where a lock is required, nothing
    may run unchecked against a different trust source."""
    from guard.allowlist import Allowlist, _decode, _encode
    from guard.yamlstore import load_indexed

    where = f"{LOCK_ENV}={safe(path)}"
    if not path.startswith("/"):
        raise ConfigError(f"{where}: must be an absolute path")

    def build(p: str, doc: Any) -> tuple[list[Pin], bool | None]:
        if doc is None:
            raise ConfigError(f"{safe(p)}: empty; regenerate it with `guard lock`")
        lock = validate(p, doc)
        return list(lock.to_allowlist().pins.values()), lock.trust_os_packages

    def encode(v: tuple[list[Pin], bool | None]) -> bytes:
        return {None: b"-", True: b"1", False: b"0"}[v[1]] + _encode(v[0])

    def decode(blob: bytes) -> tuple[list[Pin], bool | None]:
        return _decode(blob[1:]), {b"-": None, b"1": True, b"0": False}[blob[:1]]

    got, fp = load_indexed(path, loc.index_file("lock"), build, encode, decode)
    if got is None:
        raise ConfigError(f"{where}: no such file")
    pins, trust_os = got
    return Allowlist({p.path: p for p in pins}, f"lock:{fp}"), trust_os


# --- verifying ---------------------------------------------------------------------------


class Change:
    """One difference between the lock and this machine. ``kind`` is one of KINDS."""

    KINDS = ("missing", "shadowed", "path", "real", "sha256", "interpreter", "unreadable")
    __slots__ = ("kind", "message", "locked", "now")

    def __init__(self, kind: str, message: str, locked: str | None, now: str | None) -> None:
        self.kind = kind
        self.message = message
        self.locked = locked
        self.now = now

    def to_json(self) -> dict[str, Any]:
        def j(v: str | None) -> str | None:
            return None if v is None else json_safe(v)

        return {
            "kind": self.kind,
            "message": self.message,
            "locked": j(self.locked),
            "now": j(self.now),
        }


class ToolReport:
    __slots__ = ("name", "path", "changes")

    def __init__(self, name: str, path: str | None, changes: list[Change]) -> None:
        self.name = name
        self.path = path  # what PATH finds now
        self.changes = changes

    @property
    def ok(self) -> bool:
        return not self.changes

    def to_json(self) -> dict[str, Any]:
        return {
            "name": json_safe(self.name),
            "ok": self.ok,
            "path": None if self.path is None else json_safe(self.path),
            "changes": [c.to_json() for c in self.changes],
        }


def _short(sha: str | None) -> str:
    return f"{sha[:12]}…" if sha else "?"


def verify_tool(ctx: Context, e: LockEntry, path_env: str, cwd: str) -> ToolReport:
    from guard.decide import trust_file
    from guard.hashing import HashError
    from guard.resolve import candidates, interpreter_chain

    n = safe(e.name)
    ch: list[Change] = []
    cands = candidates(e.name, path_env, cwd)
    if not cands:
        msg = f"{n}: missing: not found on PATH (locked {safe(e.path)})"
        return ToolReport(e.name, None, [Change("missing", msg, e.path, None)])
    win = cands[0]
    if win.invoked != e.path:
        if any(c.invoked == e.path for c in cands[1:]):
            msg = (
                f"{n}: shadowed: {safe(win.invoked)} now comes first on PATH, before the "
                f"locked {safe(e.path)}"
            )
            ch.append(Change("shadowed", msg, e.path, win.invoked))
        else:
            msg = f"{n}: path changed {safe(e.path)} → {safe(win.invoked)}"
            ch.append(Change("path", msg, e.path, win.invoked))
    elif win.real != e.real and win.real is not None:
        msg = f"{n}: real path changed {safe(e.real)} → {safe(win.real)}"
        ch.append(Change("real", msg, e.real, win.real))
    if win.real is None or win.error is not None:
        ch.append(Change("unreadable", f"{n}: {safe(win.invoked)}: {win.error}", e.path, None))
        return ToolReport(e.name, win.invoked, ch)
    t = trust_file(ctx, win.invoked, win.real, provenance=False)
    if t.sha256 is None:
        ch.append(Change("unreadable", f"{n}: {safe(win.invoked)}: {t.detail}", e.path, None))
        return ToolReport(e.name, win.invoked, ch)
    if t.sha256 != e.sha256:
        now = f"still trusted here: {t.detail}" if t.trusted else f"now {t.status}: {t.detail}"
        msg = f"{n}: sha256 changed {_short(e.sha256)} → {_short(t.sha256)} ({now})"
        ch.append(Change("sha256", msg, e.sha256, t.sha256))
    now_chain: list[LockedFile] = []
    for link in interpreter_chain(win.real, path_env, cwd):
        sha = ""
        if link.real is not None:
            try:
                sha = ctx.cache.digests(link.real, False, ctx.config.max_hash_bytes).sha256
            except HashError:
                sha = ""
        now_chain.append(LockedFile(link.invoked, link.real or "", sha))
    for i in range(max(len(now_chain), len(e.interpreters))):
        old = e.interpreters[i] if i < len(e.interpreters) else None
        new = now_chain[i] if i < len(now_chain) else None
        if new is None:
            assert old is not None
            msg = f"{n}: interpreter {safe(old.path)} is no longer used"
            ch.append(Change("interpreter", msg, old.path, None))
        elif old is None:
            msg = f"{n}: new interpreter {safe(new.path)} (not in the lock)"
            ch.append(Change("interpreter", msg, None, new.path))
        elif new.path != old.path:
            msg = f"{n}: interpreter changed {safe(old.path)} → {safe(new.path)}"
            ch.append(Change("interpreter", msg, old.path, new.path))
        elif not new.real:
            msg = f"{n}: interpreter {safe(new.path)} is missing"
            ch.append(Change("interpreter", msg, old.path, None))
        elif new.real != old.real:
            msg = (
                f"{n}: interpreter {safe(old.path)} real path changed {safe(old.real)} → "
                f"{safe(new.real)}"
            )
            ch.append(Change("interpreter", msg, old.real, new.real))
        elif new.sha256 != old.sha256:
            msg = (
                f"{n}: interpreter {safe(old.path)} sha256 changed {_short(old.sha256)} → "
                f"{_short(new.sha256 or None)}"
            )
            ch.append(Change("interpreter", msg, old.sha256, new.sha256 or None))
    return ToolReport(e.name, win.invoked, ch)


def verify(ctx: Context, lock: Lock, path_env: str, cwd: str) -> list[ToolReport]:
    """Every locked tool, in name order, with what differs on this machine."""
    return [verify_tool(ctx, lock.tools[n], path_env, cwd) for n in sorted(lock.tools)]


# --- building ----------------------------------------------------------------------------


class Built:
    """What `guard lock` did: the new lock, the names it pinned, what it skipped and why."""

    def __init__(self, lock: Lock) -> None:
        self.lock = lock
        self.pinned: list[str] = []
        self.skipped: list[tuple[str, str, list[str]]] = []  # (word, reason, files)
        self.problems: list[str] = []  # CI files that could not be read or parsed
        self.sources: list[str] = []  # the files discovery read


def build_lock(
    ctx: Context,
    names: list[str],
    root: str,
    path_env: str,
    cwd: str,
    existing: Lock | None = None,
) -> Built:
    """Pin ``names`` into a copy of ``existing`` (other entries kept); with no names, pin what
    discovery finds under ``root`` into a fresh lock. A named tool that cannot be pinned is an
    error (nothing is written); a discovered one is skipped with its reason."""
    if names:
        built = Built(
            Lock(dict(existing.tools), existing.trust_os_packages) if existing else Lock()
        )
        failed = []
        for name in dict.fromkeys(names):
            try:
                entry = pin_tool(ctx, name, path_env, cwd)
            except NotLockable as e:
                failed.append(str(e))
                continue
            old = built.lock.tools.get(name)
            entry.used_in = old.used_in if old else []
            built.lock.tools[name] = entry
            built.pinned.append(name)
        if failed:
            raise GuardError(
                "cannot lock " + "; ".join(failed) + f" ({len(failed)} failed; nothing written)"
            )
        return built
    from guard.discover import discover

    found = discover(root)
    built = Built(Lock(trust_os_packages=existing.trust_os_packages if existing else None))
    built.problems = found.problems
    built.sources = found.sources
    for word in sorted(found.tools):
        files = sorted(found.tools[word])
        try:
            entry = pin_tool(ctx, word, path_env, cwd)
        except NotLockable as e:
            reason = str(e).split(": ", 1)[-1]
            built.skipped.append((word, reason, files))
            continue
        entry.used_in = files
        built.lock.tools[word] = entry
        built.pinned.append(word)
    for word in sorted(found.skipped):
        reason, files = found.skipped[word]
        built.skipped.append((word, reason, sorted(files)))
    return built
