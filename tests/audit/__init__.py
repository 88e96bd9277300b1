"""Tests of `guard audit` and `guard init`: real PATHs built in temp dirs, real venvs filled by
real pip, real npm projects, the real dpkg database. Helpers shared by the modules live here.

``SYS`` is the system directory the test PATHs end with: /usr/sbin is dpkg-owned, root-owned
and small (hashing it cold costs ~0.1 s, /usr/bin would cost seconds per sandbox).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Optional, Union

import pytest

from tests.conftest import GuardEnv
from tests.core import run_guard, seed_os_index

SYS = "/usr/sbin"
SCHEMA = Path(__file__).resolve().parent / "sarif-2.1.0.json"


def sys_command(name: str) -> str:
    """A dpkg-owned command in SYS, or skip (the machine lacks the package)."""
    p = os.path.join(SYS, name)
    if not os.path.isfile(p) or not os.path.isfile("/var/lib/dpkg/status"):
        pytest.skip(f"{p} is not present (dpkg-owned) on this machine")
    return p


def audit(
    ge: GuardEnv,
    path: str,
    *args: str,
    cwd: Optional[Union[str, Path]] = None,
    fmt: Optional[str] = "--json",
) -> tuple[int, Any, bytes]:
    """Run the real `guard audit` with PATH=path; returns (exit code, output, stderr). The
    output is parsed for ``--json``/``--sarif``; ``fmt=None`` is the text report, as bytes."""
    seed_os_index(ge)
    flags = [fmt] if fmt else []
    r = run_guard(ge, "audit", *flags, *args, path=path, cwd=cwd, timeout=120)
    out = r.stdout
    doc = json.loads(out) if fmt and out.strip() else out
    return r.returncode, doc, r.stderr


def found(doc: dict, rule: str, name: Optional[str] = None) -> list[dict]:
    """Findings of ``rule`` (and command ``name``) in an audit's JSON."""
    return [f for f in doc["findings"] if f["rule"] == rule and (name is None or f["name"] == name)]


def rules(doc: dict) -> set[str]:
    return {f["rule"] for f in doc["findings"]}


def plant(directory: Path, name: str, body: str = "#!/bin/sh\necho planted\n") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    p = directory / name
    p.write_text(body)
    p.chmod(0o755)
    return p
