"""Streamed SHA-256 (the pin) and, in the same pass, the OS package database's digest.

xxh3_128 is used only for cache keys: it is fast and not a security boundary, because a cache hit
still requires the file's (dev, inode, size, mtime_ns, ctime_ns) to be unchanged, and the kernel
moves ctime on every change — a user cannot set it back (docs/pins.md).
"""

from __future__ import annotations

import os
import stat

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~4 ms per check

if TYPE_CHECKING:
    pass

CHUNK = 1 << 20

# (dev, inode, size, mtime_ns, ctime_ns): a file is unchanged while all five are.
StatKey = tuple


class HashError(Exception):
    """The file could not be verified (not regular, unreadable, too big, changed meanwhile)."""


def stat_key(st: os.stat_result) -> StatKey:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def cache_key(path: str, key: StatKey) -> str:
    import xxhash

    return xxhash.xxh3_128_hexdigest(os.fsencode(path) + b"\0" + repr(key).encode())


class Digests:
    __slots__ = ("sha256", "md5", "size", "key")

    def __init__(self, sha256: str, md5: str | None, size: int, key: StatKey) -> None:
        self.sha256 = sha256
        self.md5 = md5
        self.size = size
        self.key = key


def open_regular(path: str) -> tuple[int, os.stat_result]:
    """Open without following a final symlink and without blocking on a FIFO; refuse anything
    that is not a regular file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError as e:
        raise HashError(e.strerror or "cannot open") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise HashError("not a regular file")
    return fd, st


def hash_fd(fd: int, want_md5: bool, limit: int) -> tuple[str, str | None, int]:
    import hashlib

    sha = hashlib.sha256()
    md5 = hashlib.md5(usedforsecurity=False) if want_md5 else None
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    total = 0
    while True:
        n = os.readv(fd, [buf])
        if n == 0:
            break
        total += n
        if total > limit:
            raise HashError(f"larger than max_hash_bytes ({limit} bytes)")
        sha.update(view[:n])
        if md5 is not None:
            md5.update(view[:n])
    return sha.hexdigest(), (md5.hexdigest() if md5 is not None else None), total


def digest_file(path: str, want_md5: bool = False, limit: int = 1 << 30) -> Digests:
    """Hash ``path`` (a real path), refusing a file that changed while it was read."""
    fd, before = open_regular(path)
    try:
        if before.st_size > limit:
            raise HashError(f"larger than max_hash_bytes ({limit} bytes)")
        sha, md5, total = hash_fd(fd, want_md5, limit)
        after = os.fstat(fd)
    except OSError as e:
        raise HashError(e.strerror or "read error") from None
    finally:
        os.close(fd)
    if stat_key(before) != stat_key(after) or total != after.st_size:
        raise HashError("file changed while it was being verified")
    return Digests(sha, md5, total, stat_key(after))


def sha256_file(path: str) -> str:
    return digest_file(path).sha256
