"""The throw-away HOME and XDG directories every benchmark runs guard in: the user's own
allowlist, config, caches and rc files are never read or written."""

from __future__ import annotations

import os
from pathlib import Path

XDG = ("config", "data", "state", "cache")


def sandbox_env(root: Path, path: str, drop: tuple[str, ...] = ()) -> dict[str, str]:
    """This process's environment with HOME and XDG_*_HOME under ``root`` (created here), PATH
    set to ``path``, and any variable starting with XDG_, GUARD_ or one of ``drop`` removed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "GUARD_", *drop))}
    for name in ("home", *XDG):
        (root / name).mkdir(mode=0o700, parents=True, exist_ok=True)
    env.update({f"XDG_{n.upper()}_HOME": str(root / n) for n in XDG})
    env.update(HOME=str(root / "home"), PATH=path, LC_ALL="C.UTF-8")
    return env
