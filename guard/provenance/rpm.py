"""The rpm database as an OS package source, for Fedora/RHEL/SUSE machines.

rpm's database (sqlite, BerkeleyDB or ndb depending on the distribution) is not read
directly: one ``rpm -qa --queryformat`` run dumps every package's files, digests and flags,
which is indexed into the same cached format as dpkg (``guard.provenance.index``) and
rebuilt only when the database files change. Never one ``rpm -qf`` per file.

What is indexed: regular files and symlinks (directories dropped by mode, ``%ghost`` files
skipped: the package does not install them). ``%config`` files get no digest (admins edit
them), like dpkg conffiles. Digests are reported only for the algorithms guard computes
(sha256, md5); for others (sha512, sha1…, rare) ``digest`` is None and ``algo`` says what
rpm used, so the caller treats the file as unverifiable rather than as modified.
Directories are resolved through symlinks when indexing (see ``DirCanon``), like dpkg.
"""

from __future__ import annotations

import os
import stat

from guard.provenance.dpkg import OsPackageDB
from guard.provenance.index import DirCanon, load_or_build, serialize, stat_key

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~4 ms per check

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["DBPATHS", "INDEX_NAME", "RpmPackageDB"]

# Current rpm keeps its DB under /usr/lib/sysimage/rpm (/var/lib/rpm is then a symlink).
DBPATHS = ("/usr/lib/sysimage/rpm", "/var/lib/rpm")
_DBFILES = ("rpmdb.sqlite", "Packages", "Packages.db")
# Not the -shm file (readers write it) nor the directory (BerkeleyDB readers create files).
_WATCH = ("rpmdb.sqlite", "rpmdb.sqlite-wal", "Packages", "Packages.db")
INDEX_NAME = "rpm-index.bin"
_FORMAT = 1
# Absolute: the program that would vouch for files must not itself be found through PATH,
# the very thing guard distrusts.
RPM_PROGRAMS = ("/usr/bin/rpm", "/bin/rpm")
_ALGOS = {1: "md5", 2: "sha1", 8: "sha256", 9: "sha384", 10: "sha512", 11: "sha224"}
_USABLE = ("md5", "sha256")  # what guard hashes in its read pass
_CONFIG, _GHOST = 1 << 0, 1 << 6  # RPMFILE_CONFIG, RPMFILE_GHOST
QUERYFORMAT = (
    "P\\t%{NAME}\\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\\t"
    "%|FILEDIGESTALGO?{%{FILEDIGESTALGO}}:{1}|\\n"
    "[F\\t%{FILEFLAGS}\\t%{FILEMODES}\\t%{FILEDIGESTS}\\t%{FILENAMES}\\n]"
)


def find_dbpath() -> str | None:
    for d in DBPATHS:
        if any(os.path.isfile(os.path.join(d, f)) for f in _DBFILES):
            return d
    return None


def fingerprint(dbpath: str) -> str:
    """Every rpm transaction writes the DB file or its write-ahead log: size and mtime of
    those are enough (a committed write grows the WAL; a checkpoint rewrites the DB)."""
    key = stat_key([os.path.join(dbpath, f) for f in _WATCH], ctime=False)
    return ascii(["rpm", _FORMAT, dbpath, key])


def parse(dump: bytes) -> tuple[dict[bytes, tuple[int, bytes]], list[tuple[bytes, bytes, bytes]]]:
    """Turn a ``QUERYFORMAT`` dump into index entries and the package table."""
    canon = DirCanon()
    packages: list[tuple[bytes, bytes, bytes]] = []
    claims: dict[bytes, tuple[int, bytes, bool]] = {}
    pkgno, usable = -1, False
    for line in dump.split(b"\n"):
        if line.startswith(b"P\t"):
            parts = line.split(b"\t")
            if len(parts) != 4:
                pkgno = -1
                continue
            _, name, version, algo_s = parts
            algo = _ALGOS.get(int(algo_s) if algo_s.isdigit() else 1, "unknown")
            usable = algo in _USABLE
            pkgno = len(packages)
            packages.append((name, version, algo.encode()))
            continue
        if pkgno < 0 or not line.startswith(b"F\t"):
            continue
        parts = line.split(b"\t", 4)
        if len(parts) != 5 or not parts[1].isdigit() or not parts[2].isdigit():
            continue
        _, flags_s, mode_s, digest, path = parts
        flags, mode = int(flags_s), int(mode_s)
        if flags & _GHOST or stat.S_ISDIR(mode) or not path.startswith(b"/"):
            continue
        if flags & _CONFIG or not usable or not stat.S_ISREG(mode):
            digest = b""
        real = canon.path(path)
        direct = real == path
        old = claims.get(real)
        # Same rule as dpkg: the real spelling wins, then having a digest, then the first.
        if old is not None and (
            old[1] == digest or (old[2], bool(old[1])) >= (direct, bool(digest))
        ):
            continue
        claims[real] = (pkgno, digest.lower(), direct)
    return {p: (c[0], c[1]) for p, c in claims.items()}, packages


def build(dbpath: str, fp: str, rpm: str = RPM_PROGRAMS[0]) -> bytes:
    """Dump the whole rpm DB with one ``rpm -qa`` and return the index stamped with ``fp``."""
    import subprocess

    env = dict(os.environ, LC_ALL="C")
    out = subprocess.run(
        [rpm, "--dbpath", dbpath, "-qa", "--queryformat", QUERYFORMAT],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        timeout=300,
        check=True,
    ).stdout
    entries, packages = parse(out)
    return serialize(fp, entries, packages)


class RpmPackageDB(OsPackageDB):
    """Same lookups as the dpkg DB; digests are usually SHA-256."""

    source = "rpm"
    builds = 0

    @classmethod
    def load(  # type: ignore[override]
        cls, cache_dir: Path | str | None = None, dbpath: str | None = None
    ) -> RpmPackageDB:
        """Open (or build and cache) the index of ``dbpath`` (default: the system rpm DB).

        Raises FileNotFoundError when there is no rpm DB or no ``rpm`` program, OSError or
        subprocess errors when rpm cannot dump it."""
        dbpath = dbpath or find_dbpath()
        rpm = next((p for p in RPM_PROGRAMS if os.access(p, os.X_OK)), None)
        if dbpath is None or rpm is None:
            raise FileNotFoundError("no rpm database or no rpm program")
        if cache_dir is None:
            from guard.paths import locations

            cache_dir = locations().cache_dir
        path = os.path.join(os.fspath(cache_dir), INDEX_NAME)
        fp = fingerprint(dbpath)
        index, built = load_or_build(path, fp, lambda: build(dbpath, fp, rpm))
        if built:
            cls.builds += 1
        return cls(index, path, built)

    @classmethod
    def load_if_present(cls, cache_dir: Path | str | None = None) -> RpmPackageDB | None:
        """The system rpm DB, or None when this machine has none (or rpm cannot read it)."""
        import subprocess

        try:
            return cls.load(cache_dir)
        except (OSError, subprocess.SubprocessError):
            return None
