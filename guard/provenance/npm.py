"""npm provenance: the package under ``node_modules`` whose ``bin`` put a command on PATH.

npm links each ``bin`` entry of a package as ``node_modules/.bin/NAME`` (local) or
``PREFIX/bin/NAME`` (global, into ``PREFIX/lib/node_modules``), a relative symlink to the
script inside the package. ``npm install ./folder`` makes the package itself a symlink to the
folder, so the *real* path may lie outside node_modules: the package is found on the symlink
chain, read lexically hop by hop (``node_modules/.bin/../evil/bin/x.js``), not only on the
real path. Its root is the directory right under the last ``node_modules`` (``@scope/name``
for scoped packages), whose package.json names it — nested package.json files inside a
package (``dist/package.json`` holding only ``"type"``) are not the package.
"""

from __future__ import annotations

import os

from guard.provenance.pip import clean, read_limited

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~4 ms per check

if TYPE_CHECKING:
    from guard.model import Provenance

_MAX_PACKAGE_JSON = 1 << 20
_MAX_LOCKFILE = 8 << 20
_MAX_NAME = 214  # npm's own limit on a package name


def link_chain(invoked: str, real: str | None) -> list[str]:
    """``invoked``, each symlink target on the way (lexically normalised), then ``real``."""
    from guard.resolve import symlink_hops

    out = [os.path.normpath(invoked)]
    try:
        hops = symlink_hops(invoked)
    except OSError:
        hops = []
    for h in hops:
        try:
            t = os.readlink(h)
        except OSError:
            break
        p = os.path.normpath(os.path.join(os.path.dirname(h), t))
        if p not in out:
            out.append(p)
    if real and real not in out:
        out.append(real)
    return out


def package_root(path: str) -> str | None:
    """``…/node_modules/NAME`` (or ``…/node_modules/@scope/NAME``) holding ``path``."""
    parts = path.split("/")
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] != "node_modules":
            continue
        name = parts[i + 1]
        if not name or name.startswith("."):
            return None  # .bin/NAME is the link, not a package
        end = i + 3 if name.startswith("@") else i + 2
        if end >= len(parts):
            return None  # no file inside it
        return "/".join(parts[:end])
    return None


def _load_json(path: str, limit: int) -> object:
    data = read_limited(path, limit)
    if data is None or len(data) >= limit:
        return None
    import json

    try:
        return json.loads(data.decode("utf-8", "replace"))
    except ValueError:
        return None


def _text(v: object, limit: int = _MAX_NAME) -> str | None:
    if isinstance(v, bool) or not isinstance(v, (str, int, float)):
        return None
    s = str(v)
    return clean(s[:limit]) if s else None


def _bin_entry(pkg: dict, name: str | None, rel: str, invoked_name: str) -> str | None:
    """ "NAME = path" of the ``bin`` entry that is this file (by path, else by name)."""
    bins = pkg.get("bin")
    if isinstance(bins, str):
        short = (name or "").rsplit("/", 1)[-1]  # a string bin is named after the package
        bins = {short: bins}
    if not isinstance(bins, dict):
        return None
    entries = [(str(k), v) for k, v in bins.items() if isinstance(v, str)]
    for k, v in entries:
        if os.path.normpath(v) == os.path.normpath(rel):
            return clean(f"{k} = {v}")
    for k, v in entries:
        if k == invoked_name:
            return clean(f"{k} = {v}")
    return None


def _lock_entry(root: str) -> dict:
    """npm's record of how the package was installed (``resolved``: a registry URL, a
    tarball, or the folder a link points to) from the hidden lockfile
    ``node_modules/.package-lock.json`` of the top-level node_modules."""
    parts = root.split("/")
    j = parts.index("node_modules")
    lock = _load_json("/".join(parts[: j + 1]) + "/.package-lock.json", _MAX_LOCKFILE)
    if not isinstance(lock, dict) or not isinstance(lock.get("packages"), dict):
        return {}
    entry = lock["packages"].get("/".join(parts[j:]))
    if not isinstance(entry, dict):
        return {}
    return {k: entry[k] for k in ("resolved", "integrity") if isinstance(entry.get(k), str)}


def npm_provenance(invoked: str, real: str | None) -> Provenance | None:
    """The npm package that provides ``invoked``, or None when it is not under node_modules."""
    from guard.model import Provenance

    for p in link_chain(invoked, real):
        root = package_root(p)
        if root is None:
            continue
        pj = os.path.join(root, "package.json")
        pkg = _load_json(pj, _MAX_PACKAGE_JSON)
        if not isinstance(pkg, dict):
            continue
        name = _text(pkg.get("name"))
        version = _text(pkg.get("version"), 64)
        rel = p[len(root) + 1 :]
        detail: dict[str, object] = {
            "package": name,
            "version": version,
            "bin": _bin_entry(pkg, name, rel, os.path.basename(invoked)),
            "package_json": clean(pj),
        }
        for k, v in _lock_entry(root).items():
            detail[k] = clean(v)
        return Provenance("npm", name, version, None, detail)
    return None
