"""The allowlist file: strict parsing with clear errors, refusing unsafe files, never damaging
a file it cannot read, private atomic writes."""

from __future__ import annotations

import json
import os
import stat

import pytest

from guard._cli import main
from tests.conftest import GuardEnv
from tests.core import run_guard, script, seed_os_index, write_allowlist, write_config

SHA = "0" * 64


@pytest.fixture
def ge(guard_env: GuardEnv, monkeypatch: pytest.MonkeyPatch) -> GuardEnv:
    seed_os_index(guard_env)
    monkeypatch.chdir(guard_env.root)
    return guard_env


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


# (allowlist text, what the error must say). Line numbers are 1-based, as editors count.
BAD_YAML = [
    ("version: 1\nentries:\n- path: /x\n  real: [\n", "line 5"),
    ("version: 1\nentries:\n\t- path: /x\n", "line 3"),
    ("version: 1\nentries: []\nversion: 1\n", "line 3"),  # duplicate top-level key
    (f"version: 1\nentries:\n- path: /x\n  path: /y\n  sha256: '{SHA}'\n", "line 4"),
    ("!!python/object/apply:os.system ['touch /tmp/guard-pwned']\n", "line 1"),
    ("version: 1\nentries: 'unterminated\n", "line 3"),
]

BAD_TYPES = [
    ("- just\n- a list\n", "expected a mapping"),
    ("version: 2\nentries: []\n", "version 2 is not supported"),
    ("version: '1'\nentries: []\n", "is not supported"),
    ("version: 1\nentries: {a: 1}\n", "'entries' must be a list"),
    ("version: 1\nentries: []\nextra: 1\n", "unknown key 'extra'"),
    ("version: 1\nentries:\n- just-a-string\n", "entry 1 must be a mapping"),
    (f"version: 1\nentries:\n- path: rel/x\n  sha256: '{SHA}'\n", "entry 1: path"),
    (f"version: 1\nentries:\n- path: 5\n  sha256: '{SHA}'\n", "absolute path"),
    ("version: 1\nentries:\n- path: /x\n  sha256: 12\n", "sha256 must be 64"),
    (f"version: 1\nentries:\n- path: /x\n  sha256: '{SHA.upper()[:-1]}A'\n", "sha256"),
    (f"version: 1\nentries:\n- path: /x\n  sha256: '{SHA}'\n  size: big\n", "size"),
    (f"version: 1\nentries:\n- path: /x\n  sha256: '{SHA}'\n  size: true\n", "size"),
    (f"version: 1\nentries:\n- path: /x\n  sha256: '{SHA}'\n  provenance: [1]\n", "provenance"),
    (f"version: 1\nentries:\n- path: \"/x\\0y\"\n  sha256: '{SHA}'\n", "absolute path"),
]


@pytest.mark.parametrize(("text", "want"), BAD_YAML + BAD_TYPES)
def test_bad_allowlist_is_exit_2_named_and_untouched(ge: GuardEnv, text: str, want: str) -> None:
    """As a real process: exit 2, the file (and line) named, no traceback, and a `guard trust`
    that would rewrite the file leaves it byte-identical (no .bak, no temp files either)."""
    tool = script(ge.bindir("bin"), "tool")
    p = write_allowlist(ge, text)
    before = p.read_bytes()
    st = p.stat()
    r = run_guard(ge, "trust", str(tool))
    err = r.stderr.decode()
    assert r.returncode == 2, err
    assert str(p) in err and want in err
    assert "Traceback" not in err and "internal error" not in err
    assert err.count("\n") == 1  # one clear line
    assert p.read_bytes() == before
    assert p.stat().st_ino == st.st_ino and p.stat().st_mtime_ns == st.st_mtime_ns
    assert sorted(os.listdir(ge.guard_config_dir)) in (
        ["allowlist.yaml"],
        [".allowlist.lock", "allowlist.yaml"],
    )
    assert not os.path.exists("/tmp/guard-pwned")


@pytest.mark.parametrize("cmd", [["check", "ls"], ["list"], ["status"], ["untrust", "x"]])
def test_bad_allowlist_every_command(ge: GuardEnv, capsys, cmd: list[str]) -> None:
    p = write_allowlist(ge, "version: 1\nentries:\n- path: /x\n  real: [\n")
    before = p.read_bytes()
    rc, out, err = cli(capsys, *cmd)
    assert rc == 2
    assert f"{p}: line 5" in err
    assert p.read_bytes() == before


def test_corruption_after_a_good_load_is_not_masked_by_the_index(ge: GuardEnv, capsys) -> None:
    """The parsed allowlist is cached by the file's fingerprint; a changed file is re-read."""
    tool = script(ge.bindir("bin"), "tool")
    assert main(["trust", str(tool)]) == 0
    assert cli(capsys, "check", str(tool))[0] == 0
    good = ge.allowlist.read_bytes()
    ge.allowlist.write_bytes(good.replace(b"entries:", b"entries: [", 1))
    rc, _, err = cli(capsys, "check", str(tool))
    assert rc == 2 and str(ge.allowlist) in err
    # ...and a hand edit that removes the pin takes effect at once.
    ge.allowlist.write_bytes(b"version: 1\nentries: []\n")
    assert cli(capsys, "check", str(tool))[0] == 1


