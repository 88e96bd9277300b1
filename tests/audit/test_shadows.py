"""Shadows and interpreter hijack on real PATHs: planted files ahead of dpkg-owned ones, with
the verdict from guard.decide and provenance of both sides."""

from __future__ import annotations

import os
from pathlib import Path

from tests.audit import SYS, audit, found, plant, sys_command
from tests.conftest import GuardEnv
from tests.core import run_guard


def test_untrusted_file_shadowing_a_packaged_command(guard_env: GuardEnv) -> None:
    real = sys_command("ifconfig")
    early = guard_env.bindir("early")
    fake = plant(early, "ifconfig")
    rc, doc, _ = audit(guard_env, f"{early}:{SYS}")
    (hit,) = found(doc, "shadow.untrusted-winner", "ifconfig")
    assert hit["severity"] == "critical"  # a well-known name, a trusted file behind it
    assert hit["paths"] == [str(fake), real]
    assert hit["provenance"][real]["kind"] == "dpkg"
    assert hit["provenance"][real]["package"] == "net-tools"
    assert hit["provenance"][real]["digest_ok"] is True
    assert hit["provenance"][str(fake)]["kind"] == "unknown"
    assert "untrusted" in hit["message"] and f"rm {fake}" in hit["fix"]
    assert f"guard trust {fake}" in hit["fix"]
    assert rc == 1


def test_a_name_not_on_the_well_known_list_is_high(guard_env: GuardEnv) -> None:
    sys_command("e2label")
    early = guard_env.bindir("early")
    plant(early, "e2label")
    _, doc, _ = audit(guard_env, f"{early}:{SYS}")
    (hit,) = found(doc, "shadow.untrusted-winner", "e2label")
    assert hit["severity"] == "high"


def test_pinned_winner_in_a_writable_dir_is_low(guard_env: GuardEnv) -> None:
    sys_command("ifconfig")
    early = guard_env.bindir("early")
    fake = plant(early, "ifconfig")
    r = run_guard(guard_env, "trust", str(fake))
    assert r.returncode == 0, r.stderr
    rc, doc, _ = audit(guard_env, f"{early}:{SYS}")
    assert found(doc, "shadow.untrusted-winner") == []
    (hit,) = found(doc, "shadow.user-writable-winner", "ifconfig")
    assert hit["severity"] == "low" and hit["paths"][0] == str(fake)
    rc_high, doc_high, _ = audit(guard_env, f"{early}:{SYS}", "--min-severity", "high")
    assert doc_high["findings"] == [] and rc_high == 0


def test_both_untrusted_is_medium(guard_env: GuardEnv) -> None:
    a, b = guard_env.bindir("a"), guard_env.bindir("b")
    plant(a, "mytool")
    plant(b, "mytool", "#!/bin/sh\necho other\n")
    _, doc, _ = audit(guard_env, f"{SYS}:{a}:{b}")
    (hit,) = found(doc, "shadow.untrusted-winner", "mytool")
    assert hit["severity"] == "medium" and hit["paths"] == [str(a / "mytool"), str(b / "mytool")]


def test_the_same_file_twice_is_not_a_shadow(guard_env: GuardEnv) -> None:
    a, b = guard_env.bindir("a"), guard_env.bindir("b")
    tool = plant(a, "mytool")
    (b / "mytool").symlink_to(tool)
    alias = guard_env.root / "a-again"
    alias.symlink_to(a)  # the same directory under another name
    _, doc, _ = audit(guard_env, f"{SYS}:{a}:{b}:{alias}")
    assert found(doc, "shadow.untrusted-winner") == []


def test_env_shebang_finding_a_planted_interpreter(guard_env: GuardEnv) -> None:
    planted, tools = guard_env.bindir("planted"), guard_env.bindir("tools")
    interp = plant(planted, "guardtest-interp", "#!/bin/sh\necho hijacked\n")
    script = plant(tools, "deploy", "#!/usr/bin/env guardtest-interp\necho deploy\n")
    path = f"{planted}:{tools}:{SYS}"
    _, doc, _ = audit(guard_env, path)
    (hit,) = found(doc, "interpreter.env-untrusted", "guardtest-interp")
    assert hit["severity"] == "medium"  # the script is not trusted either
    assert hit["paths"] == [str(interp), str(script)]
    # A trusted script running an untrusted interpreter is the real hijack.
    assert run_guard(guard_env, "trust", str(script)).returncode == 0
    rc, doc, _ = audit(guard_env, path)
    (hit,) = found(doc, "interpreter.env-untrusted", "guardtest-interp")
    assert hit["severity"] == "high" and "1 trusted" in hit["message"]
    assert rc == 1
    # Pin the interpreter: nothing left to report.
    assert run_guard(guard_env, "trust", str(interp)).returncode == 0
    _, doc, _ = audit(guard_env, path)
    assert found(doc, "interpreter.env-untrusted") == []


def test_env_shebang_interpreter_not_on_path_is_quiet(guard_env: GuardEnv) -> None:
    tools = guard_env.bindir("tools")
    plant(tools, "deploy", "#!/usr/bin/env guardtest-nowhere\necho deploy\n")
    _, doc, _ = audit(guard_env, f"{SYS}:{tools}")
    assert found(doc, "interpreter.env-untrusted") == []


def test_interpreters_shared_by_many_scripts_are_one_finding(guard_env: GuardEnv) -> None:
    planted, tools = guard_env.bindir("planted"), guard_env.bindir("tools")
    plant(planted, "guardtest-node")
    for i in range(7):
        plant(tools, f"s{i}", "#!/usr/bin/env guardtest-node\n")
    _, doc, _ = audit(guard_env, f"{planted}:{tools}:{SYS}")
    (hit,) = found(doc, "interpreter.env-untrusted")
    assert len(hit["paths"]) == 8 and "and 2 more" in hit["message"]


def test_shadow_survives_hostile_names(guard_env: GuardEnv) -> None:
    """A name with an escape sequence and a newline in two PATH dirs: reported, escaped."""
    a, b = guard_env.bindir("a"), guard_env.bindir("b")
    name = "x\x1b[2Jy\nz"
    for d in (a, b):
        p = os.path.join(d, name)
        Path(p).write_text("#!/bin/sh\n")
        os.chmod(p, 0o755)
    rc, out, _ = audit(guard_env, f"{SYS}:{a}:{b}", fmt=None)
    assert b"\x1b" not in out and b"x\\x1b[2Jy\\nz" in out and rc == 1
