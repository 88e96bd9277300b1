"""Safe file plumbing: atomic replace, a bounded cross-process lock, ownership checks.

The allowlist is the product's memory; a crash mid-write or two concurrent `guard trust`
processes must never lose or tear it. Paths are strings and imports are minimal: this module
sits on the hot path of every check.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat

from guard.errors import ConfigError, LockTimeout
from guard.textsafe import safe

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~4 ms per check

if TYPE_CHECKING:
    pass


def ensure_private_dir(path: str) -> None:
    os.makedirs(path, mode=0o700, exist_ok=True)


def _fsync_dir(path: str) -> None:
    try:
        dfd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def atomic_write(path: str, data: bytes, mode: int = 0o600, backup: bool = False) -> None:
    """Write ``data`` so that readers see the old or the new file, never a torn one.

    With ``backup``, the previous version is kept as ``NAME.bak`` (a hard link: no copy, and
    the backup is itself always a complete file)."""
    parent = os.path.dirname(path) or "."
    ensure_private_dir(parent)
    tmp = os.path.join(parent, f".{os.path.basename(path)}.{os.getpid()}.{os.urandom(6).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, mode)
    try:
        try:
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            os.fchmod(fd, mode)
            os.fsync(fd)
        finally:
            os.close(fd)
        if backup and os.path.isfile(path) and not os.path.islink(path):
            bak_tmp = tmp + ".bak"
            os.link(path, bak_tmp)
            os.replace(bak_tmp, path + ".bak")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(parent)


def write_cache(path: str, data: bytes) -> None:
    """Best-effort atomic write for caches: failure only costs speed, never a verdict."""
    with contextlib.suppress(OSError):
        atomic_write(path, data)


class file_lock:  # noqa: N801 - used like contextlib's lower-case context managers
    """An exclusive flock with a bounded wait, so a stuck process yields a clear error."""

    def __init__(self, lock_path: str, timeout: float = 10.0) -> None:
        self.lock_path = lock_path
        self.timeout = timeout
        self.fd = -1

    def __enter__(self) -> None:
        import fcntl
        import time

        ensure_private_dir(os.path.dirname(self.lock_path))
        flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
        self.fd = os.open(self.lock_path, flags, 0o600)
        deadline = time.monotonic() + self.timeout
        delay = 0.001
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.EACCES):
                    os.close(self.fd)
                    raise
            if time.monotonic() >= deadline:
                os.close(self.fd)
                raise LockTimeout(
                    f"another guard process has held {safe(self.lock_path)} for over "
                    f"{self.timeout:.0f}s; retry, or check for a stuck guard process"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)  # closing the descriptor releases the flock


def check_private_file(path: str, what: str) -> os.stat_result | None:
    """Refuse a config or allowlist that someone else could have written.

    A file writable by group/others, owned by another user, or reached through a symlink could
    have been planted by exactly the attacker guard is meant to stop. Returns its lstat, or
    None when it does not exist."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise ConfigError(f"cannot read {what} {safe(path)}: {e.strerror}") from None
    p = safe(path)
    if stat.S_ISLNK(st.st_mode):
        raise ConfigError(
            f"{what} {p} is a symlink; guard only reads a regular file it owns. "
            f"Fix: replace the link with the file it points to (cp --remove-destination)"
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
    parent = os.stat(os.path.dirname(path) or ".")
    if parent.st_mode & 0o022 or parent.st_uid not in (uid, 0):
        raise ConfigError(
            f"the directory of {what} {p} is writable by others or not yours; "
            f"fix: chmod 700 {safe(os.path.dirname(path))}"
        )
    return st


def read_bytes_nofollow(path: str, limit: int) -> bytes | None:
    """Read a small config file without following a symlink or blocking; None when absent."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise ConfigError(f"cannot read {safe(path)}: {e.strerror}") from None
    with os.fdopen(fd, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise ConfigError(f"{safe(path)} is larger than {limit} bytes; refusing to parse it")
    return data
