"""Python distribution provenance: the installed distribution whose RECORD lists a file.

Every installer that follows the spec (pip, uv, pipx — which runs pip) writes
``<site-packages>/<name>-<version>.dist-info/RECORD``: each installed file, console-script
wrappers and ``.data/scripts`` included, as a path relative to site-packages
(``../../../bin/aws``) with its sha256. "Which package put this file here?" therefore becomes:
find the environments the file can belong to, and the RECORD that lists it.

Environments tried, in order: the parent of the real file's directory (a venv; ``~/.local``
for ``pip --user``; a pipx or uv tool venv when PATH holds a symlink into it), the same for
the path as invoked, and the prefix of the shebang interpreter (a copied wrapper still names
its venv's python). Nothing is ever executed: the interpreter is only a path to look at.

Only RECORD rows outside site-packages (scripts and data files, a few per distribution) are
indexed. The index of each site-packages dir is memoised per process and stored in the cache
dir (``pip/<xxh3 of the dir>.v1``) with each RECORD's stat (inode, size, mtime, ctime): a
later process re-reads only the RECORDs that changed. The cache is evidence for a message,
never a verdict; a damaged one is rebuilt (docs/provenance.md).
"""

from __future__ import annotations

import os
import stat

from guard.textsafe import json_safe

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~4 ms per check

if TYPE_CHECKING:
    from guard.model import Provenance

_HEAD = 1024  # a shebang line, or pip's two-line /bin/sh trampoline for long paths
_MAX_RECORD = 64 << 20  # the biggest real RECORDs (botocore, tensorflow) are a few MiB
_MAX_SMALL = 1 << 20  # METADATA headers, entry_points.txt, INSTALLER
_MAX_HASH = 256 << 20
_SCRIPT_GROUPS = ("console_scripts", "gui_scripts")

Row = tuple  # (dist-info name, hash field, size field) of a RECORD row

# site-packages real path -> (RECORD stats, site dir stat, {absolute path: [Row, ...]})
_SITES: dict[str, tuple[str, object, dict[str, list[Row]]]] = {}
# prefix -> ((lib, lib64) stats, site-packages dirs)
_SITE_DIRS: dict[str, tuple[object, list[str]]] = {}


def clean(text: str) -> str:
    """Text that always encodes as UTF-8 (JSON output, event logs): raw bytes of a file name
    become ``\\xNN``; lone surrogates (``"\\ud800"`` in someone's package.json) ``\\ud800``."""
    return json_safe(text).encode("utf-8", "backslashreplace").decode("utf-8")


