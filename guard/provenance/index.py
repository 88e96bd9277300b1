"""The on-disk index shared by the OS package sources (dpkg, rpm): built once, read lazily.

``guard check`` runs on every relevant change and must start in a few milliseconds, so loading
the index must not parse ~100k entries. The file is split into hash buckets; opening it reads
only the header and the bucket offset table, and a lookup reads the one bucket its path hashes
to. Layout (all offsets absolute, little-endian u64)::

    b"guard-os-index 1\\n"
    <fingerprint, ASCII>\\n              # stale when it differs from the source DB's
    <nbuckets> <pkg_off> <pkg_len>\\n
    (nbuckets + 1) * u64               # bucket i is data[off[i]:off[i+1]]
    buckets: b"\\n" then lines  path \\0 pkgref \\0 hexdigest \\n   (digest may be empty)
    packages: lines  name \\0 version \\0 algo \\n  (pkgref = offset of the row in this block)

Paths are bytes as the package DB lists them after canonicalisation; paths cannot hold NUL
and package DBs cannot list a path with a newline, so the separators are unambiguous.
The bucket of a path is ``crc32(path) % nbuckets`` (crc32 is a spread, not a security tool).
"""

from __future__ import annotations

import os
import stat
import struct
import zlib

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~4 ms per check

if TYPE_CHECKING:
    from typing import Callable

    from guard.model import Provenance

MAGIC = b"guard-os-index 1\n"
_HEAD_READ = 16384  # header + offset table in one read (1024 buckets = 8 KiB)
_MAX_BUCKETS = 1 << 16
_BUCKET_TARGET = 16 * 1024  # bytes per bucket we aim for: one small read per lookup


class OsOwner:
    """An OS package that owns a file, and the digest its database records for it.

    A plain class, not a dataclass: importing ``dataclasses`` costs ~8 ms on the
    ``guard check`` path (see guard/model.py). Compares by value; treat as immutable.
    """

    __slots__ = ("package", "version", "algo", "digest", "source")

    def __init__(
        self,
        package: str,
        version: str | None,
        algo: str,
        digest: str | None,
        source: str = "dpkg",
    ) -> None:
        self.package = package
        self.version = version
        self.algo = algo  # "md5" (dpkg) or what rpm records ("sha256" on current distributions)
        self.digest = digest  # lower-case hex; None when the DB records none (conffile, symlink)
        self.source = source  # which package manager: the Provenance kind

    def _key(self) -> tuple[str, str | None, str, str | None, str]:
        return (self.package, self.version, self.algo, self.digest, self.source)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OsOwner) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return "OsOwner(" + ", ".join(map(repr, self._key())) + ")"


def bucket_of(path: bytes, nbuckets: int) -> int:
    return zlib.crc32(path) % nbuckets


def serialize(
    fingerprint: str,
    entries: dict[bytes, tuple[int, bytes]],
    packages: list[tuple[bytes, bytes, bytes]],
) -> bytes:
    """Encode ``entries`` (path -> (package number, hex digest or b"")) and the package table."""
    total = sum(len(p) + len(d) + 8 for p, (_, d) in entries.items())
    nb = 1
    while nb * _BUCKET_TARGET < total and nb < _MAX_BUCKETS:
        nb *= 2
    rows = [b"%s\0%s\0%s\n" % row for row in packages]
    refs, at = [], 0
    for r in rows:
        refs.append(at)
        at += len(r)
    pkg_blob = b"".join(rows)
    buckets: list[list[bytes]] = [[] for _ in range(nb)]
    for path in sorted(entries):
        pkg, digest = entries[path]
        buckets[bucket_of(path, nb)].append(b"%s\0%d\0%s\n" % (path, refs[pkg], digest))
    fp = fingerprint.encode("ascii")
    # The header's length depends on pkg_off, which depends on the header: fix the width.
    body = [b"\n" + b"".join(lines) for lines in buckets]
    head_fixed = len(MAGIC) + len(fp) + 1
    table_len = (nb + 1) * 8
    sizes = sum(len(b) for b in body)
    width = 20
    line3_len = len(b"%d " % nb) + width + 1 + width + 1
    start = head_fixed + line3_len + table_len
    pkg_off = start + sizes
    line3 = b"%d %0*d %0*d\n" % (nb, width, pkg_off, width, len(pkg_blob))
    offsets = [start]
    for b in body:
        offsets.append(offsets[-1] + len(b))
    parts = [MAGIC, fp, b"\n", line3, struct.pack(f"<{nb + 1}Q", *offsets), *body, pkg_blob]
    return b"".join(parts)