def test_hand_edited_sha_is_honoured(ge: GuardEnv, capsys) -> None:
    tool = script(ge.bindir("bin"), "tool")
    assert main(["trust", str(tool)]) == 0
    text = ge.allowlist.read_text()
    doc = json.loads(cli(capsys, "list", "--json")[1])
    ge.allowlist.write_text(text.replace(doc[0]["sha256"], "f" * 64))
    rc, out, _ = cli(capsys, "check", str(tool))
    assert rc == 1 and "(modified)" in out


def test_group_writable_refused_with_fix(ge: GuardEnv, capsys) -> None:
    p = write_allowlist(ge, "version: 1\nentries: []\n")
    for mode in (0o620, 0o602, 0o666):
        p.chmod(mode)
        rc, _, err = cli(capsys, "list")
        assert rc == 2
        assert "writable by group or others" in err and f"chmod 600 {p}" in err
    p.chmod(0o600)
    assert cli(capsys, "list")[0] == 0


def test_symlinked_allowlist_refused_with_fix(ge: GuardEnv, capsys) -> None:
    real = ge.root / "elsewhere.yaml"
    real.write_text("version: 1\nentries: []\n")
    real.chmod(0o600)
    ge.guard_config_dir.mkdir(mode=0o700, parents=True)
    ge.allowlist.symlink_to(real)
    rc, _, err = cli(capsys, "check", "ls")
    assert rc == 2
    assert "is a symlink" in err and "cp --remove-destination" in err
    # A trust must not write through the link either.
    tool = script(ge.bindir("bin"), "tool")
    assert cli(capsys, "trust", str(tool))[0] == 2
    assert real.read_text() == "version: 1\nentries: []\n"
    assert ge.allowlist.is_symlink()


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another uid needs root")
def test_foreign_owner_refused_with_fix(ge: GuardEnv, capsys) -> None:
    p = write_allowlist(ge, "version: 1\nentries: []\n")
    os.chown(p, 65534, -1)
    rc, _, err = cli(capsys, "list")
    assert rc == 2
    assert "owned by uid 65534" in err and f"chown {os.geteuid()} {p}" in err


def test_world_writable_config_dir_refused(ge: GuardEnv, capsys) -> None:
    write_allowlist(ge, "version: 1\nentries: []\n")
    ge.guard_config_dir.chmod(0o777)
    try:
        rc, _, err = cli(capsys, "list")
        assert rc == 2 and "chmod 700" in err
    finally:
        ge.guard_config_dir.chmod(0o700)


def test_unsafe_config_yaml_refused(ge: GuardEnv, capsys) -> None:
    p = write_config(ge, "mode: warn\n")
    p.chmod(0o666)
    rc, _, err = cli(capsys, "status")
    assert rc == 2 and "config" in err and f"chmod 600 {p}" in err


def test_allowlist_fifo_is_refused_not_opened(ge: GuardEnv) -> None:
    ge.guard_config_dir.mkdir(mode=0o700, parents=True)
    os.mkfifo(ge.allowlist, 0o600)
    r = run_guard(ge, "list", timeout=20)
    assert r.returncode == 2 and b"not a regular file" in r.stderr


def test_written_mode_0600_even_with_umask_0(ge: GuardEnv, capsys) -> None:
    tool = script(ge.bindir("bin"), "tool")
    old = os.umask(0)
    try:
        assert main(["trust", str(tool)]) == 0
        assert main(["trust", str(tool)]) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(ge.allowlist.stat().st_mode) == 0o600
    bak = ge.guard_config_dir / "allowlist.yaml.bak"
    assert bak.exists() and stat.S_IMODE(bak.stat().st_mode) == 0o600
    assert stat.S_IMODE(ge.guard_config_dir.stat().st_mode) == 0o700


def test_backup_holds_previous_version(ge: GuardEnv, capsys) -> None:
    a = script(ge.bindir("bin"), "a")
    b = script(ge.bindir("bin"), "b")
    assert main(["trust", str(a)]) == 0
    first = ge.allowlist.read_bytes()
    assert main(["trust", str(b)]) == 0
    assert (ge.guard_config_dir / "allowlist.yaml.bak").read_bytes() == first
    assert str(b).encode() in ge.allowlist.read_bytes()


def test_non_utf8_path_round_trips(ge: GuardEnv, capsys) -> None:
    d = ge.bindir("bin")
    tool = script(d, b"t\xffool")
    assert main(["trust", os.fsdecode(bytes(tool))]) == 0
    assert b"!!binary" in ge.allowlist.read_bytes()
    rc, out, _ = cli(capsys, "check", str(tool))
    assert rc == 0 and "(pinned)" in out
    doc = json.loads(cli(capsys, "list", "--json")[1])
    assert doc[0]["path"] == str(d) + "/t\\xffool"


def test_empty_and_comment_only_allowlist_is_empty(ge: GuardEnv, capsys) -> None:
    for text in ("", "# nothing yet\n", "version: 1\n", "version: 1\nentries:\n"):
        write_allowlist(ge, text)
        rc, out, err = cli(capsys, "list", "--json")
        assert rc == 0 and json.loads(out) == [], text
