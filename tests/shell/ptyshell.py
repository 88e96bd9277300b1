"""Drive a real interactive shell through a pseudo-terminal, as a person at a keyboard would."""

from __future__ import annotations

import contextlib
import os
import pty
import re
import select
import signal
import subprocess
import time
from collections.abc import Sequence
from typing import Optional

_ANSI = re.compile(rb"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[=>()][0-9A-B]?|\r")


def _take_ctty() -> None:
    """In the child, after setsid(): adopt stdin (the pty) as the controlling terminal."""
    import fcntl
    import termios

    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class PtyShell:
    """A shell process on a pty. ``run(line)`` types a line and returns what was printed up to
    a unique marker that the test's own follow-up command echoes."""

    def __init__(
        self,
        argv: Sequence[str],
        env: dict[str, str],
        cwd: Optional[str] = None,
        timeout: float = 20.0,
        ctty: bool = False,
    ) -> None:
        """``ctty``: make the pty the shell's controlling terminal (fish refuses to run
        interactively without one)."""
        self.timeout = timeout
        master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            list(argv),
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            cwd=cwd,
            start_new_session=True,
            close_fds=True,
            preexec_fn=_take_ctty if ctty else None,
        )
        os.close(slave)
        self.fd = master
        self.buf = b""
        self._n = 0

    def read_until(self, pattern: bytes, timeout: Optional[float] = None) -> bytes:
        deadline = time.monotonic() + (timeout or self.timeout)
        while pattern not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"waited for {pattern!r}; got {self.clean(self.buf)[-2000:]!r}")
            r, _, _ = select.select([self.fd], [], [], min(left, 0.2))
            if r:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    if self.proc.poll() is not None:
                        raise EOFError(f"shell exited; output: {self.clean(self.buf)[-2000:]!r}")
                    continue
                self.buf += chunk
        idx = self.buf.index(pattern) + len(pattern)
        out, self.buf = self.buf[:idx], self.buf[idx:]
        return out

    def send(self, text: str | bytes) -> None:
        data = text.encode() if isinstance(text, str) else text
        os.write(self.fd, data)

    def run(self, line: str, timeout: Optional[float] = None) -> str:
        """Type ``line``, then a marker echo; return the cleaned output between them.

        The marker is built by the shell from two halves so the echoed command line itself
        never matches it."""
        self._n += 1
        tag = f"M{self._n}K"
        self.send(line + "\n")
        self.send(f"echo __done{tag[:2]}''{tag[2:]}__\n")
        out = self.read_until(f"__done{tag}__".encode(), timeout)
        return self.clean(out)

    @staticmethod
    def clean(b: bytes) -> str:
        return _ANSI.sub(b"", b).decode("utf-8", "replace")

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        os.close(self.fd)

    def __enter__(self) -> PtyShell:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
