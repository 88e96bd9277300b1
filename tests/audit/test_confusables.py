"""Look-alike names planted on a real PATH: each folding step is its own rule, the names are
escaped in text output, and ordinary names stay quiet."""

from __future__ import annotations

import pytest

from tests.audit import SYS, audit, found, plant
from tests.conftest import GuardEnv
from tests.core import raw_controls, run_guard, seed_os_index


@pytest.mark.parametrize(
    ("name", "rule", "target"),
    [
        ("\u217cs", "confusable.nfkc", "ls"),  # SMALL ROMAN NUMERAL FIFTY
        ("\uff43\uff55\uff52\uff4c", "confusable.nfkc", "curl"),  # fullwidth
        ("g\u0456t", "confusable.skeleton", "git"),  # CYRILLIC SMALL LETTER BYELORUSSIAN-UKR. I
        ("\u0455sh", "confusable.skeleton", "ssh"),  # CYRILLIC SMALL LETTER DZE
        ("d\u03bfcker", "confusable.skeleton", "docker"),  # GREEK SMALL LETTER OMICRON
        ("cur1", "confusable.skeleton", "curl"),  # digit one for l
        ("Curl", "confusable.case", "curl"),
        ("SUDO", "confusable.case", "sudo"),
        ("l\u200bs", "confusable.invisible", "ls"),  # ZERO WIDTH SPACE
        ("sudo\u202e", "confusable.invisible", "sudo"),  # RIGHT-TO-LEFT OVERRIDE
        ("\u2060kubectl", "confusable.invisible", "kubectl"),  # WORD JOINER
    ],
)
def test_lookalike_name(guard_env: GuardEnv, name: str, rule: str, target: str) -> None:
    d = guard_env.bindir("lookalikes")
    p = plant(d, name)
    rc, doc, _ = audit(guard_env, f"{SYS}:{d}")
    (hit,) = found(doc, rule, name)
    assert hit["paths"] == [str(p)] and f"'{target}'" in hit["message"]
    assert rc == 1
    other = {f["rule"] for f in doc["findings"] if f["rule"].startswith("confusable.")}
    assert other == {rule}


def test_ordinary_names_are_quiet(guard_env: GuardEnv) -> None:
    d = guard_env.bindir("tools")
    for n in ("lsx", "gitk", "my-curl", "kubectl-foo", "python3.99", "ls2", "node_exporter"):
        plant(d, n)
    rc, doc, _ = audit(guard_env, f"{SYS}:{d}")
    assert [f for f in doc["findings"] if f["rule"].startswith("confusable.")] == []
    assert rc == 0


def test_text_output_escapes_invisible_characters(guard_env: GuardEnv) -> None:
    d = guard_env.bindir("lookalikes")
    plant(d, "sudo\u202e")
    plant(d, "l\u200bs")
    rc, out, _ = audit(guard_env, f"{SYS}:{d}", fmt=None)
    assert "\u202e".encode() not in out and "\u200b".encode() not in out
    assert b"sudo\\u202e" in out and b"l\\u200bs" in out
    assert raw_controls(out) == [] and rc == 1


def test_json_and_sarif_carry_no_raw_invisible_characters(guard_env: GuardEnv) -> None:
    d = guard_env.bindir("lookalikes")
    plant(d, "sudo\u202e\u009b")
    seed_os_index(guard_env)
    for fmt in ("--json", "--sarif"):
        r = run_guard(guard_env, "audit", fmt, path=f"{SYS}:{d}")
        assert r.returncode == 1 and r.stdout.isascii() and raw_controls(r.stdout) == []
        assert b"sudo\\u202e\\u009b" in r.stdout


def test_pinned_lookalike_is_low(guard_env: GuardEnv) -> None:
    d = guard_env.bindir("lookalikes")
    p = plant(d, "Curl")
    assert run_guard(guard_env, "trust", str(p)).returncode == 0
    _, doc, _ = audit(guard_env, f"{SYS}:{d}")
    (hit,) = found(doc, "confusable.case", "Curl")
    assert hit["severity"] == "low"
