"""The root-owned system policy: mode floor, allow_user_trust, trust_os_packages, system pins,
precedence over the user's settings, and the ownership test along the whole path.

Every case runs the real CLI as a process with GUARD_SYSTEM_DIR pointing at a policy dir
built under a root-only base (tests/hardening/__init__.py)."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import pytest

from tests.conftest import GuardEnv
from tests.core import SYSTEM_PATH, run_guard, script, seed_os_index, write_allowlist, write_config
from tests.hardening import SysDir, new_sysdir, root_base

SHA0 = "0" * 64


@pytest.fixture
def ge(guard_env: GuardEnv) -> GuardEnv:
    seed_os_index(guard_env)
    return guard_env


@pytest.fixture
def sd() -> SysDir:
    return new_sysdir()


def sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def g(ge: GuardEnv, sd: SysDir | None, *args: str, **extra: str):
    if sd is not None:
        extra.setdefault("GUARD_SYSTEM_DIR", str(sd.path))
    return run_guard(ge, *args, **extra)


def status(ge: GuardEnv, sd: SysDir | None, **extra: str) -> dict:
    r = g(ge, sd, "status", "--json", **extra)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def query_action(ge: GuardEnv, sd: SysDir | None, word: str, *flags: str, **extra: str) -> str:
    """The action the bash hook would take (`guard _query` is what the hooks run)."""
    r = g(ge, sd, "_query", "--shell", "bash", *flags, "--", word, **extra)
    assert r.returncode == 0, r.stderr
    return r.stdout.decode().split(" ", 3)[2]


# -- mode floor -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("floor", "config_mode", "env_mode", "want", "source"),
    [
        ("block", "monitor", None, "block", "policy"),
        ("block", "block", "monitor", "block", "policy"),
        ("warn", "monitor", None, "warn", "policy"),
        ("warn", "warn", "monitor", "warn", "policy"),
        ("warn", "block", None, "block", "config"),  # a stricter user setting is kept
        ("monitor", "warn", None, "warn", "config"),
        ("monitor", "block", "warn", "warn", "GUARD_MODE"),
    ],
)
def test_mode_floor_is_the_stricter_of_floor_and_user(
    ge: GuardEnv,
    sd: SysDir,
    floor: str,
    config_mode: str,
    env_mode: str | None,
    want: str,
    source: str,
) -> None:
    sd.policy(f"mode_floor: {floor}\n")
    write_config(ge, f"mode: {config_mode}\n")
    tool = script(ge.bindir("bin"), "tool")
    extra = {"GUARD_MODE": env_mode} if env_mode else {}
    st = status(ge, sd, **extra)
    assert (st["mode"], st["mode_source"]) == (want, source)
    assert st["policy"]["mode_floor"] == floor
    # What a hook does with an untrusted command follows the effective mode.
    expected = {"block": "block", "warn": "warn", "monitor": "monitor"}[want]
    assert query_action(ge, sd, str(tool), **extra) == expected


def test_without_policy_the_user_mode_rules(ge: GuardEnv) -> None:
    write_config(ge, "mode: monitor\n")
    st = status(ge, None)
    assert st["policy"] is None and (st["mode"], st["mode_source"]) == ("monitor", "config")


# -- allow_user_trust: false ------------------------------------------------------------------


def test_allow_user_trust_false_makes_system_allowlist_the_only_one(ge: GuardEnv, sd: SysDir):
    d = ge.bindir("bin")
    mine = script(d, "mine", b"#!/bin/sh\necho mine\n")
    theirs = script(d, "theirs", b"#!/bin/sh\necho theirs\n")
    assert g(ge, None, "trust", str(mine)).returncode == 0
    before = ge.allowlist.read_bytes()
    sd.policy("allow_user_trust: false\n")
    sd.pins("10-corp.yaml", [{"path": str(theirs), "real": str(theirs), "sha256": sha(theirs)}])

    # The user's pin no longer counts; the system's does.
    assert g(ge, sd, "check", str(mine)).returncode == 1
    r = g(ge, sd, "check", str(theirs))
    assert r.returncode == 0 and b"(pinned)" in r.stdout
    # Writing the user allowlist is refused with a clear line, and nothing is written.
    for args in (("trust", str(theirs)), ("trust", str(mine)), ("untrust", str(mine))):
        r = g(ge, sd, *args)
        err = r.stderr.decode()
        assert r.returncode == 2, err
        assert "allow_user_trust: false" in err and str(sd.pins_dir) in err
        assert "Traceback" not in err and err.count("\n") == 1
    assert ge.allowlist.read_bytes() == before
    # No "trust and run?" prompt either: interactive block mode just blocks.
    new = script(d, "new")
    assert query_action(ge, None, str(new), "--interactive") == "ask"
    assert query_action(ge, sd, str(new), "--interactive") == "block"
    st = status(ge, sd)
    assert st["policy"]["allow_user_trust"] is False and st["pins"] == 0
    assert st["policy"]["pins"] == 1


def test_user_allowlist_is_not_even_read_when_user_trust_is_off(ge: GuardEnv, sd: SysDir):
    write_allowlist(ge, "version: 1\nentries: [\n")  # corrupt: an error without the policy
    tool = script(ge.bindir("bin"), "tool")
    assert g(ge, None, "check", str(tool)).returncode == 2
    sd.policy("allow_user_trust: false\n")
    sd.pins("a.yaml", [{"path": str(tool), "sha256": sha(tool)}])
    assert g(ge, sd, "check", str(tool)).returncode == 0


# -- trust_os_packages ------------------------------------------------------------------------


@pytest.mark.skipif(not os.path.isfile("/var/lib/dpkg/status"), reason="needs dpkg")
def test_trust_os_packages_can_only_be_forced_off(ge: GuardEnv, sd: SysDir) -> None:
    ls = "/usr/bin/ls" if os.path.exists("/usr/bin/ls") else "/bin/ls"
    r = g(ge, None, "check", ls)
    assert r.returncode == 0 and b"(os-package)" in r.stdout
    sd.policy("trust_os_packages: false\n")
    r = g(ge, sd, "check", ls)
    assert r.returncode == 1 and b"(untrusted)" in r.stdout
    assert status(ge, sd)["trust_os_packages"] is False
    # true in the policy does not override a user's stricter false.
    sd.policy("trust_os_packages: true\n")
    write_config(ge, "trust_os_packages: false\n")
    assert g(ge, sd, "check", ls).returncode == 1


# -- system pins and precedence ---------------------------------------------------------------


def test_system_pin_allows_without_any_user_pin(ge: GuardEnv, sd: SysDir) -> None:
    tool = script(ge.bindir("bin"), "tool")
    sd.pins("a.yaml", [{"path": str(tool), "sha256": sha(tool)}])
    assert g(ge, None, "check", str(tool)).returncode == 1
    r = g(ge, sd, "check", str(tool))
    assert r.returncode == 0 and b"(pinned)" in r.stdout
    st = status(ge, sd)
    assert st["policy"]["pins"] == 1 and st["pins"] == 0


def test_system_pin_wins_over_user_pin_of_same_file(ge: GuardEnv, sd: SysDir) -> None:
    d = ge.bindir("bin")
    tool = script(d, "tool", b"#!/bin/sh\necho approved\n")
    approved = sha(tool)
    tool.write_bytes(b"#!/bin/sh\necho swapped\n")
    # The user pins the swapped content, by path and through a symlink to the same file.
    link = d / "tool-link"
    link.symlink_to(tool)
    assert g(ge, None, "trust", str(tool)).returncode == 0
    assert g(ge, None, "trust", str(link)).returncode == 0
    assert g(ge, None, "check", str(tool)).returncode == 0
    sd.pins("a.yaml", [{"path": str(tool), "sha256": approved}])
    for word in (tool, link):
        r = g(ge, sd, "check", str(word))
        assert r.returncode == 1 and b"(modified)" in r.stdout, r.stdout
    # ...and `guard trust` says why a user pin would not help, writing nothing.
    before = ge.allowlist.read_bytes()
    r = g(ge, sd, "trust", str(tool))
    assert r.returncode == 2 and b"the system policy pins it in" in r.stderr
    assert str(sd.pins_dir / "a.yaml").encode() in r.stderr
    assert ge.allowlist.read_bytes() == before
    # A user pin of an unrelated file still counts (allow_user_trust defaults to true).
    other = script(d, "other")
    assert g(ge, sd, "trust", str(other)).returncode == 0
    assert g(ge, sd, "check", str(other)).returncode == 0
    # Removing a system pin is not the user's to do; removing their own pins still works.
    r = g(ge, sd, "untrust", "tool-x")
    assert r.returncode == 2 and b"nothing pinned" in r.stderr
    r = g(ge, sd, "untrust", str(sd.path / "nowhere"))
    assert r.returncode == 2
    assert g(ge, sd, "untrust", str(other)).returncode == 0


def test_untrusting_a_system_pin_is_refused(ge: GuardEnv, sd: SysDir) -> None:
    tool = script(ge.bindir("bin"), "tool")
    sd.pins("a.yaml", [{"path": str(tool), "sha256": sha(tool)}])
    r = g(ge, sd, "untrust", str(tool))
    assert r.returncode == 2 and b"pinned by the system policy" in r.stderr
    assert g(ge, sd, "check", str(tool)).returncode == 0


def test_later_allowlist_d_file_wins_and_others_are_ignored(ge: GuardEnv, sd: SysDir) -> None:
    tool = script(ge.bindir("bin"), "tool")
    sd.pins("10-base.yaml", [{"path": str(tool), "sha256": SHA0}])
    sd.pins("20-site.yaml", [{"path": str(tool), "sha256": sha(tool)}])
    assert g(ge, sd, "check", str(tool)).returncode == 0
    sd.pins("30-late.yaml", [{"path": str(tool), "sha256": SHA0}])
    assert g(ge, sd, "check", str(tool)).returncode == 1
    (sd.pins_dir / "30-late.yaml").unlink()
    # Not *.yaml, or hidden: never read (even when they would be refused or invalid).
    for name in ("README", "40-x.yaml.dpkg-old", ".50-x.yaml"):
        (sd.pins_dir / name).write_text("not: [valid\n")
        (sd.pins_dir / name).chmod(0o666)
    assert g(ge, sd, "check", str(tool)).returncode == 0
    assert len(status(ge, sd)["policy"]["files"]) == 2


def test_policy_edit_takes_effect_at_once(ge: GuardEnv, sd: SysDir) -> None:
    """The per-user index of the policy is keyed by the files' bytes: an edit is seen."""
    tool = script(ge.bindir("bin"), "tool")
    sd.policy("mode_floor: warn\n")
    assert status(ge, sd, GUARD_MODE="monitor")["mode"] == "warn"
    sd.policy("mode_floor: block\n")
    assert status(ge, sd, GUARD_MODE="monitor")["mode"] == "block"
    f = sd.pins("a.yaml", [{"path": str(tool), "sha256": sha(tool)}])
    assert g(ge, sd, "check", str(tool)).returncode == 0
    f.write_text("version: 1\nentries: []\n")
    assert g(ge, sd, "check", str(tool)).returncode == 1


