"""Which Debian package owns a file, and the MD5 dpkg recorded for it — without ``dpkg -S``.

The dpkg database (``<admindir>/info/*.list``, ``*.md5sums``, ``status``, ``diversions``) is
indexed once into the cache dir (see ``guard.provenance.index`` for the format) and re-indexed
only when dpkg's state changes. Lookups are by *real* path (symlinks resolved):

* merged-/usr: dpkg lists ``/bin/ls`` while the file is ``/usr/bin/ls``; each listed path's
  directory is resolved through the live filesystem when indexing, so both spellings index
  under the real one. When two packages claim the same real path with different digests (a
  file moved between packages across the ``/bin`` -> ``/usr/bin`` alias), the one listing the
  real spelling wins, then the one with a digest, then the first by name: a wrong pick makes
  the digest check fail, which denies (safe), never allows.
* dpkg-divert: a package's file at ``from`` diverted to ``to`` by another package (or
  locally, ``:``) is installed at ``to``; it is indexed there, with the digest the package
  records for ``from``. The diverting package's own ``from`` stays at ``from``. Without this,
  ``/usr/bin/pg_config`` would be attributed to libpq-dev with libpq-dev's digest.
  The directory mapping is taken when indexing and is not part of the fingerprint: a
  directory symlink changed outside a dpkg run leaves files "not owned" (deny) until the
  next dpkg change; the digest check still guards every file the index does attribute.
* directories are dropped (a path another listed path lives under); symlinks and conffiles
  stay, with no digest (``OsOwner.digest`` is None: unverifiable, the caller decides).
"""

from __future__ import annotations

import os

from guard.provenance.index import (
    DirCanon,
    Index,
    OsOwner,
    load_or_build,
    serialize,
    stat_key,
    to_provenance,
)

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~4 ms per check

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["ADMINDIR", "INDEX_NAME", "OsOwner", "OsPackageDB", "to_provenance"]

ADMINDIR = "/var/lib/dpkg"
INDEX_NAME = "dpkg-index.bin"
_FORMAT = 1  # bump when what goes into the index changes: forces a rebuild


def fingerprint(admindir: str) -> str:
    """Changes whenever dpkg changes what is installed: status is rewritten by rename, .list
    and .md5sums files are renamed into info/ (its mtime moves), journal entries land in
    updates/, and dpkg-divert rewrites diversions. Five stats, no reads."""
    names = ("status", "info", "diversions", "updates", "")
    key = stat_key([os.path.join(admindir, n) for n in names])
    return ascii(["dpkg", _FORMAT, admindir, key])


def _versions(status: bytes) -> dict[bytes, bytes]:
    """Package -> version from dpkg's status file, keyed by ``name`` and ``name:arch``."""
    out: dict[bytes, bytes] = {}
    for stanza in status.split(b"\n\n"):
        fields: dict[bytes, bytes] = {}
        for line in stanza.split(b"\n"):
            if line[:1] in (b" ", b"\t", b""):
                continue
            k, sep, v = line.partition(b":")
            if sep and k in (b"Package", b"Version", b"Architecture", b"Status"):
                fields[k] = v.strip()
        name, version = fields.get(b"Package"), fields.get(b"Version")
        if not name or not version:
            continue
        installed = not fields.get(b"Status", b"").endswith((b"not-installed", b"config-files"))
        keys = [name]
        if b"Architecture" in fields:
            keys.append(name + b":" + fields[b"Architecture"])
        for k in keys:
            if installed or k not in out:
                out[k] = version
    return out


def _diversions(data: bytes) -> dict[bytes, tuple[bytes, bytes]]:
    """``from`` -> (``to``, diverting package or b":" for a local diversion)."""
    lines = data.split(b"\n")
    out: dict[bytes, tuple[bytes, bytes]] = {}
    for i in range(0, len(lines) - 2, 3):
        src, dst, by = lines[i], lines[i + 1], lines[i + 2]
        if src.startswith(b"/") and dst.startswith(b"/") and by:
            out[src] = (dst, by)
    return out


def _md5sums(data: bytes) -> dict[bytes, bytes]:
    """``/path`` -> hex MD5 from an ``md5sum``-format file (paths relative to /)."""
    out: dict[bytes, bytes] = {}
    for line in data.split(b"\n"):
        if len(line) > 34 and line[32:34] == b"  ":
            digest = line[:32].lower()
            if not digest.strip(b"0123456789abcdef"):
                out[b"/" + line[34:].lstrip(b"/")] = digest
    return out


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


