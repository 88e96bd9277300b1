"""Tests of guard's core: resolver, decision, allowlist, hashing, CLI.

Shared helpers live here (not in a conftest) so each test module imports exactly what it uses.
Building the dpkg index costs ~1.5 s, so it is built once per test session into a private temp
dir and hard-linked into each sandbox's cache dir by ``seed_os_index``: the same real index
guard would build, just not rebuilt forty times.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Optional, Union

from tests.conftest import REPO, GuardEnv, guard_exe

SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
_master: dict[str, Path] = {}


def _master_index() -> Path:
    """Build the real dpkg index once per session (guard's own builder, real /var/lib/dpkg)."""
    if "index" not in _master:
        from guard.provenance.dpkg import INDEX_NAME, OsPackageDB

        d = Path(tempfile.mkdtemp(prefix="guard-core-dpkg-"))
        atexit.register(shutil.rmtree, d, True)
        OsPackageDB.load(d).close()
        _master["index"] = d / INDEX_NAME
    return _master["index"]


def seed_os_index(ge: GuardEnv) -> None:
    """Put the session's dpkg index into the sandbox cache dir (guard replaces it by rename
    when dpkg changes, so a hard link never lets one sandbox alter another's)."""
    if not os.path.isfile("/var/lib/dpkg/status"):
        return
    src = _master_index()
    dst_dir = ge.cache / "guard"
    dst_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    dst = dst_dir / src.name
    if not dst.exists():
        try:
            os.link(src, dst)
        except OSError:
            shutil.copyfile(src, dst)


def write_config(ge: GuardEnv, text: str) -> Path:
    d = ge.guard_config_dir
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    p = d / "config.yaml"
    p.write_text(text)
    p.chmod(0o600)
    return p


def write_allowlist(ge: GuardEnv, data: Union[str, bytes]) -> Path:
    d = ge.guard_config_dir
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    p = ge.allowlist
    p.write_bytes(data.encode() if isinstance(data, str) else data)
    p.chmod(0o600)
    return p


def script(directory: Path, name: Union[str, bytes], body: bytes = b"#!/bin/sh\necho hi\n") -> Path:
    """An executable file; ``name`` may be bytes (not UTF-8) or hold control characters."""
    directory.mkdir(parents=True, exist_ok=True)
    p = os.path.join(os.fsencode(directory), os.fsencode(name))
    with open(p, "wb") as f:
        f.write(body)
    os.chmod(p, 0o755)
    return Path(os.fsdecode(p))


def run_guard(
    ge: GuardEnv,
    *args: Union[str, bytes],
    path: Optional[str] = None,
    cwd: Optional[Union[str, Path]] = None,
    timeout: float = 30,
    **extra: str,
) -> subprocess.CompletedProcess[bytes]:
    """Run the real guard CLI as a process in the sandbox; output stays bytes so tests can
    check exactly what would reach a terminal."""
    env = ge.env(PYTHONPATH=str(REPO), **extra)
    env.pop("PYTHONSTARTUP", None)
    if path is not None:
        env["PATH"] = path
    argv: list[Union[str, bytes]] = [*guard_exe(), *args]
    return subprocess.run(
        argv,
        env=env,
        cwd=str(cwd) if cwd else None,
        capture_output=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def raw_controls(data: bytes, allow: Sequence[int] = (0x0A,)) -> list[int]:
    """Bytes that a terminal would act on: C0 controls (except those allowed) and DEL, plus
    C1 controls as UTF-8 (U+0080..U+009F, e.g. U+009B, a one-char CSI)."""
    bad = [b for b in data if (b < 0x20 and b not in allow) or b == 0x7F]
    text = data.decode("utf-8", errors="replace")
    bad.extend(ord(c) for c in text if 0x80 <= ord(c) <= 0x9F)
    return bad
