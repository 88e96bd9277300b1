"""The pinned-hash allowlist: ``$XDG_CONFIG_HOME/guard/allowlist.yaml``.

Format (version 1)::

    version: 1
    entries:
    - path: /home/me/.local/bin/aws      # the path as invoked (PATH dir + name)
      real: /opt/aws-cli/v2/dist/aws     # symlinks resolved
      sha256: 6f1c…                      # the pin
      size: 1234
      added: '2026-11-29T15:04:05Z'
      note: installed by hand
      provenance: {kind: dpkg, package: awscli, version: 2.9.19-1}

A path that is not UTF-8 is stored as YAML ``!!binary`` bytes. Every write happens under an
exclusive lock, re-reads the file inside the lock, and replaces it atomically (keeping
``allowlist.yaml.bak``), so concurrent `guard trust` calls never lose an entry.

Checks read only (path, real, sha256) from a compact index in the cache dir; the YAML is parsed
when the file's fingerprint changed, or when a command needs the full entries.
"""

from __future__ import annotations

import os

from guard.errors import ConfigError
from guard.fsutil import atomic_write, check_private_file, file_lock
from guard.textsafe import safe

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~4 ms per check

if TYPE_CHECKING:
    from typing import Any

    from guard.paths import Locations

VERSION = 1
_HEX = frozenset("0123456789abcdef")
_ENTRY_KEYS = frozenset(("path", "real", "sha256", "size", "added", "note", "provenance"))


class Pin:
    __slots__ = ("path", "real", "sha256", "size", "added", "note", "provenance")

    def __init__(
        self,
        path: str,
        real: str,
        sha256: str,
        size: int | None = None,
        added: str | None = None,
        note: str | None = None,
        provenance: dict[str, Any] | None = None,
    ) -> None:
        self.path = path
        self.real = real
        self.sha256 = sha256
        self.size = size
        self.added = added
        self.note = note
        self.provenance = provenance

    def to_doc(self) -> dict[str, Any]:
        d: dict[str, Any] = {"path": self.path, "real": self.real, "sha256": self.sha256}
        for k in ("size", "added", "note", "provenance"):
            v = getattr(self, k)
            if v is not None:
                d[k] = v
        return d

    def __repr__(self) -> str:
        return f"Pin({self.path!r}, sha256={self.sha256[:12]}…)"


class Allowlist:
    def __init__(self, pins: dict[str, Pin] | None = None, fingerprint: str | None = None):
        self.pins: dict[str, Pin] = pins if pins is not None else {}  # keyed by invoked path
        self.fingerprint = fingerprint
        self._by_real: dict[str, list[Pin]] | None = None

    def by_path(self, path: str) -> Pin | None:
        return self.pins.get(path)

    def by_real(self, real: str) -> list[Pin]:
        if self._by_real is None:
            idx: dict[str, list[Pin]] = {}
            for p in self.pins.values():
                idx.setdefault(p.real, []).append(p)
            self._by_real = idx
        return self._by_real.get(real, [])


def _path_field(where: str, v: Any) -> str:
    if isinstance(v, bytes):
        v = os.fsdecode(v)
    if not isinstance(v, str) or not v.startswith("/") or "\0" in v:
        raise ConfigError(f"{where} must be an absolute path, got {safe(repr(v))}")
    return v