class BuildStats:
    """What the last build saw (for ``guard doctor`` and the benchmark)."""

    packages = 0
    listed = 0  # lines in all .list files
    files = 0  # indexed entries (directories dropped)
    with_digest = 0
    diverted = 0
    conflicts = 0  # real paths claimed by two packages with different digests


def build(admindir: str, fp: str, stats: BuildStats | None = None) -> bytes:
    """Read the whole dpkg database once and return the index stamped with ``fp``.

    ``fp`` is taken *before* reading: a dpkg run racing the build leaves a stamp that no
    longer matches, so the next load rebuilds rather than trusting a half-read state."""
    st = stats or BuildStats()
    info = os.path.join(admindir, "info")
    versions = _versions(_read(os.path.join(admindir, "status")))
    diversions = _diversions(_read(os.path.join(admindir, "diversions")))
    try:
        stems = sorted(e.name[:-5] for e in os.scandir(info) if e.name.endswith(".list"))
    except OSError:
        stems = []
    canon = DirCanon()
    dirs = canon.resolved  # the memo itself: one dict lookup per line on the hot path
    packages: list[tuple[bytes, bytes, bytes]] = []
    # real path -> (pkgno, digest, listed as the real spelling?)
    claims: dict[bytes, tuple[int, bytes, bool]] = {}
    parents: set[bytes] = set()
    for stem in stems:
        bstem = os.fsencode(stem)
        pkgno = len(packages)
        version = versions.get(bstem) or versions.get(bstem.partition(b":")[0], b"")
        packages.append((bstem, version, b"md5"))
        listed = _read(os.path.join(info, stem + ".list")).split(b"\n")
        sums = _md5sums(_read(os.path.join(info, stem + ".md5sums")))
        pkgname = bstem.partition(b":")[0]
        for path in listed:
            if not path.startswith(b"/") or path == b"/.":
                continue
            st.listed += 1
            parents.add(path.rpartition(b"/")[0])
            where = path
            div = diversions.get(path)
            if div is not None and div[1] != pkgname:
                where = div[0]
                st.diverted += 1
            d, _, name = where.rpartition(b"/")
            cd = dirs.get(d) or canon.dir(d)
            parents.add(cd)
            real = cd + b"/" + name if cd != b"/" else b"/" + name
            digest = sums.get(path, b"")
            direct = real == where
            old = claims.get(real)
            if old is not None:
                if old[1] == digest:
                    continue
                st.conflicts += 1
                if (old[2], bool(old[1])) >= (direct, bool(digest)):
                    continue
            claims[real] = (pkgno, digest, direct)
    entries = {p: (c[0], c[1]) for p, c in claims.items() if p not in parents}
    st.packages = len(packages)
    st.files = len(entries)
    st.with_digest = sum(1 for _, d in entries.values() if d)
    return serialize(fp, entries, packages)


class OsPackageDB:
    """The dpkg database as an on-disk index: ``owner(real_path)`` costs one small read."""

    source = "dpkg"
    builds = 0  # indexes built in this process: tests observe "second load did not rebuild"

    def __init__(self, index: Index, index_path: str, built: bool) -> None:
        self._index = index
        self.index_path = index_path
        self.built = built  # this load built the index (False: served from the cache)

    @classmethod
    def load(cls, cache_dir: Path | str | None = None, admindir: str = ADMINDIR) -> OsPackageDB:
        """Open the cached index, rebuilding it first when dpkg's state has changed or the
        cache is missing/corrupt. Raises FileNotFoundError when ``admindir`` has no status."""
        status = os.path.join(admindir, "status")
        if not os.path.isfile(status):
            raise FileNotFoundError(f"no dpkg status file at {status}")
        if cache_dir is None:
            from guard.paths import locations

            cache_dir = locations().cache_dir
        path = os.path.join(os.fspath(cache_dir), INDEX_NAME)
        fp = fingerprint(admindir)
        index, built = load_or_build(path, fp, lambda: build(admindir, fp))
        if built:
            cls.builds += 1
        return cls(index, path, built)

    def owner(self, real_path: str) -> OsOwner | None:
        """The package owning ``real_path`` (symlinks already resolved), or None."""
        return self._index.owner(os.fsencode(real_path), self.source)

    def close(self) -> None:
        self._index.close()
