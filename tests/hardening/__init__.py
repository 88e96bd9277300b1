"""Hardening tests (issue 6): system policy, concurrency, crash safety, corrupt input.

The system policy is only honoured where nobody but root could have written it, checked along
the whole path; pytest's tmp_path lives under /tmp (world-writable), so these tests build their
policy directories under ``root_base()``: a fresh ``mkdtemp`` inside a root-owned directory
that is not writable by group or others (/var/cache, /var/lib, /run or /opt, whichever
qualifies here). Tests that need it are skipped when not running as root.
"""

from __future__ import annotations

import atexit
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Optional

import pytest

_BASES = ("/var/cache", "/var/lib", "/run", "/opt")
_made: dict[str, Path] = {}


def only_root_writes(path: str) -> bool:
    """The test's own, independent version of the rule guard applies."""
    for p in (os.path.abspath(path), os.path.realpath(path)):
        while True:
            st = os.stat(p)
            if st.st_uid != 0 or st.st_mode & 0o022:
                return False
            if p == "/":
                break
            p = os.path.dirname(p)
    return True


def root_base() -> Path:
    """A private temp dir that passes the root-only test (removed at exit); skip if none."""
    if os.geteuid() != 0:
        pytest.skip("a root-owned system policy dir can only be made as root")
    if "base" not in _made:
        for cand in _BASES:
            if os.path.isdir(cand) and only_root_writes(cand) and os.access(cand, os.W_OK):
                d = Path(tempfile.mkdtemp(prefix="guard-hardening-", dir=cand))
                d.chmod(0o755)
                atexit.register(shutil.rmtree, d, True)
                _made["base"] = d
                break
        else:
            pytest.skip(f"none of {_BASES} is a root-only directory here")
    return _made["base"]


class SysDir:
    """A system policy directory: policy.yaml and allowlist.d/*.yaml."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.pins_dir = path / "allowlist.d"

    def policy(self, text: str, mode: int = 0o644) -> Path:
        p = self.path / "policy.yaml"
        p.write_text(text)
        p.chmod(mode)
        return p

    def pins(self, name: str, entries: list[dict], mode: int = 0o644) -> Path:
        import yaml

        self.pins_dir.mkdir(mode=0o755, exist_ok=True)
        p = self.pins_dir / name
        p.write_text(yaml.safe_dump({"version": 1, "entries": entries}, sort_keys=False))
        p.chmod(mode)
        return p


def new_sysdir(name: Optional[str] = None) -> SysDir:
    d = Path(tempfile.mkdtemp(prefix=name or "sys-", dir=root_base()))
    d.chmod(0o755)
    return SysDir(d)


def mode_of(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)
