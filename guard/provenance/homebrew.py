"""Homebrew provenance: a file inside a keg, ``<prefix>/Cellar/FORMULA/VERSION/…``.

Homebrew installs each formula version into its own keg and links it into ``<prefix>/bin``
(``/opt/homebrew``, ``/usr/local``, ``/home/linuxbrew/.linuxbrew``). The keg is found on the
symlink chain (``bin/jq -> ../Cellar/jq/1.7.1/bin/jq``, or through ``opt/jq``) or in the real
path. Homebrew records no per-file digests, so the evidence is the keg and its
``INSTALL_RECEIPT.json``, not an integrity check.
"""

from __future__ import annotations

import os

from guard.provenance.npm import link_chain
from guard.provenance.pip import clean

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~4 ms per check

if TYPE_CHECKING:
    from guard.model import Provenance


def keg_of(path: str) -> tuple[str, str, str] | None:
    """(cellar, formula, version) when ``path`` is a file inside a keg."""
    parts = path.split("/")
    for i in range(len(parts) - 4, 0, -1):
        if parts[i] == "Cellar" and parts[i + 1] and parts[i + 2]:
            return "/".join(parts[: i + 1]), parts[i + 1], parts[i + 2]
    return None


def homebrew_provenance(invoked: str, real: str | None) -> Provenance | None:
    """The formula whose keg holds ``invoked`` (through its links), or None."""
    from guard.model import Provenance

    for p in link_chain(invoked, real):
        hit = keg_of(p)
        if hit is None:
            continue
        cellar, formula, version = (clean(x) for x in hit)
        keg = os.path.join(hit[0], hit[1], hit[2])
        if not os.path.isdir(keg):
            continue
        detail = {
            "formula": formula,
            "version": version,
            "cellar": cellar,
            "receipt": os.path.isfile(os.path.join(keg, "INSTALL_RECEIPT.json")),
        }
        return Provenance("homebrew", formula, version, None, detail)
    return None