def read_limited(path: str, limit: int) -> bytes | None:
    """Up to ``limit`` bytes of a regular file; None when it is not one or cannot be read.

    O_NONBLOCK: a FIFO planted where a RECORD or a script should be must not hang us."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        chunks: list[bytes] = []
        left = limit
        while left > 0:
            b = os.read(fd, min(left, 1 << 20))
            if not b:
                break
            chunks.append(b)
            left -= len(b)
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


def shebang_interpreter(path: str) -> str | None:
    """The absolute interpreter a script names: ``#!/venv/bin/python``, or the one in pip's
    trampoline for paths a ``#!`` line cannot hold (spaces, > 127 bytes)::

        #!/bin/sh
        '''exec' "/long path/venv/bin/python" "$0" "$@"
        ' '''
    """
    head = read_limited(path, _HEAD)
    if not head or not head.startswith(b"#!"):
        return None
    lines = head.split(b"\n", 2)
    interp = b""
    if len(lines) > 1 and lines[1].startswith(b"'''exec' "):
        rest = lines[1][len(b"'''exec' ") :]
        if rest.startswith(b'"'):
            end = rest.find(b'"', 1)
            interp = rest[1:end] if end > 0 else b""
        elif rest.split():
            interp = rest.split()[0]
    else:
        words = lines[0][2:].split()
        interp = words[0] if words else b""
    if not interp.startswith(b"/") or os.path.basename(interp) == b"env":
        return None  # `#!/usr/bin/env python` names no environment
    return os.fsdecode(interp)


def _prefix_of(path: str) -> str:
    """The prefix a file in ``PREFIX/bin/`` belongs to, through directory symlinks (a venv's
    python itself is a symlink to the base interpreter: keep the name, resolve the dir)."""
    return os.path.dirname(os.path.realpath(os.path.dirname(path)))


def _dir_key(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns


def site_dirs(prefix: str) -> list[str]:
    """``PREFIX/lib{,64}/python*/{site,dist}-packages`` that exist, as real paths.

    Memoised per process while ``lib`` and ``lib64`` are unchanged: an audit asks this for
    every file of a directory (``/usr/lib`` holds thousands of entries)."""
    key = (_dir_key(os.path.join(prefix, "lib")), _dir_key(os.path.join(prefix, "lib64")))
    hit = _SITE_DIRS.get(prefix)
    if hit is not None and hit[0] == key:
        return hit[1]
    out: list[str] = []
    for lib in ("lib", "lib64"):
        base = os.path.join(prefix, lib)
        try:
            names = sorted(os.listdir(base))
        except OSError:
            continue
        for n in names:
            if not n.startswith("python"):
                continue
            for leaf in ("site-packages", "dist-packages"):
                d = os.path.join(base, n, leaf)
                if os.path.isdir(d):
                    r = os.path.realpath(d)
                    if r not in out:
                        out.append(r)
    _SITE_DIRS[prefix] = (key, out)
    return out


def user_base() -> str:
    """Where ``pip install --user`` puts things (``site.USER_BASE`` on POSIX)."""
    base = os.environ.get("PYTHONUSERBASE") or os.path.join(os.path.expanduser("~"), ".local")
    return os.path.realpath(base)


def env_kind(prefix: str) -> str:
    """How the environment was made: "pipx", "uv-tool", "venv", "user" or "system"."""
    parent = os.path.dirname(prefix)
    pipx_home = os.environ.get("PIPX_HOME")
    if parent.endswith("/pipx/venvs") or (
        pipx_home and parent == os.path.join(os.path.realpath(pipx_home), "venvs")
    ):
        return "pipx"
    uv_dir = os.environ.get("UV_TOOL_DIR")
    if parent.endswith("/uv/tools") or (uv_dir and parent == os.path.realpath(uv_dir)):
        return "uv-tool"
    if os.path.isfile(os.path.join(prefix, "pyvenv.cfg")):
        return "venv"
    if prefix == user_base():
        return "user"
    return "system"


# -- RECORD ---------------------------------------------------------------------------------
def _split_row(line: bytes) -> tuple[str, str, str] | None:
    """(path, hash field, size field) of one RECORD row. Rows are CSV, but a path is quoted
    only when it holds a comma or a quote, so the common row needs no csv module."""
    text = line.decode("utf-8", "surrogateescape").rstrip("\r")
    if not text:
        return None
    if text.startswith('"'):
        import csv

        try:
            row = next(csv.reader([text]))
        except (csv.Error, StopIteration):
            return None
        if not row:
            return None
        row += ["", ""]
        return row[0], row[1], row[2]
    parts = text.rsplit(",", 2)
    if len(parts) != 3:
        return None
    return parts[0], parts[1], parts[2]


def _record_stats(site: str) -> list[tuple[str, list[int] | None]] | None:
    """[(dist-info name, RECORD's (inode, size, mtime_ns, ctime_ns) or None)], sorted.

    Installing, upgrading or removing a distribution adds, replaces or removes its dist-info
    dir; any write to a RECORD moves its ctime, which nobody can set back."""
    try:
        names = sorted(n for n in os.listdir(site) if n.endswith(".dist-info"))
    except OSError:
        return None
    out: list[tuple[str, list[int] | None]] = []
    for n in names:
        try:
            rs = os.stat(os.path.join(site, n, "RECORD"))
        except OSError:
            out.append((n, None))
            continue
        out.append((n, [rs.st_ino, rs.st_size, rs.st_mtime_ns, rs.st_ctime_ns]))
    return out


def _outside_rows(site: str, name: str) -> list[list[str]]:
    """[path, hash, size] of the rows of one RECORD that lie outside site-packages: ``../``
    relative (scripts, data files) or absolute. A big RECORD has tens of thousands of rows;
    a handful are these."""
    data = read_limited(os.path.join(site, name, "RECORD"), _MAX_RECORD)
    if not data:
        return []
    out = []
    for line in data.split(b"\n"):
        if line.startswith((b"../", b'"../', b"/", b'"/')):
            row = _split_row(line)
            if row is not None:
                out.append(list(row))
    return out


def _cache_file(site: str) -> str:
    import xxhash

    from guard.paths import locations

    key = xxhash.xxh3_128_hexdigest(os.fsencode(site))
    return os.path.join(locations().cache_dir, "pip", f"{key}.v1")


_CACHE_MAGIC = b"guard-pip-cache 1\n"


def _load_cache(path: str, site: str) -> dict[str, list]:
    """{dist-info: [RECORD stat, rows]} as last stored; {} when missing, foreign or damaged.

    Plain NUL-separated lines, not JSON: importing json (and re) would cost more than the
    lookup. Names and paths are raw bytes; none holds a NUL, and RECORD rows hold no newline
    (rows are split on newlines when read)."""
    data = read_limited(path, _MAX_RECORD)
    head = _CACHE_MAGIC + os.fsencode(site) + b"\n"
    if not data or not data.startswith(head):
        return {}
    out: dict[str, list] = {}
    rows: list[list[str]] | None = None
    try:
        for line in data[len(head) :].split(b"\n"):
            f = line.split(b"\0")
            if f[0] == b"D" and len(f) == 3:
                rows = []
                out[os.fsdecode(f[1])] = [[int(x) for x in f[2].split()], rows]
            elif f[0] == b"R" and len(f) == 4 and rows is not None:
                rows.append([os.fsdecode(x) for x in f[1:]])
            elif line:
                return {}
    except ValueError:
        return {}
    return out


def _save_cache(path: str, site: str, dists: dict[str, list]) -> None:
    """Atomic (temp file + rename) but not fsync'd: losing it costs a re-read, not a verdict."""
    import contextlib

    from guard.provenance.index import write_atomic

    parts = [_CACHE_MAGIC, os.fsencode(site), b"\n"]
    for name, (st, rows) in dists.items():
        fields = [os.fsencode(name)] + [os.fsencode(x) for r in rows for x in r]
        if any(b"\0" in x or b"\n" in x for x in fields):
            continue  # cannot be stored safely: re-read next time
        parts.append(b"D\0%s\0%s\n" % (fields[0], " ".join(map(str, st)).encode()))
        for r in rows:
            parts.append(b"R\0" + b"\0".join(os.fsencode(x) for x in r) + b"\n")
    with contextlib.suppress(OSError):
        write_atomic(path, b"".join(parts))


def _outside_index(site: str) -> dict[str, list[Row]]:
    """Absolute path -> [Row] for every RECORD row outside site-packages.

    Memoised per process, and stored per environment in the cache dir with each RECORD's stat:
    a later process re-reads only the RECORDs that changed (a cold lookup in an environment of
    100 distributions reads a few MiB of RECORDs; a cached one reads one small file)."""
    hit = _SITES.get(site)
    dkey = _dir_key(site)
    if hit is not None and hit[1] == dkey:
        # Same process, site dir unchanged: pip adds, replaces or removes whole dist-info
        # dirs, which moves it. (An in-place RECORD edit is seen by the next process.)
        return hit[2]
    stats = _record_stats(site)
    if stats is None:
        return {}
    key = repr(stats)
    if hit is not None and hit[0] == key:
        _SITES[site] = (key, dkey, hit[2])
        return hit[2]
    cache_path = _cache_file(site)
    stored = _load_cache(cache_path, site)
    dists: dict[str, list] = {}
    dirty = len(stored) != len(stats)
    for name, st in stats:
        if st is None:
            continue
        old = stored.get(name)
        if old is not None and old[0] == st:
            dists[name] = old
        else:
            dists[name] = [st, _outside_rows(site, name)]
            dirty = True
    if dirty:
        _save_cache(cache_path, site, dists)
    index: dict[str, list[Row]] = {}
    for name, (_, rows) in dists.items():
        for path, digest, size in rows:
            full = os.path.normpath(os.path.join(site, path))
            index.setdefault(full, []).append((name, digest, size))
    _SITES[site] = (key, dkey, index)
    return index


def _inside_rows(site: str, rel: str) -> list[Row]:
    """[Row] of RECORD rows naming ``rel`` inside site-packages (rare: a
    module run directly); not memoised, only RECORDs holding the name are parsed."""
    stats = _record_stats(site)
    if stats is None:
        return []
    needle = os.fsencode(rel)
    out = []
    for n, _ in stats:
        data = read_limited(os.path.join(site, n, "RECORD"), _MAX_RECORD)
        if not data or needle not in data:
            continue
        for line in data.split(b"\n"):
            if needle in line:
                row = _split_row(line)
                if row is not None and os.path.normpath(row[0]) == rel:
                    out.append((n, row[1], row[2]))
    return out


# -- evidence -------------------------------------------------------------------------------
def record_hash_ok(
    path: str | None, field: str, size: str = "", sha256: str | None = None
) -> bool | None:
    """Does ``path`` still have the digest RECORD recorded (``sha256=<urlsafe b64, no pad>``)?
    None when RECORD has no digest for it or the file cannot be read. A size that differs
    from RECORD's answers False without reading the file (a huge planted file costs nothing).
    ``sha256``: the file's hex SHA-256 when the caller already has it (no second read)."""
    algo, sep, want = field.partition("=")
    if not sep or not want or path is None:
        return None
    import base64

    if algo == "sha256" and sha256 is not None:
        try:
            raw = base64.urlsafe_b64decode(want.rstrip("=") + "=" * (-len(want.rstrip("=")) % 4))
        except ValueError:
            return False
        if size.isdigit():
            try:
                if int(size) != os.stat(path).st_size:
                    return False
            except OSError:
                return None
        return raw.hex() == sha256
    import hashlib

    if algo not in hashlib.algorithms_guaranteed or algo in ("md5", "sha1"):
        return None  # PEP 376 forbids weak digests; do not treat one as evidence
    from guard.hashing import HashError, open_regular

    try:
        fd, st = open_regular(path)
    except HashError:
        return None
    try:
        if size.isdigit() and int(size) != st.st_size:
            return False
        if st.st_size > _MAX_HASH:
            return None
        h = hashlib.new(algo)
        while True:
            b = os.read(fd, 1 << 20)
            if not b:
                break
            h.update(b)
    except OSError:
        return None
    finally:
        os.close(fd)
    got = base64.urlsafe_b64encode(h.digest()).rstrip(b"=").decode("ascii")
    return got == want.rstrip("=")


def _metadata(dist_info: str) -> tuple[str | None, str | None]:
    """(Name, Version) from METADATA's header block; the dir name when that is unreadable."""
    name = version = None
    data = read_limited(os.path.join(dist_info, "METADATA"), _MAX_SMALL)
    if data:
        for line in data.decode("utf-8", "replace").splitlines():
            if not line.strip():
                break  # headers end at the first blank line; the body is the description
            k, sep, v = line.partition(":")
            if sep and k.lower() == "name" and name is None:
                name = v.strip()
            elif sep and k.lower() == "version" and version is None:
                version = v.strip()
    if not name or not version:
        stem = os.path.basename(dist_info)[: -len(".dist-info")]
        n, _, v = stem.partition("-")
        name, version = name or n, version or v or None
    return (clean(name) if name else None), (clean(version) if version else None)


def _entry_point(dist_info: str, script: str) -> tuple[str, str] | None:
    """("NAME = module:func", group) for the console or GUI script ``script``, from the
    distribution's entry_points.txt (an INI file; parsed by hand, configparser is slow)."""
    data = read_limited(os.path.join(dist_info, "entry_points.txt"), _MAX_SMALL)
    if not data:
        return None
    group = ""
    for raw in data.decode("utf-8", "replace").splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            group = line[1:-1].strip()
            continue
        if group not in _SCRIPT_GROUPS:
            continue
        k, sep, v = line.partition("=")
        if sep and k.strip() == script:
            return f"{k.strip()} = {v.strip()}", group
    return None


def _installer(dist_info: str) -> str | None:
    data = read_limited(os.path.join(dist_info, "INSTALLER"), 256)
    if not data:
        return None
    text = data.decode("utf-8", "replace").strip().splitlines()
    return text[0].strip() if text else None


def _provenance(
    site: str,
    prefix: str,
    listed: str,
    rows: list[Row],
    file: str | None,
    interpreter: str | None,
    copy: bool = False,
    sha256: str | None = None,
) -> Provenance:
    """Evidence for the file ``listed`` in RECORD. Several distributions listing one path
    means one overwrote the other's script; the one whose digest matches is the owner."""
    from guard.model import Provenance

    oks = [record_hash_ok(file, h, size, sha256) for _, h, size in rows]
    pick = next((i for i, ok in enumerate(oks) if ok), 0)
    dist_info = os.path.join(site, rows[pick][0])
    name, version = _metadata(dist_info)
    ep = _entry_point(dist_info, os.path.basename(listed))
    detail: dict[str, object] = {
        "dist": name,
        "version": version,
        "entry_point": clean(ep[0]) if ep else None,
        "entry_point_group": ep[1] if ep else None,
        "installer": clean(inst) if (inst := _installer(dist_info)) else None,
        "record_ok": oks[pick],
        "env": clean(prefix),
        "env_kind": env_kind(prefix),
        "dist_info": clean(dist_info),
    }
    if interpreter:
        detail["interpreter"] = clean(interpreter)
    if copy:
        detail["copy_of"] = clean(listed)
    if len(rows) > 1:
        detail["also_listed_by"] = [clean(r[0]) for i, r in enumerate(rows) if i != pick]
    return Provenance("pip", name, version, oks[pick], detail)


def _queries(invoked: str, real: str | None) -> list[str]:
    """The spellings RECORD may use: the real file, then the invoked path (dirs resolved)."""
    out: list[str] = []
    for p in (real, invoked):
        if p:
            q = os.path.join(os.path.realpath(os.path.dirname(p)), os.path.basename(p))
            if q not in out:
                out.append(q)
    return out


def pip_provenance(invoked: str, real: str | None, sha256: str | None = None) -> Provenance | None:
    """The distribution that installed ``invoked`` (real file ``real``, whose hex SHA-256 is
    ``sha256`` when the caller knows it), or None."""
    queries = _queries(invoked, real)
    interp = shebang_interpreter(real) if real else None
    prefixes: list[str] = []
    for p in (*queries, interp):
        if p:
            pre = _prefix_of(p)
            if pre not in prefixes and pre != "/":
                prefixes.append(pre)
    interp_prefix = _prefix_of(interp) if interp else None
    for prefix in prefixes:
        for site in site_dirs(prefix):
            index = _outside_index(site)
            for q in queries:
                rows = index.get(q)
                # RECORD may name any path (``../../../../usr/bin/x``): only files inside the
                # environment count, or a venv that a shebang merely points at could claim one.
                if rows and q.startswith(prefix + "/"):
                    return _provenance(site, prefix, q, rows, real, interp, sha256=sha256)
            for q in queries:
                if q.startswith(site + "/"):
                    rows = _inside_rows(site, q[len(site) + 1 :])
                    if rows:
                        return _provenance(site, prefix, q, rows, real, interp, sha256=sha256)
            if prefix == interp_prefix and real:
                # A wrapper copied out of its venv (pipx/uv where symlinks are unavailable):
                # RECORD lists the original in the venv's bin dir, under the same name.
                orig = os.path.join(prefix, "bin", os.path.basename(real))
                rows = index.get(orig)
                if rows and orig not in queries:
                    return _provenance(site, prefix, orig, rows, real, interp, True, sha256)
    return None
