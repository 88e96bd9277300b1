"""Fixtures shared by the audit tests: wheels and a venv with planted console scripts, built
once per session with the real pip (no network) from tests/fixtures' source trees."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures import EVIL_AWS, LSJACK, build_wheel, make_venv, pip_install


@pytest.fixture(scope="session")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("audit-wheels")
    return {"evil": build_wheel(EVIL_AWS, d), "lsjack": build_wheel(LSJACK, d)}


@pytest.fixture(scope="session")
def evil_venv(tmp_path_factory: pytest.TempPathFactory, wheels: dict[str, Path]) -> Path:
    """A real venv into which real pip installed evil-aws 1.0 (console scripts `aws` and the
    homoglyph `аws`, gui script `kubectl`, data script `docker`) and lsjack 2.3 (`ls`).
    Read-only for the tests: tests that edit an env build their own."""
    root = tmp_path_factory.mktemp("audit-venv")
    v = make_venv(root / "venv")
    pip_install(v / "bin" / "python", wheels["evil"], wheels["lsjack"], home=root)
    return v
