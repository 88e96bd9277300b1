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
      provenance: {kind: pip, package: awscli, version: 1.45.11}

A path that is not UTF-8 is stored as YAML ``!!binary`` bytes. Every write happens under an
exclusive lock, re-reads the file inside the lock, and replaces it atomically (keeping
``allowlist.yaml.bak``), so concurrent `guard trust` calls never lose an entry.
"""

from __future__ import annotations

import base64
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from guard.errors import ConfigError
from guard.fsutil import atomic_write, check_private_file, file_lock
from guard.paths import Locations
from guard.textsafe import safe

VERSION = 1
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass
class Pin:
    path: str
    real: str
    sha256: str
    size: Optional[int] = None
    added: Optional[str] = None
    note: Optional[str] = None
    provenance: Optional[dict[str, Any]] = None

    def to_doc(self) -> dict[str, Any]:
        d: dict[str, Any] = {"path": self.path, "real": self.real, "sha256": self.sha256}
        for k in ("size", "added", "note", "provenance"):
            v = getattr(self, k)
            if v is not None:
                d[k] = v
        return d


@dataclass
class Allowlist:
    pins: dict[str, Pin] = field(default_factory=dict)  # keyed by invoked path
    fingerprint: Optional[str] = None

    def by_path(self, path: str) -> Optional[Pin]:
        return self.pins.get(path)

    def by_real(self, real: str) -> list[Pin]:
        return [p for p in self.pins.values() if p.real == real]


def _path_field(path: Path, i: int, key: str, v: Any, required: bool = True) -> Optional[str]:
    if v is None and not required:
        return None
    if isinstance(v, bytes):
        return os.fsdecode(v)
    if isinstance(v, dict) and set(v) == {"b64"}:  # JSON index form of a binary path
        return os.fsdecode(base64.b64decode(v["b64"]))
    if not isinstance(v, str) or not v.startswith("/"):
        raise ConfigError(
            f"{safe(str(path))}: entry {i + 1}: {key} must be an absolute path, "
            f"got {safe(repr(v))}"
        )
    return v


def _validate(path: Path, doc: Any) -> dict[str, Any]:
    """Check the document and return its JSON-safe form (binary paths as {"b64": …})."""
    if doc is None:
        return {"entries": []}
    if not isinstance(doc, dict):
        raise ConfigError(f"{safe(str(path))}: expected a mapping with 'version' and 'entries'")
    version = doc.get("version", VERSION)
    if version != VERSION:
        raise ConfigError(
            f"{safe(str(path))}: allowlist version {safe(repr(version))} is not supported "
            f"by this guard (it reads version {VERSION}); upgrade guard"
        )
    unknown = set(doc) - {"version", "entries"}
    if unknown:
        raise ConfigError(f"{safe(str(path))}: unknown key {safe(repr(sorted(unknown)[0]))}")
    entries = doc.get("entries") or []
    if not isinstance(entries, list):
        raise ConfigError(f"{safe(str(path))}: 'entries' must be a list")
    out = []
    for i, e in enumerate(entries):
        if not isinstance(e, dict):
            raise ConfigError(f"{safe(str(path))}: entry {i + 1} must be a mapping")
        p = _path_field(path, i, "path", e.get("path"))
        r = _path_field(path, i, "real", e.get("real"))
        sha = e.get("sha256")
        if not isinstance(sha, str) or not _HEX64.match(sha):
            raise ConfigError(
                f"{safe(str(path))}: entry {i + 1} ({safe(str(p))}): sha256 must be 64 lowercase "
                f"hex digits"
            )
        size = e.get("size")
        if size is not None and (not isinstance(size, int) or isinstance(size, bool)):
            raise ConfigError(f"{safe(str(path))}: entry {i + 1}: size must be an integer")
        prov = e.get("provenance")
        if prov is not None and not isinstance(prov, dict):
            raise ConfigError(f"{safe(str(path))}: entry {i + 1}: provenance must be a mapping")
        added = e.get("added")
        note = e.get("note")
        out.append(
            {
                "path": _jsonable(p),
                "real": _jsonable(r),
                "sha256": sha,
                "size": size,
                "added": None if added is None else str(added),
                "note": None if note is None else str(note),
                "provenance": prov,
            }
        )
    return {"entries": out}


def _jsonable(p: Optional[str]) -> Any:
    if p is None:
        return None
    try:
        p.encode("utf-8")
        return p
    except UnicodeEncodeError:
        return {"b64": base64.b64encode(os.fsencode(p)).decode()}


def _yamlable(p: str) -> Any:
    try:
        p.encode("utf-8")
        return p
    except UnicodeEncodeError:
        return os.fsencode(p)  # dumped as !!binary


def _from_doc(doc: dict[str, Any], fp: Optional[str]) -> Allowlist:
    al = Allowlist(fingerprint=fp)
    for i, e in enumerate(doc.get("entries", [])):
        pin = Pin(
            path=_path_field(Path("-"), i, "path", e["path"]) or "",
            real=_path_field(Path("-"), i, "real", e["real"]) or "",
            sha256=e["sha256"],
            size=e.get("size"),
            added=e.get("added"),
            note=e.get("note"),
            provenance=e.get("provenance"),
        )
        al.pins[pin.path] = pin
    return al


def load_allowlist(loc: Locations) -> Allowlist:
    from guard.yamlstore import load_cached

    check_private_file(loc.allowlist_file, "allowlist")
    doc, fp = load_cached(loc.allowlist_file, loc.allowlist_index_file, _validate)
    return _from_doc(doc or {"entries": []}, fp)


def _dump(al: Allowlist) -> bytes:
    import yaml

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    entries = []
    for pin in sorted(al.pins.values(), key=lambda p: os.fsencode(p.path)):
        d = pin.to_doc()
        d["path"] = _yamlable(pin.path)
        d["real"] = _yamlable(pin.real)
        entries.append(d)
    header = b"# guard allowlist: edit with `guard trust` / `guard untrust`.\n"
    body = yaml.dump(
        {"version": VERSION, "entries": entries},
        Dumper=dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
    )
    return header + body.encode("utf-8")


def update_allowlist(loc: Locations, add: list[Pin], remove: list[str]) -> Allowlist:
    """Add/replace pins and remove paths, atomically and serialised across processes."""
    with file_lock(loc.lock_file):
        al = load_allowlist(loc)
        for path in remove:
            al.pins.pop(path, None)
        for pin in add:
            al.pins[pin.path] = pin
        atomic_write(loc.allowlist_file, _dump(al), backup=True)
    return al
