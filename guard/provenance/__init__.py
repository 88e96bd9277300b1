"""OS package provenance: which distribution package owns a file, and the digest it records.

``load_os_db()`` picks the database this machine has (dpkg, else rpm); both answer
``owner(real_path) -> OsOwner | None`` from an index cached under the cache dir.
"""

from __future__ import annotations

import os

from guard.provenance.dpkg import OsPackageDB
from guard.provenance.index import OsOwner, to_provenance

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~4 ms per check

if TYPE_CHECKING:
    from pathlib import Path

    from guard.provenance.rpm import RpmPackageDB

__all__ = ["OsOwner", "OsPackageDB", "load_os_db", "to_provenance"]


def load_os_db(
    cache_dir: Path | str | None = None,
) -> OsPackageDB | RpmPackageDB | None:
    """The dpkg DB where /var/lib/dpkg/status exists, else the rpm DB, else None.

    None also when the DB cannot be read: guard then trusts no file for being packaged, which
    denies more, never less."""
    from guard.provenance import dpkg

    if os.path.isfile(os.path.join(dpkg.ADMINDIR, "status")):
        try:
            return OsPackageDB.load(cache_dir)
        except OSError:
            return None
    from guard.provenance import rpm

    return rpm.RpmPackageDB.load_if_present(cache_dir)
