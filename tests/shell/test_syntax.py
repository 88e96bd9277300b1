"""The hook files parse in their shells, and the bash files pass shellcheck (the issue's
bar for shell code); each check is skipped, with the reason, where its tool is missing."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

SHELL_DIR = Path(__file__).resolve().parents[2] / "shell"
BASH_FILES = [SHELL_DIR / "guard.bash", SHELL_DIR / "guard-lib.bash"]


def _run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    ("shell", "path"),
    [("bash", p) for p in BASH_FILES]
    + [("zsh", SHELL_DIR / "guard.zsh"), ("fish", SHELL_DIR / "guard.fish")],
    ids=lambda x: x if isinstance(x, str) else x.name,
)
def test_parses(shell: str, path: Path) -> None:
    exe = shutil.which(shell)
    if exe is None:
        pytest.skip(f"{shell} is not installed")
    r = _run(exe, "-n", str(path))
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("path", BASH_FILES, ids=lambda p: p.name)
def test_shellcheck_clean(path: Path) -> None:
    exe = shutil.which("shellcheck")
    if exe is None:
        pytest.skip("shellcheck is not installed (tests/run.sh installs it as root)")
    r = _run(exe, str(path))
    assert r.returncode == 0, r.stdout