def test_hook_reply_watches_the_policy_files(ge: GuardEnv, sd: SysDir) -> None:
    """A cached 'ok' in a shell must be re-checked when the policy changes."""
    tool = script(ge.bindir("bin"), "tool")
    sd.policy("mode_floor: warn\n")
    f = sd.pins("a.yaml", [{"path": str(tool), "sha256": sha(tool)}])
    r = g(ge, sd, "_query", "--shell", "bash", "--", str(tool))
    assert r.returncode == 0
    reply = r.stdout.decode()
    assert reply.startswith("__guard_put ") and " ok " in reply
    for w in (sd.path, sd.pins_dir, sd.path / "policy.yaml", f):
        assert f" {w}" in reply, (w, reply)


def test_status_text_shows_the_policy(ge: GuardEnv, sd: SysDir) -> None:
    sd.policy("mode_floor: block\nallow_user_trust: false\n")
    r = g(ge, sd, "status", GUARD_MODE="warn")
    assert r.returncode == 0
    rows = {}
    for ln in r.stdout.decode().splitlines():
        key, _, val = ln.partition("  ")
        rows[key.strip()] = val.strip()
    assert rows["mode"] == "block" and rows["mode source"] == "policy"
    assert rows["policy"] == str(sd.path)
    assert rows["mode floor"] == "block"
    assert rows["user trust"] == "no (only the system allowlist counts)"
    assert rows["system pins"] == "0"


