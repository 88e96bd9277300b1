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

A file guard wrote starts with its header comment and ends with ``# end of guard allowlist``:
a copy cut short (a disk, a sync tool, an editor) is refused instead of read as fewer pins.
A bad or missing allowlist next to a good ``.bak`` says how to restore it (`guard recover`).

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
# Files written before the end line existed have the header without "; keep…": not checked.
HEADER = b"# guard allowlist: change it with `guard trust` / `guard untrust`; keep the last line.\n"
TRAILER = b"# end of guard allowlist"
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
        raise ConfigError(f"{where} must be an absolute path, got {safe(repr(v)[:100])}")
    return v


def _text_field(where: str, v: Any) -> str | None:
    """``added`` and ``note``: text (YAML may read an unquoted date as a timestamp)."""
    if v is None:
        return None
    if isinstance(v, (list, dict, set, tuple, bytes)):
        raise ConfigError(f"{where} must be text, got a {type(v).__name__}")
    return str(v)


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
        added = _text_field(f"{where}: added", e.get("added"))
        note = _text_field(f"{where}: note", e.get("note"))
        pins.append(Pin(p, r, sha, size, added, note, prov))
    return pins


def check_bytes(path: str, data: bytes) -> None:
    """Refuse an allowlist cut short: guard never writes one without its last line, and never
    writes an empty one (a 0-byte file beside a backup is a truncated write, not a reset)."""
    if not data.strip():
        if os.path.lexists(path + ".bak"):
            raise ConfigError(
                f"{safe(path)} is empty but guard never writes an empty allowlist "
                f"(it was truncated?); the file was left unchanged"
            )
        return
    if data[: len(HEADER)] == HEADER[: len(data)] and b"\n" + TRAILER not in data:
        raise ConfigError(
            f"{safe(path)} is cut short: it starts with guard's header but lacks the line "
            f"{TRAILER.decode()!r} that ends every allowlist guard writes; the file was left "
            f"unchanged (after a hand edit, make that line the last one again)"
        )


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
    path = loc.allowlist_file
    check_private_file(path, "allowlist")
    try:
        if full:
            from guard.fsutil import read_bytes_nofollow
            from guard.yamlstore import MAX_YAML_BYTES, fingerprint, parse_yaml

            data = read_bytes_nofollow(path, MAX_YAML_BYTES)
            doc = None
            if data is not None:
                check_bytes(path, data)  # before parsing: "cut short" says more than a YAML error
                doc = parse_yaml(path, data)
            pins = validate(path, doc)
            fp = fingerprint(data) if data is not None else None
        else:
            from guard.yamlstore import load_indexed

            got, fp = load_indexed(
                path, loc.index_file("allowlist"), validate, _encode, _decode, check_bytes
            )
            pins = got or []
            data = b"" if got is not None else None
    except ConfigError as e:
        from guard.recover import recovery_hint

        raise ConfigError(f"{e}{recovery_hint(loc)}") from None
    if data is None and os.path.lexists(path + ".bak"):
        from guard.recover import recovery_hint

        raise ConfigError(
            f"allowlist {safe(path)} is missing but its backup {safe(path)}.bak is there"
            f"{recovery_hint(loc) or '; the backup is not usable either'}; to start with an "
            f"empty allowlist instead, remove {safe(path)}.bak"
        )
    return Allowlist({p.path: p for p in pins}, fp)


def yamlable_path(p: str) -> Any:
    """A path as YAML can hold it: text when it is UTF-8, else bytes (dumped as !!binary)."""
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
        d["path"] = yamlable_path(pin.path)
        d["real"] = yamlable_path(pin.real)
        entries.append(d)
    body = yaml.dump(
        {"version": VERSION, "entries": entries},
        Dumper=dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=1 << 16,
    )
    return HEADER + body.encode("utf-8") + TRAILER + b"\n"


def _drop_leftovers(path: str) -> None:
    """Remove temp files of writers killed mid-write: under the lock nobody else is writing."""
    d, base = os.path.split(path)
    prefix = f".{base}."
    try:
        with os.scandir(d) as it:
            for e in it:
                if e.name.startswith(prefix) and e.name.endswith((".tmp", ".tmp.bak")):
                    import contextlib  # lazily: ~2 ms, and only write paths need it

                    with contextlib.suppress(OSError):
                        os.unlink(e.path)
    except OSError:
        pass


def update_allowlist(loc: Locations, add: list[Pin], remove: list[str]) -> Allowlist:
    """Add/replace pins and remove paths, atomically and serialised across processes."""
    from guard.system import forbid_user_trust

    forbid_user_trust(loc)
    with file_lock(loc.lock_file):
        _drop_leftovers(loc.allowlist_file)
        al = load_allowlist(loc, full=True)
        for path in remove:
            al.pins.pop(path, None)
        for pin in add:
            al.pins[pin.path] = pin
        data = dump(al)
        atomic_write(loc.allowlist_file, data, backup=True)
        # The index the next check would build from this file: without it, the first check
        # after every `guard trust` imports and runs pyyaml (~25 ms of a first sighting).
        from guard.yamlstore import store_index

        pins = sorted(al.pins.values(), key=lambda p: os.fsencode(p.path))
        store_index(loc.index_file("allowlist"), data, _encode(pins))
    return al
