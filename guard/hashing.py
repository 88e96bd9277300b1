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
    from typing import Any

CHUNK = 1 << 18
SMALL_FILE = 1 << 18  # up to here the built-in SHA-256 beats loading OpenSSL (see new_hashers)

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


def _openssl(want_md5: bool) -> tuple[Any, Any]:
    try:
        import _hashlib  # what hashlib wraps, without hashlib's own ~1 ms of set-up

        return _hashlib.openssl_sha256(), (
            _hashlib.openssl_md5(usedforsecurity=False) if want_md5 else None
        )
    except (ImportError, AttributeError, ValueError):  # no OpenSSL, or one without them
        import hashlib

        return hashlib.sha256(), (hashlib.md5(usedforsecurity=False) if want_md5 else None)


def _builtin(want_md5: bool) -> tuple[Any, Any] | None:
    """CPython's own SHA-256/MD5, or None where the build left them out."""
    try:
        try:
            from _sha256 import sha256  # Python <= 3.11
        except ImportError:
            from _sha2 import sha256  # type: ignore[no-redef]  # Python >= 3.12
        md5 = None
        if want_md5:
            from _md5 import md5 as new_md5

            md5 = new_md5()
        return sha256(), md5
    except ImportError:
        return None


_builtin_budget = [SMALL_FILE]  # bytes this process may still hash without OpenSSL


def new_hashers(size_hint: int, want_md5: bool) -> tuple[Any, Any]:
    """(sha256, md5 or None) objects for a file of about ``size_hint`` bytes (-1: unknown).

    Both kinds compute the same SHA-256; only speed differs. OpenSSL's is ~5x faster per
    byte (SHA-NI) but loading libcrypto costs ~2.5 ms, so a process that hashes little (a
    hook's first sighting of a script) uses the built-in one for its first SMALL_FILE bytes;
    a process that hashes more (trust --dir, init, a big binary) loads OpenSSL."""
    import sys

    if 0 <= size_hint <= _builtin_budget[0] and "_hashlib" not in sys.modules:
        got = _builtin(want_md5)
        if got is not None:
            _builtin_budget[0] -= size_hint
            return got
    return _openssl(want_md5)


def hash_fd(
    fd: int, want_md5: bool, limit: int, size_hint: int = -1
) -> tuple[str, str | None, int]:
    sha, md5 = new_hashers(size_hint, want_md5)
    # One reused buffer: every page of a new one costs a page fault (~2.5 us here), and
    # 256 KiB is read and hashed while it is still in the CPU cache.
    buf = bytearray(min(CHUNK, size_hint + 1) if size_hint >= 0 else CHUNK)
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
        sha, md5, total = hash_fd(fd, want_md5, limit, before.st_size)
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