def write_atomic(path: str, blob: bytes) -> None:
    """Write ``blob`` to ``path`` via a temp file + rename; the dir is created 0700."""
    import tempfile

    d = os.path.dirname(path) or "."
    os.makedirs(d, mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-", suffix=".idx")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
        os.replace(tmp, path)
    except BaseException:
        import contextlib

        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class Index:
    """The read side: header parsed at open, buckets read and memoised on first use."""

    def __init__(
        self,
        read: Callable[[int, int], bytes],
        nbuckets: int,
        offsets: tuple[int, ...],
        pkg_span: tuple[int, int],
        close: Callable[[], None] | None = None,
    ) -> None:
        self._read = read
        self._nb = nbuckets
        self._off = offsets
        self._pkg_span = pkg_span
        self._close = close
        self._buckets: dict[int, bytes] = {}
        self._pkgs: bytes | None = None

    # -- opening ------------------------------------------------------------------------
    @classmethod
    def from_bytes(cls, blob: bytes, fingerprint: str) -> Index | None:
        view = memoryview(blob)
        return cls._parse(lambda off, n: bytes(view[off : off + n]), len(blob), fingerprint)

    @classmethod
    def open(cls, path: str, fingerprint: str) -> Index | None:
        """The cached index when it exists, is well formed and matches ``fingerprint``.

        None means "rebuild": missing, stale, truncated, garbage, not a regular file (a FIFO
        planted there must not hang us, hence O_NONBLOCK) — the cache is only an optimisation.
        """
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                os.close(fd)
                return None
            idx = cls._parse(lambda off, n: os.pread(fd, n, off), st.st_size, fingerprint)
        except (OSError, ValueError, struct.error, UnicodeError):
            idx = None
        if idx is None:
            os.close(fd)
            return None
        idx._close = lambda: os.close(fd)
        return idx

    @classmethod
    def _parse(cls, read: Callable[[int, int], bytes], size: int, fingerprint: str) -> Index | None:
        want = MAGIC + fingerprint.encode("ascii") + b"\n"
        head = read(0, len(want) + _HEAD_READ)
        if not head.startswith(want):
            return None  # not ours, an older format, or stale
        nl1 = len(want) - 1
        nl2 = head.find(b"\n", nl1 + 1)
        if nl2 < 0:
            return None
        nb_s, pkg_off_s, pkg_len_s = head[nl1 + 1 : nl2].split(b" ")
        nb, pkg_off, pkg_len = int(nb_s), int(pkg_off_s), int(pkg_len_s)
        if not 1 <= nb <= _MAX_BUCKETS:
            return None
        tstart, tlen = nl2 + 1, (nb + 1) * 8
        table = head[tstart : tstart + tlen]
        if len(table) < tlen:
            table = read(tstart, tlen)
        offsets = struct.unpack(f"<{nb + 1}Q", table)
        if offsets[0] != tstart + tlen or offsets[-1] != pkg_off or pkg_off + pkg_len != size:
            return None
        if any(offsets[i] > offsets[i + 1] for i in range(nb)):
            return None
        return cls(read, nb, offsets, (pkg_off, pkg_len))

    def close(self) -> None:
        if self._close is not None:
            c, self._close = self._close, None
            c()

    def __del__(self) -> None:
        try:  # noqa: SIM105 - no contextlib: importing it costs ~1.5 ms on every check
            self.close()
        except OSError:
            pass

    # -- lookups ------------------------------------------------------------------------
    def lookup(self, path: bytes) -> tuple[int, str] | None:
        """(package row offset, hex digest or "") recorded for ``path``, or None."""
        if b"\n" in path or b"\0" in path:
            return None
        b = bucket_of(path, self._nb)
        data = self._buckets.get(b)
        if data is None:
            lo, hi = self._off[b], self._off[b + 1]
            data = self._read(lo, hi - lo)
            self._buckets[b] = data
        key = b"\n" + path + b"\0"
        i = data.find(key)
        if i < 0:
            return None
        j = data.find(b"\n", i + len(key))
        if j < 0:
            return None
        try:
            pkg_s, digest = data[i + len(key) : j].split(b"\0")
            return int(pkg_s), digest.decode("ascii")
        except (ValueError, UnicodeError):
            return None  # a damaged entry: "not owned" fails safe

    def package(self, ref: int) -> tuple[str, str | None, str] | None:
        """(name, version or None, digest algorithm) of the package row at offset ``ref``.

        Rows are found by offset, not parsed as a table: a lookup touches one row."""
        if self._pkgs is None:
            off, ln = self._pkg_span
            self._pkgs = self._read(off, ln)
        blob = self._pkgs
        if not 0 <= ref < len(blob) or (ref and blob[ref - 1 : ref] != b"\n"):
            return None  # not a row start: a damaged entry, "not owned" fails safe
        end = blob.find(b"\n", ref)
        try:
            name, version, algo = blob[ref:end].decode("utf-8", "replace").split("\0")
        except ValueError:
            return None
        return name, version or None, algo

    def owner(self, path: bytes, source: str) -> OsOwner | None:
        hit = self.lookup(path)
        if hit is None:
            return None
        row = self.package(hit[0])
        if row is None:
            return None
        name, version, algo = row
        return OsOwner(name, version, algo, hit[1] or None, source)


# -- building and caching (shared by dpkg and rpm) ------------------------------------------
class DirCanon:
    """Map a listed path to where it really is: its directory through symlinks, name kept.

    Package DBs list paths as packaged (``/bin/ls``); on merged-/usr systems ``/bin`` is a
    symlink to ``usr/bin`` and the file the shell runs is ``/usr/bin/ls``. Resolving each
    directory once, parent first, costs one lstat per distinct directory (not per file).
    The final component is kept: a listed symlink stays a symlink, never the file it names.
    """

    def __init__(self) -> None:
        self.resolved: dict[bytes, bytes] = {b"/": b"/", b"": b"/"}

    def dir(self, d: bytes) -> bytes:
        r = self.resolved.get(d)
        if r is not None:
            return r
        parent, _, base = d.rpartition(b"/")
        cp = self.dir(parent)
        cand = (cp if cp.endswith(b"/") else cp + b"/") + base
        try:
            st = os.lstat(cand)
        except (OSError, ValueError):
            r = cand  # missing: keep the listed name (the lookup simply will not match)
        else:
            r = os.path.realpath(cand) if stat.S_ISLNK(st.st_mode) else cand
        self.resolved[d] = r
        return r

    def path(self, p: bytes) -> bytes:
        d, _, name = p.rpartition(b"/")
        cd = self.dir(d)
        return (cd if cd.endswith(b"/") else cd + b"/") + name


def stat_key(paths: list[str], ctime: bool = True) -> list[object]:
    """A cheap change detector: identity, size and times of each path (None when absent).

    ``ctime=False`` for databases that readers touch (rpm fixes the mode of its sqlite files
    on every query, which moves their ctime) so reading the DB does not look like a change.
    """
    out: list[object] = []
    for p in paths:
        try:
            st = os.stat(p)
        except OSError:
            out.append(None)
            continue
        key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        out.append(key + (st.st_ctime_ns,) if ctime else key)
    return out


def load_or_build(path: str, fingerprint: str, build: Callable[[], bytes]) -> tuple[Index, bool]:
    """The cached index at ``path`` if current, else ``build()`` it and cache it atomically.

    Returns (index, built). A cache that cannot be written (read-only, full disk) is not an
    error: the freshly built index is used from memory.
    """
    idx = Index.open(path, fingerprint)
    if idx is not None:
        return idx, False
    blob = build()
    import contextlib

    with contextlib.suppress(OSError):
        write_atomic(path, blob)
    fresh = Index.from_bytes(blob, fingerprint)
    if fresh is None:  # pragma: no cover - serialize() and _parse() disagree: a bug
        raise RuntimeError("guard: freshly built OS package index does not parse")
    return fresh, True


def to_provenance(owner: OsOwner, digest_ok: bool | None) -> Provenance:
    """The verdict's evidence: which package, which version, and whether its digest matched."""
    from guard.model import Provenance

    return Provenance(
        kind=owner.source,
        package=owner.package,
        version=owner.version,
        digest_ok=digest_ok,
        detail={"algo": owner.algo, "digest": owner.digest},
    )