# -- what makes a policy count ----------------------------------------------------------------


def _floor_applies(ge: GuardEnv, sysdir: str | Path) -> dict:
    st = status(ge, None, GUARD_SYSTEM_DIR=str(sysdir), GUARD_MODE="monitor")
    return st


def test_policy_dir_under_tmp_is_not_honoured(ge: GuardEnv) -> None:
    """/tmp is world-writable (sticky or not): anyone could have made that directory."""
    d = Path(tempfile.mkdtemp(prefix="guard-sys-", dir="/tmp"))
    try:
        d.chmod(0o755)
        SysDir(d).policy("mode_floor: block\n")
        st = _floor_applies(ge, d)
        assert st["mode"] == "monitor" and st["policy"] is None
        assert "GUARD_SYSTEM_DIR" in st["policy_note"] and "ignored" in st["policy_note"]
        assert "/tmp is writable by group or others" in st["policy_note"]
    finally:
        import shutil

        shutil.rmtree(d)


@pytest.mark.parametrize("how", ["owner", "dir-mode", "parent-mode", "relative", "missing"])
def test_untrusted_policy_dir_is_not_honoured(ge: GuardEnv, how: str) -> None:
    parent = new_sysdir("parent-").path
    d = parent / "guard"
    d.mkdir(mode=0o755)
    SysDir(d).policy("mode_floor: block\n")
    target = str(d)
    want = ""
    if how == "owner":
        os.chown(d, 65534, -1)
        want = f"{d} is owned by uid 65534, not root"
    elif how == "dir-mode":
        d.chmod(0o775)
        want = f"{d} is writable by group or others (mode 775)"
    elif how == "parent-mode":
        parent.chmod(0o757)
        want = f"{parent} is writable by group or others (mode 757)"
    elif how == "relative":
        target = os.path.relpath(d)
        want = "is not an absolute path"
    elif how == "missing":
        target = str(parent / "nope")
        want = "No such file or directory"
    st = _floor_applies(ge, target)
    assert st["mode"] == "monitor" and st["policy"] is None, st
    assert want in st["policy_note"], st["policy_note"]
    # The same dir, once fixed, is honoured.
    if how in ("owner", "dir-mode", "parent-mode"):
        os.chown(d, 0, -1)
        d.chmod(0o755)
        parent.chmod(0o755)
        st = _floor_applies(ge, d)
        assert st["mode"] == "block" and st["policy"]["dir"] == str(d)


