"""The built package must carry every subpackage and the shell hooks: a missing entry in
pyproject's explicit package list only shows up after a real install."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _declared_packages() -> set[str]:
    text = (REPO / "pyproject.toml").read_text()
    m = re.search(r"^packages = \[(.*?)\]", text, re.M)
    assert m, "pyproject.toml has no explicit packages list"
    return set(re.findall(r'"([^"]+)"', m.group(1)))


def test_every_subpackage_is_declared() -> None:
    found = {
        ".".join(p.parent.relative_to(REPO).parts)
        for p in (REPO / "guard").rglob("__init__.py")
        if "__pycache__" not in p.parts
    }
    missing = found - _declared_packages()
    assert not missing, f"add to pyproject.toml packages: {sorted(missing)}"


def test_shell_hooks_ship_as_guard_shell() -> None:
    assert "guard.shell" in _declared_packages()
    for sh in ("bash", "zsh", "fish"):
        assert (REPO / "shell" / f"guard.{sh}").is_file()
