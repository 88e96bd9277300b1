"""PATH hygiene: each rule fires on a real PATH built here and stays quiet on a clean one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.audit import SYS, audit, found, plant, rules
from tests.conftest import GuardEnv

HYGIENE = {
    "path.dot",
    "path.empty",
    "path.relative",
    "path.tilde",
    "path.missing",
    "path.writable",
    "path.foreign-owner",
    "path.user-before-system",
}


def clean_dir(ge: GuardEnv, name: str = "late") -> Path:
    d = ge.bindir(name)
    d.chmod(0o755)
    return d


def test_clean_path_has_no_findings_at_all(guard_env: GuardEnv) -> None:
    late = clean_dir(guard_env)
    plant(late, "guard-test-tool")
    rc, doc, err = audit(guard_env, f"{SYS}:{late}")
    assert doc["findings"] == [], doc["findings"]
    assert rc == 0 and err == b""


@pytest.mark.parametrize(
    ("path", "rule"),
    [
        (f"{SYS}:.", "path.dot"),
        (f".:{SYS}", "path.dot"),
        (f"{SYS}:", "path.empty"),
        (f":{SYS}", "path.empty"),
        (f"{SYS}::/usr/sbin", "path.empty"),
        (f"~/bin:{SYS}", "path.tilde"),
        (f"{SYS}:~", "path.tilde"),
    ],
)
def test_current_directory_entries(guard_env: GuardEnv, path: str, rule: str) -> None:
    rc, doc, _ = audit(guard_env, path, cwd=guard_env.root)
    hits = found(doc, rule)
    assert len(hits) == 1 and hits[0]["severity"] in ("high", "medium")
    assert rc == 1
    assert rules(doc) & HYGIENE == {rule}


def test_relative_entry_names_where_it_points_now(guard_env: GuardEnv) -> None:
    (guard_env.root / "node_modules" / ".bin").mkdir(parents=True)
    rc, doc, _ = audit(guard_env, f"node_modules/.bin:{SYS}", cwd=guard_env.root)
    (hit,) = found(doc, "path.relative")
    assert hit["paths"] == [str(guard_env.root / "node_modules/.bin")]
    assert hit["severity"] == "high" and rc == 1


def test_missing_entry(guard_env: GuardEnv) -> None:
    gone = guard_env.root / "not-there" / "bin"
    rc, doc, _ = audit(guard_env, f"{SYS}:{gone}")
    (hit,) = found(doc, "path.missing")
    assert hit["paths"] == [str(gone)] and hit["severity"] == "medium"
    assert "does not exist" in hit["message"] and rc == 1


def test_missing_entry_others_can_create_is_high(guard_env: GuardEnv) -> None:
    shared = guard_env.bindir("shared")
    shared.chmod(0o1777)  # like /tmp: anyone can mkdir the missing entry
    rc, doc, _ = audit(guard_env, f"{SYS}:{shared / 'bin'}")
    (hit,) = found(doc, "path.missing")
    assert hit["severity"] == "high" and str(shared) in hit["message"]


def test_file_as_entry_is_reported_as_missing(guard_env: GuardEnv) -> None:
    f = plant(guard_env.root, "afile")
    _, doc, _ = audit(guard_env, f"{SYS}:{f}")
    (hit,) = found(doc, "path.missing")
    assert "not a directory" in hit["message"]


@pytest.mark.parametrize("mode", [0o777, 0o757, 0o775])
def test_group_or_world_writable_dir(guard_env: GuardEnv, mode: int) -> None:
    if os.getegid() != 0 and mode == 0o775:
        pytest.skip("group-write of a user-private group is deliberately not flagged")
    d = clean_dir(guard_env, "ww")
    d.chmod(mode)
    rc, doc, _ = audit(guard_env, f"{SYS}:{d}")
    (hit,) = found(doc, "path.writable")
    assert hit["paths"] == [str(d)] and f"{mode:o}" in hit["message"] and rc == 1


def test_writable_parent_lets_others_swap_the_dir(guard_env: GuardEnv) -> None:
    parent = guard_env.bindir("open")
    parent.chmod(0o777)  # no sticky bit: anyone can rename bin away and put their own
    d = parent / "bin"
    d.mkdir(mode=0o755)
    _, doc, _ = audit(guard_env, f"{SYS}:{d}")
    (hit,) = found(doc, "path.writable")
    assert hit["paths"] == [str(d), str(parent)]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown a dir to another user")
def test_dir_owned_by_another_user(guard_env: GuardEnv) -> None:
    d = clean_dir(guard_env, "theirs")
    os.chown(d, 65534, 65534)
    rc, doc, _ = audit(guard_env, f"{SYS}:{d}")
    (hit,) = found(doc, "path.foreign-owner")
    assert hit["paths"] == [str(d)] and "uid 65534" in hit["message"] and rc == 1


def test_user_writable_dir_ahead_of_system_dirs(guard_env: GuardEnv) -> None:
    mine = clean_dir(guard_env, "mine")
    rc, doc, _ = audit(guard_env, f"{mine}:{SYS}")
    (hit,) = found(doc, "path.user-before-system")
    assert hit["paths"] == [str(mine), SYS] and hit["severity"] == "medium"
    assert rc == 1
    # The same directory after the system one is fine.
    rc2, doc2, _ = audit(guard_env, f"{SYS}:{mine}")
    assert rules(doc2) & HYGIENE == set() and rc2 == 0


def test_min_severity_above_the_findings_exits_zero(guard_env: GuardEnv) -> None:
    mine = clean_dir(guard_env, "mine")
    rc, doc, _ = audit(guard_env, f"{mine}:{SYS}", "--min-severity", "high")
    assert doc["findings"] == [] and rc == 0
