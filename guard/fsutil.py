"""Safe file plumbing: atomic replace, a bounded cross-process lock, ownership checks.

The allowlist is the product's memory; a crash mid-write or two concurrent `guard trust`
processes must never lose or tear it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from guard.errors import ConfigError, LockTimeout
from guard.textsafe import safe


def ensure_private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)


def atomic_write(path: Path, data: bytes, mode: int = 0o600, backup: bool = False) -> None:
    """Write ``data`` so that readers see the old or the new file, never a torn one.

    With ``backup``, the previous version is kept as ``NAME.bak`` (hard link, so no copy)."""
    ensure_private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        if backup and path.exists() and not path.is_symlink():
            bak_tmp = f"{tmp}.bak"
            os.link(path, bak_tmp)
            os.replace(bak_tmp, path.with_name(path.name + ".bak"))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):
        dfd = os.open(str(path.parent), os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def write_cache(path: Path, data: bytes) -> None:
    """Best-effort atomic write for caches: failure only costs speed, never a verdict."""
    with contextlib.suppress(OSError):
        atomic_write(path, data)


@contextlib.contextmanager
def file_lock(lock_path: Path, timeout: float = 10.0) -> Iterator[None]:
    """An exclusive flock with a bounded wait, so a stuck process yields a clear error."""
    ensure_private_dir(lock_path.parent)
    fd = os.open(str(lock_path), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    try:
        deadline = time.monotonic() + timeout
        delay = 0.001
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    raise LockTimeout(
                        f"another guard process has held {safe(str(lock_path))} for over "
                        f"{timeout:.0f}s; retry, or remove the lock file if no guard is running"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
        yield
    finally:
        os.close(fd)


def check_private_file(path: Path, what: str) -> None:
    """Refuse a config or allowlist that someone else could have written.

    A file writable by group/others, owned by another user, or reached through a symlink could
    have been planted by exactly the attacker guard is meant to stop."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as e:
        raise ConfigError(f"cannot read {what} {safe(str(path))}: {e.strerror}") from None
    p = safe(str(path))
    if stat.S_ISLNK(st.st_mode):
        raise ConfigError(
            f"{what} {p} is a symlink; guard only reads a regular file it owns. "
            f"Fix: replace the link with the file it points to (cp --remove-destination)."
        )
    if not stat.S_ISREG(st.st_mode):
        raise ConfigError(f"{what} {p} is not a regular file")
    uid = os.geteuid()
    if st.st_uid != uid:
        raise ConfigError(
            f"{what} {p} is owned by uid {st.st_uid}, not you (uid {uid}); "
            f"fix: chown {uid} {p} (after checking its contents)"
        )
    if st.st_mode & 0o022:
        raise ConfigError(
            f"{what} {p} is writable by group or others (mode {stat.S_IMODE(st.st_mode):o}); "
            f"fix: chmod 600 {p} (after checking its contents)"
        )
    parent = os.stat(path.parent)
    if parent.st_mode & 0o022 and not parent.st_mode & stat.S_ISVTX:
        raise ConfigError(
            f"the directory of {what} {p} is writable by group or others; "
            f"fix: chmod 700 {safe(str(path.parent))}"
        )


def read_bytes_nofollow(path: Path, limit: int) -> bytes | None:
    """Read a small config file without following a symlink or blocking; None when absent."""
    try:
        fd = os.open(str(path), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise ConfigError(f"cannot read {safe(str(path))}: {e.strerror}") from None
    with os.fdopen(fd, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise ConfigError(f"{safe(str(path))} is larger than {limit} bytes; refusing to parse it")
    return data
