"""The `guard` CLI: exit codes, messages, JSON shapes, and every subcommand's help."""

from __future__ import annotations

import json
import os
import shlex
import stat
from pathlib import Path

import pytest

import guard
from guard._cli import main
from tests.conftest import GuardEnv
from tests.core import run_guard, script, seed_os_index, write_allowlist

VERDICT_KEYS = {
    "word",
    "allowed",
    "reason",
    "path",
    "real",
    "interpreters",
    "provenance",
    "shadowed",
    "culprit",
    "sha256",
    "message",
    "trust_command",
}
SUBCOMMANDS = ["check", "which", "trust", "untrust", "list", "status", "hook"]


@pytest.fixture
def ge(guard_env: GuardEnv, monkeypatch: pytest.MonkeyPatch) -> GuardEnv:
    seed_os_index(guard_env)
    monkeypatch.chdir(guard_env.root)
    return guard_env


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_check_exit_codes_as_processes(ge: GuardEnv) -> None:
    d = ge.bindir("bin")
    script(d, "tool")
    path = f"{d}:/usr/bin"
    assert run_guard(ge, "check", "tool", path=path).returncode == 1
    r = run_guard(ge, "trust", "tool", path=path)
    assert r.returncode == 0, r.stderr
    assert run_guard(ge, "check", "tool", path=path).returncode == 0
    write_allowlist(ge, "version: 1\nentries: [\n")
    r = run_guard(ge, "check", "tool", path=path)
    assert r.returncode == 2
    assert b"Traceback" not in r.stderr and str(ge.allowlist).encode() in r.stderr


def test_check_json_shape(ge: GuardEnv, capsys, monkeypatch) -> None:
    d = ge.bindir("bin")
    f = script(d, "tool")
    monkeypatch.setenv("PATH", f"{d}:/usr/bin")
    rc, out, _ = cli(capsys, "check", "tool", "--json")
    assert rc == 1
    doc = json.loads(out)
    assert set(doc) == VERDICT_KEYS
    assert doc["reason"] == "untrusted" and doc["allowed"] is False
    assert doc["path"] == str(f) and doc["real"] == str(f)
    assert doc["trust_command"] == f"guard trust {f}"
    assert len(doc["sha256"]) == 64
    assert main(["trust", "tool"]) == 0
    capsys.readouterr()
    rc, out, _ = cli(capsys, "check", "tool", "--json")
    doc = json.loads(out)
    assert rc == 0 and doc["reason"] == "pinned"
    assert doc["interpreters"] == [os.path.realpath("/bin/sh")]  # its #!/bin/sh, verified
    rc, out, _ = cli(capsys, "check", "ls", "--json")
    doc = json.loads(out)
    assert rc == 0 and doc["allowed"] is True and doc["trust_command"] is None
    assert doc["provenance"]["kind"] in ("dpkg", "rpm")
    rc, out, _ = cli(capsys, "check", "no-such-cmd-qq", "--json")
    assert rc == 1 and json.loads(out)["reason"] == "not-found"


@pytest.mark.parametrize("name", ["tool", "my tool", "it's"])
def test_message_gives_exact_trust_command_that_works(
    ge: GuardEnv, capsys, monkeypatch, name: str
) -> None:
    """Copy the command from the message, run it, and the same check now passes."""
    d = ge.bindir("some dir")
    script(d, name)
    monkeypatch.setenv("PATH", f"{d}:/usr/bin")
    rc, out, _ = cli(capsys, "check", name)
    assert rc == 1
    assert out.startswith("guard: denied ") and out.count("\n") == 1
    fix = out.split("to allow: ", 1)[1].strip()
    argv = shlex.split(fix)
    assert argv[:2] == ["guard", "trust"]
    assert argv[2] == str(d / name)
    rc, _, _ = cli(capsys, *argv[1:])
    assert rc == 0
    rc, out, _ = cli(capsys, "check", name)
    assert rc == 0 and out.startswith("guard: allowed ") and "(pinned)" in out


def test_which_marks_winner(ge: GuardEnv, capsys, monkeypatch) -> None:
    a = ge.bindir("a")
    b = ge.bindir("b")
    fa = script(a, "tool")
    fb = script(b, "tool", b"#!/bin/sh\necho b\n")
    monkeypatch.setenv("PATH", f"{a}:{b}")
    assert main(["trust", str(fb)]) == 0
    capsys.readouterr()
    rc, out, _ = cli(capsys, "which", "tool")
    assert rc == 1
    lines = out.splitlines()
    assert lines[0].startswith(f"* {fa}") and "untrusted" in lines[0]
    assert lines[1].startswith(f"  {fb}") and "pinned" in lines[1]
    assert lines[2].startswith("verdict: shadowing")
    rc, out, _ = cli(capsys, "which", "--json", "tool")
    doc = json.loads(out)
    assert [c["path"] for c in doc["candidates"]] == [str(fa), str(fb)]
    assert [c["winner"] for c in doc["candidates"]] == [True, False]
    assert [c["status"] for c in doc["candidates"]] == ["untrusted", "pinned"]
    assert doc["verdict"]["reason"] == "shadowing"
    assert doc["verdict"]["shadowed"] == str(fb)


def test_which_shows_os_package_provenance(ge: GuardEnv, capsys, monkeypatch) -> None:
    monkeypatch.setenv("PATH", "/usr/bin")
    rc, out, _ = cli(capsys, "which", "ls")
    assert rc == 0
    assert out.splitlines()[0].startswith("* /usr/bin/ls  os-package [dpkg:coreutils ")  # + version