def test_symlink_to_an_unsafe_dir_is_not_honoured(ge: GuardEnv) -> None:
    """Checked along the resolved path too: a root-owned link into /tmp does not pass."""
    tmpd = Path(tempfile.mkdtemp(prefix="guard-sys-", dir="/tmp"))
    try:
        tmpd.chmod(0o755)
        SysDir(tmpd).policy("mode_floor: block\n")
        link = new_sysdir("link-").path / "guard"
        link.symlink_to(tmpd)
        st = _floor_applies(ge, link)
        assert st["policy"] is None and "/tmp is writable" in st["policy_note"]
        # A link to a safe dir is fine.
        safe_dir = new_sysdir()
        safe_dir.policy("mode_floor: block\n")
        link2 = link.parent / "guard2"
        link2.symlink_to(safe_dir.path)
        assert _floor_applies(ge, link2)["mode"] == "block"
    finally:
        import shutil

        shutil.rmtree(tmpd)


@pytest.mark.parametrize(
    "what",
    [
        "policy-mode",
        "policy-owner",
        "policy-link",
        "pins-mode",
        "pins-owner",
        "pins-dir-mode",
        "policy-fifo",
    ],
)
def test_unsafe_file_in_a_trusted_dir_is_refused(ge: GuardEnv, sd: SysDir, what: str) -> None:
    """Refused, not skipped: skipping would silently drop the floor an admin set. The error
    names the file and the fix; block-mode hooks then fail closed."""
    tool = script(ge.bindir("bin"), "tool")
    pol = sd.policy("mode_floor: block\n")
    pins = sd.pins("a.yaml", [{"path": str(tool), "sha256": sha(tool)}])
    bad = pol
    if what == "policy-mode":
        pol.chmod(0o664)
    elif what == "policy-owner":
        os.chown(pol, 65534, -1)
    elif what == "policy-link":
        elsewhere = sd.path / "real-policy"
        pol.rename(elsewhere)
        pol.symlink_to(elsewhere)
    elif what == "policy-fifo":
        pol.unlink()
        os.mkfifo(pol, 0o644)
    elif what == "pins-mode":
        pins.chmod(0o646)
        bad = pins
    elif what == "pins-owner":
        os.chown(pins, 1000, -1)
        bad = pins
    elif what == "pins-dir-mode":
        sd.pins_dir.chmod(0o775)
        bad = sd.pins_dir
    for args in (("check", str(tool)), ("status",), ("_query", "--shell", "bash", "--", "ls")):
        r = g(ge, sd, *args, timeout=20)
        err = r.stderr.decode()
        assert r.returncode == 2, (args, r.stdout, err)
        assert f"system policy {bad} is" in err and "chown root:root" in err, err
        assert "Traceback" not in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("mode_floor: lenient\n", "mode_floor must be block, warn or monitor"),
        ("mode_floor: 1\n", "mode_floor must be a str"),
        ("allow_user_trust: 'no'\n", "allow_user_trust must be a bool"),
        ("allow_users: false\n", "unknown policy setting 'allow_users'"),
        ("version: 2\n", "policy version 2 is not supported"),
        ("- mode_floor: block\n", "expected a mapping"),
        ("mode_floor: block\nmode_floor: monitor\n", "duplicate key"),
        ("mode_floor: [block\n", "line 2"),
    ],
)
def test_invalid_policy_is_a_clear_error(ge: GuardEnv, sd: SysDir, text: str, want: str) -> None:
    pol = sd.policy(text)
    r = g(ge, sd, "check", "ls", path=SYSTEM_PATH)
    err = r.stderr.decode()
    assert r.returncode == 2 and str(pol) in err and want in err, err
    assert "Traceback" not in err


