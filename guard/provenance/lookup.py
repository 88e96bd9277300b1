"""Where did this executable come from? One answer for every surface (check, which, audit).

Sources are asked in order, first answer wins: the OS package database (when the caller has
one loaded), a Python distribution's RECORD, an npm package, a Homebrew keg. Each source reads
only metadata files next to the executable; none runs anything. A source that hits an
unreadable or malformed file says nothing rather than raising: provenance is evidence for a
message, and must never turn a deny into a crash.
"""

from __future__ import annotations

from guard.model import Provenance
from guard.provenance.homebrew import homebrew_provenance
from guard.provenance.npm import npm_provenance
from guard.provenance.pip import pip_provenance

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~4 ms per check

if TYPE_CHECKING:
    from guard.provenance.index import OsOwner

KINDS = ("dpkg", "rpm", "pip", "npm", "homebrew", "unknown")


def _os_provenance(osdb: object, real: str) -> Provenance | None:
    owner: OsOwner | None = osdb.owner(real)  # type: ignore[attr-defined]
    if owner is None:
        return None
    from guard.hashing import HashError, digest_file
    from guard.provenance.index import to_provenance

    ok: bool | None = None
    if owner.digest is not None:
        try:
            d = digest_file(real, want_md5=owner.algo == "md5")
            ok = (d.md5 if owner.algo == "md5" else d.sha256) == owner.digest
        except HashError:
            ok = None
    return to_provenance(owner, ok)


def provenance_of(
    invoked: str, real: str | None, *, osdb=None, sha256: str | None = None
) -> Provenance:
    """Provenance of the file the shell runs as ``invoked`` (``real``: symlinks resolved, None
    when dangling). ``osdb``: an ``OsPackageDB``/``RpmPackageDB`` (``load_os_db()``), or None
    to skip OS packages. ``sha256``: the real file's hex SHA-256 if the caller has it (saves
    re-reading the file to check pip's RECORD). Kinds: "dpkg", "rpm", "pip", "npm",
    "homebrew", "unknown"."""
    if osdb is not None and real is not None:
        try:
            p = _os_provenance(osdb, real)
        except (OSError, ValueError):
            p = None
        if p is not None:
            return p
    try:
        p = pip_provenance(invoked, real, sha256)
    except (OSError, ValueError, UnicodeError):
        p = None
    if p is not None:
        return p
    for source in (npm_provenance, homebrew_provenance):
        try:
            p = source(invoked, real)
        except (OSError, ValueError, UnicodeError):
            p = None
        if p is not None:
            return p
    return Provenance("unknown")