def test_trust_list_untrust_round_trip(ge: GuardEnv, capsys, monkeypatch) -> None:
    d = ge.bindir("bin")
    f1 = script(d, "one")
    f2 = script(d, "two", b"#!/bin/sh\necho 2\n")
    monkeypatch.setenv("PATH", str(d))
    rc, _, err = cli(capsys, "trust", "one", str(f2), "--note", "from the vendor")
    assert rc == 0 and f"trusted {f1}" in err and f"trusted {f2}" in err
    rc, out, _ = cli(capsys, "list", "--json")
    assert rc == 0
    doc = json.loads(out)
    assert [e["path"] for e in doc] == [str(f1), str(f2)]
    e = doc[0]
    assert e["real"] == str(f1) and e["note"] == "from the vendor"
    assert e["size"] == f1.stat().st_size and len(e["sha256"]) == 64
    assert e["added"].endswith("Z")
    rc, out, _ = cli(capsys, "list")
    assert rc == 0 and str(f1) in out and "# from the vendor" in out
    rc, _, err = cli(capsys, "untrust", "one")
    assert rc == 0 and f"removed pin {f1}" in err
    assert [e["path"] for e in json.loads(cli(capsys, "list", "--json")[1])] == [str(f2)]
    assert cli(capsys, "check", "one")[0] == 1
    rc, _, err = cli(capsys, "untrust", str(f2))
    assert rc == 0 and json.loads(cli(capsys, "list", "--json")[1]) == []
    rc, _, err = cli(capsys, "untrust", "one")
    assert rc == 2 and "nothing pinned for one" in err


def test_trust_dir(ge: GuardEnv, capsys) -> None:
    d = ge.bindir("cargo/bin")
    exes = [script(d, n) for n in ("a", "b", "c")]
    script(d, "data").chmod(0o644)
    (d / "subdir").mkdir()
    (d / "subdir").chmod(0o755)
    os.mkfifo(d / "fifo")
    (d / "fifo").chmod(0o755)
    (d / "dangling").symlink_to(d / "nowhere")
    (d / "link").symlink_to(exes[0])
    rc, _, err = cli(capsys, "trust", "--dir", str(d))
    assert rc == 0, err
    pinned = {e["path"] for e in json.loads(cli(capsys, "list", "--json")[1])}
    assert pinned == {str(p) for p in exes} | {str(d / "link")}


def test_trust_nothing_and_missing_are_errors(ge: GuardEnv, capsys, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(ge.bindir("empty")))
    rc, _, err = cli(capsys, "trust")
    assert rc == 2 and "nothing to trust" in err
    rc, _, err = cli(capsys, "trust", "nope-zz")
    assert rc == 2 and "not found" in err
    rc, _, err = cli(capsys, "trust", str(ge.root))
    assert rc == 2 and "directory" in err
    assert not ge.allowlist.exists()


def test_status(ge: GuardEnv, capsys, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(ge.bindir("bin")))
    script(ge.bindir("bin"), "x")
    assert main(["trust", "x"]) == 0
    capsys.readouterr()
    rc, out, _ = cli(capsys, "status")
    assert rc == 0
    assert str(ge.allowlist) in out
    assert str(ge.guard_config_dir / "config.yaml") in out
    assert str(ge.cache / "guard") in out
    assert str(ge.state / "guard" / "events.jsonl") in out
    rc, out, _ = cli(capsys, "status", "--json")
    doc = json.loads(out)
    assert doc["mode"] == "block" and doc["mode_source"] == "default"
    assert doc["pins"] == 1 and doc["allowlist"] == str(ge.allowlist)


@pytest.mark.parametrize("sub", SUBCOMMANDS)
def test_help_of_every_subcommand_has_examples(capsys, sub: str) -> None:
    with pytest.raises(SystemExit) as e:
        main([sub, "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out
    example_lines = out.split("examples:", 1)[1].strip().splitlines()
    assert any(f"guard {sub}" in ln or "guard hook" in ln for ln in example_lines)


def test_version_and_bare_invocation(ge: GuardEnv) -> None:
    r = run_guard(ge, "--version")
    assert r.returncode == 0
    assert r.stdout.decode().strip() == f"guard {guard.__version__}"
    r = run_guard(ge)
    assert r.returncode == 2 and b"usage:" in r.stdout + r.stderr
    r = run_guard(ge, "check", "--bogus-flag", "x")
    assert r.returncode == 2 and b"Traceback" not in r.stderr


def test_written_files_are_private(ge: GuardEnv, capsys, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(ge.bindir("bin")))
    script(ge.bindir("bin"), "x")
    script(ge.bindir("bin"), "y")
    assert main(["trust", "x"]) == 0
    assert main(["trust", "y"]) == 0  # second write: a backup of the first exists too
    for p in ge.guard_config_dir.iterdir():
        if p.is_file():
            assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    assert stat.S_IMODE(ge.guard_config_dir.stat().st_mode) & 0o077 == 0
    assert stat.S_IMODE(ge.allowlist.stat().st_mode) == 0o600


def test_check_path_word_relative_to_cwd(ge: GuardEnv, capsys, monkeypatch) -> None:
    proj = ge.root / "proj"
    f = script(proj / "scripts", "build")
    monkeypatch.chdir(proj)
    monkeypatch.setenv("PATH", "/usr/bin")
    rc, out, _ = cli(capsys, "check", "--json", "scripts/build")
    assert rc == 1 and json.loads(out)["real"] == str(f)
    assert Path(json.loads(out)["path"]).resolve() == f