def test_invalid_system_pins_are_a_clear_error(ge: GuardEnv, sd: SysDir) -> None:
    f = sd.pins("a.yaml", [{"path": "relative/tool", "sha256": SHA0}])
    r = g(ge, sd, "check", "ls", path=SYSTEM_PATH)
    assert r.returncode == 2 and f"{f}: entry 1: path must be an absolute path".encode() in r.stderr


def test_env_var_cannot_switch_off_an_installed_policy(
    ge: GuardEnv, sd: SysDir, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """With /etc/guard present, GUARD_SYSTEM_DIR is ignored even if it passes the test. The
    real /etc/guard is not touched: the default location is pointed at a policy dir."""
    import guard.system
    from guard._cli import main

    sd.policy("mode_floor: block\n")
    other = new_sysdir()  # safe, and permissive
    other.policy("mode_floor: monitor\n")
    monkeypatch.setattr(guard.system, "DEFAULT_DIR", str(sd.path))
    monkeypatch.setenv("GUARD_SYSTEM_DIR", str(other.path))
    monkeypatch.setenv("GUARD_MODE", "monitor")
    assert main(["status", "--json"]) == 0
    st = json.loads(capsys.readouterr().out)
    assert st["mode"] == "block" and st["policy"]["dir"] == str(sd.path)
    assert st["policy_note"] == f"GUARD_SYSTEM_DIR ignored: {sd.path} exists and always applies"
    # With the variable unset, the default location applies the same way.
    monkeypatch.delenv("GUARD_SYSTEM_DIR")
    assert main(["status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["mode"] == "block"


def test_an_installed_policy_that_fails_the_test_is_an_error(
    ge: GuardEnv, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """/etc/guard that someone besides root could have written is refused, not skipped (a
    skipped policy would silently drop its floor). Simulated by pointing the default location
    at a directory under /tmp."""
    import shutil

    import guard.system
    from guard._cli import main

    d = Path(tempfile.mkdtemp(prefix="guard-etc-", dir="/tmp"))
    try:
        d.chmod(0o755)
        SysDir(d).policy("mode_floor: block\n")
        monkeypatch.setattr(guard.system, "DEFAULT_DIR", str(d))
        for argv in (["check", "ls"], ["status"], ["_query", "--shell", "bash", "--", "ls"]):
            assert main(argv) == 2
            err = capsys.readouterr().err
            assert f"system policy {d} is not trusted: /tmp is writable by group or others" in err
            assert "Fix (as root)" in err and err.count("\n") == 1
    finally:
        shutil.rmtree(d)


def test_root_base_is_really_root_only() -> None:
    """The premise of every test above: the base passes, /tmp does not."""
    from guard.system import root_only

    assert root_only(str(root_base())) is None
    assert root_only("/tmp") is not None and "writable by group or others" in root_only("/tmp")
