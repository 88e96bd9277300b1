"""Skip re-hashing unchanged files.

An entry is keyed on the xxh3_128 of (real path, dev, inode, size, mtime_ns, ctime_ns): any
change to the file, even a same-size rewrite with its mtime set back, moves ctime and misses.
The file is plain text, one ``key sha256 md5-or-- size`` line per entry, because parsing it
must cost less than importing json. Deleting it changes no verdict, only speed.
"""

from __future__ import annotations

import os

from guard.hashing import Digests, HashError, cache_key, digest_file, stat_key

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~4 ms per check

if TYPE_CHECKING:
    pass

MAX_ENTRIES = 50_000
_MAGIC = "guard-verified 1\n"


class VerifyCache:
    def __init__(self, path: str) -> None:
        self.path = path
        self._data: dict[str, tuple[str, str | None, int]] | None = None
        self._dirty = False

    def _load(self) -> dict[str, tuple[str, str | None, int]]:
        if self._data is None:
            data: dict[str, tuple[str, str | None, int]] = {}
            try:
                with open(self.path, "rb") as f:  # bytes: a text file imports a codec
                    text = f.read().decode("ascii")
                if text.startswith(_MAGIC):
                    for line in text[len(_MAGIC) :].splitlines():
                        parts = line.split(" ")
                        if len(parts) == 4 and len(parts[1]) == 64 and parts[3].isdigit():
                            md5 = None if parts[2] == "-" else parts[2]
                            data[parts[0]] = (parts[1], md5, int(parts[3]))
            except (OSError, ValueError):  # UnicodeDecodeError is a ValueError
                data = {}
            self._data = data
        return self._data

    def digests(self, real: str, want_md5: bool, limit: int) -> Digests:
        """Digests of ``real``, from cache when its stat key is unchanged. Raises HashError."""
        try:
            st = os.stat(real)
        except OSError as e:
            raise HashError(e.strerror or "cannot stat") from None
        if st.st_size > limit:  # as digest_file would: a cache hit must not change the verdict
            raise HashError(f"larger than max_hash_bytes ({limit} bytes)")
        key = stat_key(st)
        ck = cache_key(real, key)
        hit = self._load().get(ck)
        if hit is not None and (hit[1] is not None or not want_md5):
            return Digests(hit[0], hit[1], hit[2], key)
        d = digest_file(real, want_md5=want_md5, limit=limit)
        if d.key == key:
            data = self._load()
            if len(data) >= MAX_ENTRIES:
                data.clear()
            data[ck] = (d.sha256, d.md5, d.size)
            self._dirty = True
        return d

    def save(self) -> None:
        if self._dirty and self._data is not None:
            lines = [_MAGIC]
            for k, (sha, md5, size) in self._data.items():
                lines.append(f"{k} {sha} {md5 or '-'} {size}\n")
            _write_unsynced(self.path, "".join(lines).encode("ascii"))
            self._dirty = False


def _write_unsynced(path: str, data: bytes) -> None:
    """write_cache without its two fsyncs: on ext4 under load they cost a first sighting
    5-20 ms of wall time, and durability buys nothing here (a torn or empty file after a
    crash reads as a smaller cache: `_load` skips what it cannot parse). Still atomic for
    concurrent readers: a private temp file renamed into place. Failure only costs speed."""
    tmp = f"{path}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    try:
        os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
        fd = os.open(
            tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600
        )
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError:
        import contextlib

        with contextlib.suppress(OSError):
            os.unlink(tmp)
