"""Shared fixtures: every test runs with HOME and XDG_* in temp dirs, never the user's own."""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@dataclass
class GuardEnv:
    """A sandboxed user: HOME, XDG dirs and a PATH made of temp dirs plus the system dirs."""

    root: Path
    home: Path
    config: Path
    data: Path
    state: Path
    cache: Path

    @property
    def guard_config_dir(self) -> Path:
        return self.config / "guard"

    @property
    def allowlist(self) -> Path:
        return self.guard_config_dir / "allowlist.yaml"

    @classmethod
    def create(cls, root: Path) -> GuardEnv:
        """A sandbox under ``root``: HOME and the four XDG dirs made, private."""
        ge = cls(
            root=root,
            home=root / "home",
            config=root / "xdg-config",
            data=root / "xdg-data",
            state=root / "xdg-state",
            cache=root / "xdg-cache",
        )
        for d in (ge.home, ge.config, ge.data, ge.state, ge.cache):
            d.mkdir(mode=0o700)
        return ge

    def env(self, **extra: str) -> dict[str, str]:
        """An environment for a subprocess: the sandbox dirs plus ``extra``."""
        e = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("XDG_", "GUARD_", "BASH_ENV", "ENV", "ZDOTDIR"))
        }
        e.update(
            HOME=str(self.home),
            XDG_CONFIG_HOME=str(self.config),
            XDG_DATA_HOME=str(self.data),
            XDG_STATE_HOME=str(self.state),
            XDG_CACHE_HOME=str(self.cache),
            LC_ALL="C.UTF-8",
        )
        e.update(extra)
        return e

    def bindir(self, name: str) -> Path:
        d = self.root / name
        d.mkdir(parents=True, exist_ok=True)
        return d

    def plant(self, directory: Path, name: str, body: str, mode: int = 0o755) -> Path:
        """Write an executable script; ``body`` is the whole file text."""
        p = directory / name
        p.write_text(body)
        p.chmod(mode)
        return p


@pytest.fixture
def guard_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GuardEnv:
    ge = GuardEnv.create(tmp_path)
    for k in list(os.environ):
        if k.startswith(("XDG_", "GUARD_")):
            monkeypatch.delenv(k)
    monkeypatch.setenv("HOME", str(ge.home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(ge.config))
    monkeypatch.setenv("XDG_DATA_HOME", str(ge.data))
    monkeypatch.setenv("XDG_STATE_HOME", str(ge.state))
    monkeypatch.setenv("XDG_CACHE_HOME", str(ge.cache))
    return ge


def guard_exe() -> list[str]:
    """How tests run the real guard CLI as a process: the installed console script if it sits
    beside this interpreter, else ``python -m guard``."""
    script = Path(sys.executable).parent / "guard"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "guard"]


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} is not installed")
    return path