def validate(path: str, doc: Any) -> list[Pin]:
    """Check the whole document; every error names the file and the entry."""
    f = safe(path)
    if doc is None:
        return []
    if not isinstance(doc, dict):
        raise ConfigError(f"{f}: expected a mapping with 'version' and 'entries'")
    version = doc.get("version", VERSION)
    if version != VERSION:
        raise ConfigError(
            f"{f}: allowlist version {safe(repr(version))} is not supported by this guard "
            f"(it reads version {VERSION}); upgrade guard or restore {f}.bak"
        )
    unknown = sorted(str(k) for k in set(doc) - {"version", "entries"})
    if unknown:
        raise ConfigError(f"{f}: unknown key {safe(unknown[0])!r}")
    entries = doc.get("entries") or []
    if not isinstance(entries, list):
        raise ConfigError(f"{f}: 'entries' must be a list")
    pins: list[Pin] = []
    for i, e in enumerate(entries):
        where = f"{f}: entry {i + 1}"
        if not isinstance(e, dict):
            raise ConfigError(f"{where} must be a mapping")
        extra = sorted(str(k) for k in set(e) - _ENTRY_KEYS)
        if extra:
            raise ConfigError(f"{where}: unknown key {safe(extra[0])!r}")
        p = _path_field(f"{where}: path", e.get("path"))
        r = _path_field(f"{where}: real", e.get("real", p))
        sha = e.get("sha256")
        if not isinstance(sha, str) or len(sha) != 64 or not set(sha) <= _HEX:
            raise ConfigError(f"{where} ({safe(p)}): sha256 must be 64 lowercase hex digits")
        size = e.get("size")
        if size is not None and (not isinstance(size, int) or isinstance(size, bool)):
            raise ConfigError(f"{where}: size must be an integer")
        prov = e.get("provenance")
        if prov is not None and not isinstance(prov, dict):
            raise ConfigError(f"{where}: provenance must be a mapping")
        added, note = e.get("added"), e.get("note")
        pins.append(
            Pin(
                p,
                r,
                sha,
                size,
                None if added is None else str(added),
                None if note is None else str(note),
                prov,
            )
        )
    return pins


def _encode(pins: list[Pin]) -> bytes:
    """path NUL real NUL sha256 NUL, repeated: paths never hold NUL, so this is unambiguous."""
    parts: list[bytes] = []
    for p in pins:
        parts += (os.fsencode(p.path), os.fsencode(p.real), p.sha256.encode())
    return b"\0".join(parts)


def _decode(blob: bytes) -> list[Pin]:
    if not blob:
        return []
    f = blob.split(b"\0")
    if len(f) % 3:
        raise ValueError("torn index")
    return [
        Pin(os.fsdecode(f[i]), os.fsdecode(f[i + 1]), f[i + 2].decode())
        for i in range(0, len(f), 3)
    ]


def load_allowlist(loc: Locations, full: bool = False) -> Allowlist:
    """The allowlist; ``full`` parses the YAML for every field (notes, dates, provenance)."""
    check_private_file(loc.allowlist_file, "allowlist")
    if full:
        from guard.yamlstore import fingerprint, read_yaml

        data, doc = read_yaml(loc.allowlist_file)
        pins = validate(loc.allowlist_file, doc)
        fp = fingerprint(data) if data is not None else None
    else:
        from guard.yamlstore import load_indexed

        got, fp = load_indexed(
            loc.allowlist_file, loc.index_file("allowlist"), validate, _encode, _decode
        )
        pins = got or []
    return Allowlist({p.path: p for p in pins}, fp)


def _yamlable(p: str) -> Any:
    try:
        p.encode("utf-8")
        return p
    except UnicodeEncodeError:
        return os.fsencode(p)  # dumped as !!binary


def dump(al: Allowlist) -> bytes:
    import yaml

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    entries = []
    for pin in sorted(al.pins.values(), key=lambda p: os.fsencode(p.path)):
        d = pin.to_doc()
        d["path"] = _yamlable(pin.path)
        d["real"] = _yamlable(pin.real)
        entries.append(d)
    header = b"# guard allowlist: change it with `guard trust` / `guard untrust`.\n"
    body = yaml.dump(
        {"version": VERSION, "entries": entries},
        Dumper=dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=1 << 16,
    )
    return header + body.encode("utf-8")


def update_allowlist(loc: Locations, add: list[Pin], remove: list[str]) -> Allowlist:
    """Add/replace pins and remove paths, atomically and serialised across processes."""
    with file_lock(loc.lock_file):
        al = load_allowlist(loc, full=True)
        for path in remove:
            al.pins.pop(path, None)
        for pin in add:
            al.pins[pin.path] = pin
        atomic_write(loc.allowlist_file, dump(al), backup=True)
    return al
