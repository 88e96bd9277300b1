"""Safe file plumbing: atomic replace, a bounded cross-process lock, ownership checks.

The allowlist is the product's memory; a crash mid-write or two concurrent `guard trust`
processes must never lose or tear it. Paths are strings and imports are minimal: this module
sits on the hot path of every check.
"""

from __future__ import annotations

import errno
import os
import stat

from guard.errors import ConfigError, LockTimeout
from guard.textsafe import safe

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~4 ms per check

if TYPE_CHECKING:
    from typing import Any


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
        import contextlib  # lazily: ~2 ms, and only write paths need it

        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(parent)


def write_cache(path: str, data: bytes) -> None:
    """Best-effort atomic write for caches: failure only costs speed, never a verdict."""
    try:  # noqa: SIM105 - contextlib costs ~2 ms to import, and this is on the check path
        atomic_write(path, data)
    except OSError:
        pass


LOCK_TIMEOUT_S = 10.0


def lock_timeout() -> float:
    """``GUARD_LOCK_TIMEOUT`` (seconds) or 10: how long a writer waits for another one."""
    raw = os.environ.get("GUARD_LOCK_TIMEOUT", "")
    if not raw:
        return LOCK_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= 3600:
        raise ConfigError(f"GUARD_LOCK_TIMEOUT={safe(raw)!r} is not a number of seconds (0-3600]")
    return value


class _Alarm(Exception):
    pass


def _on_alarm(signum: int, frame: object) -> None:
    raise _Alarm


class file_lock:  # noqa: N801 - used like contextlib's lower-case context managers
    """An exclusive flock with a bounded wait, so a stuck process yields a clear error.

    The wait sleeps in the kernel (a blocking flock cut short by a one-shot SIGALRM): waiters
    then cost no CPU and are woken as the lock is released, which keeps the wait short and
    even under contention (docs/reliability.md: polling let a writer starve for 9 s among 50,
    blocking keeps the slowest near 2 s). Outside the main thread, or when the program has its
    own interval timer running, it polls instead. The holder writes its pid into the lock
    file, so the timeout error can name the process."""

    def __init__(self, lock_path: str, timeout: float | None = None) -> None:
        self.lock_path = lock_path
        self.timeout = lock_timeout() if timeout is None else timeout
        self.fd = -1

    def __enter__(self) -> None:
        import fcntl

        ensure_private_dir(os.path.dirname(self.lock_path))
        flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
        self.fd = os.open(self.lock_path, flags, 0o600)
        try:
            got = self._wait_blocking(fcntl)
            if got is None:
                got = self._wait_polling(fcntl)
            if not got:
                holder = ""
                import contextlib  # lazily: ~2 ms, and only write paths need it

                with contextlib.suppress(OSError, ValueError, IndexError):
                    holder = f" (pid {int(os.pread(self.fd, 16, 0).split()[0])})"
                raise LockTimeout(
                    f"another guard process{holder} has held the lock {safe(self.lock_path)} "
                    f"for over {self.timeout:g}s (GUARD_LOCK_TIMEOUT); nothing was changed. "
                    f"Retry, or look for a stuck guard process"
                )
            import contextlib  # lazily: ~2 ms, and only write paths need it

            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, 0)
                os.pwrite(self.fd, f"{os.getpid()}\n".encode(), 0)
        except BaseException:
            os.close(self.fd)  # also releases the lock if the alarm came just after it was got
            raise

    def _wait_blocking(self, fcntl: Any) -> bool | None:
        """True: locked; False: timed out; None: cannot wait this way here."""
        import signal

        try:
            old = signal.signal(signal.SIGALRM, _on_alarm)
        except ValueError:  # not the main thread
            return None
        try:
            if signal.getitimer(signal.ITIMER_REAL)[0]:
                return None  # the program's own timer: do not steal it
            try:
                signal.setitimer(signal.ITIMER_REAL, self.timeout)
                try:
                    fcntl.flock(self.fd, fcntl.LOCK_EX)
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
            except _Alarm:
                return False
            return True
        finally:
            signal.signal(signal.SIGALRM, old)

    def _wait_polling(self, fcntl: Any) -> bool:
        import time

        deadline = time.monotonic() + self.timeout
        delay = 0.001
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
            if time.monotonic() >= deadline:
                return False
            time.sleep(delay)
            delay = min(delay * 2, 0.02)

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
