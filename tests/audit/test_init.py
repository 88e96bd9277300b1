"""`guard init` on a real PATH: OS-package files trusted without pins, everything else shown
by directory and provenance and pinned only after that (a "y" on a terminal, or --yes), shadows
named and never pinned, re-runs pinning only what is new."""

from __future__ import annotations

import os
import re
import select
import subprocess
import time
from pathlib import Path

import yaml

from tests.audit import SYS, plant, sys_command
from tests.conftest import REPO, GuardEnv, guard_exe
from tests.core import raw_controls, run_guard, seed_os_index


def pins(ge: GuardEnv) -> dict[str, dict]:
    if not ge.allowlist.exists():
        return {}
    entries = yaml.safe_load(ge.allowlist.read_text())["entries"]
    paths = [e["path"] for e in entries]
    assert len(paths) == len(set(paths)), "duplicate pins"
    return {e["path"]: e for e in entries}


def ours(ge: GuardEnv) -> set[str]:
    """Pinned paths under the sandbox (the machine's SYS dir may hold unpackaged files too)."""
    return {p for p in pins(ge) if p.startswith(str(ge.root))}


def layout(ge: GuardEnv) -> tuple[str, Path, Path]:
    """u1 (first on PATH): a shadow of a packaged command and a shadow of u2's tool; u2: two
    ordinary tools; then the system dir."""
    sys_command("ifconfig")
    u1, u2 = ge.bindir("u1"), ge.bindir("u2")
    plant(u1, "ifconfig")
    plant(u1, "mytool")
    plant(u2, "mytool", "#!/bin/sh\necho the other mytool\n")
    plant(u2, "deploy")
    return f"{u1}:{u2}:{SYS}", u1, u2


def init(ge: GuardEnv, path: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    seed_os_index(ge)
    return run_guard(ge, "init", *args, path=path, timeout=120)


def test_without_a_terminal_it_shows_and_pins_nothing(guard_env: GuardEnv) -> None:
    path, u1, u2 = layout(guard_env)
    r = init(guard_env, path)
    out = r.stdout.decode()
    assert r.returncode == 1 and b"NOT pinned: no terminal" in r.stderr
    assert pins(guard_env) == {}
    assert "Trusted by OS packages:" in out and f"{SYS}:" in out and "net-tools" in out
    assert f"{u2} (2 files)" in out and "deploy mytool" in out
    assert "Shadows - named, NOT pinned (2):" in out
    assert f"{u1 / 'ifconfig'} (unknown) shadows {SYS}/ifconfig (os-package, dpkg:net-tools" in out
    assert f"{u1 / 'mytool'} (unknown) shadows {u2 / 'mytool'} (untrusted" in out


def test_yes_pins_everything_but_os_files_and_shadows(guard_env: GuardEnv) -> None:
    path, u1, u2 = layout(guard_env)
    r = init(guard_env, path, "--yes")
    assert r.returncode == 0, r.stderr
    assert re.search(rb"pinned \d+ files; 2 shadow\(s\) left for you to decide", r.stdout)
    got = pins(guard_env)
    assert ours(guard_env) == {str(u2 / "mytool"), str(u2 / "deploy")}
    for p in set(got) - ours(guard_env):  # anything else pinned is not an OS-package file
        assert got[p]["provenance"]["kind"] == "unknown", p
    assert got[str(u2 / "deploy")]["note"] == "guard init"
    assert got[str(u2 / "deploy")]["provenance"]["kind"] == "unknown"
    # The first day: the pinned tools run, the shadows are blocked with their reason.
    assert run_guard(guard_env, "check", "deploy", path=path).returncode == 0
    chk = run_guard(guard_env, "check", "ifconfig", path=path)
    assert chk.returncode == 1 and b"shadowing" in chk.stdout


def test_rerun_adds_only_what_is_new_without_duplicates(guard_env: GuardEnv) -> None:
    path, u1, u2 = layout(guard_env)
    assert init(guard_env, path, "--yes").returncode == 0
    first = pins(guard_env)
    r = init(guard_env, path, "--yes")
    assert r.returncode == 0 and b"nothing new to pin" in r.stdout
    assert re.search(rb"Already pinned and unchanged: \d+ files", r.stdout)
    assert pins(guard_env) == first
    plant(u2, "newtool")
    r = init(guard_env, path, "--yes")
    assert b"pinned 1 file;" in r.stdout
    assert set(pins(guard_env)) == set(first) | {str(u2 / "newtool")}
    assert len(pins(guard_env)) == len(first) + 1


def test_changed_pinned_file_is_named_not_repinned(guard_env: GuardEnv) -> None:
    path, u1, u2 = layout(guard_env)
    assert init(guard_env, path, "--yes").returncode == 0
    old = pins(guard_env)[str(u2 / "deploy")]["sha256"]
    (u2 / "deploy").write_text("#!/bin/sh\necho swapped\n")
    r = init(guard_env, path, "--yes")
    assert b"Changed since approved - NOT pinned (1):" in r.stdout
    assert pins(guard_env)[str(u2 / "deploy")]["sha256"] == old


def test_pip_files_are_grouped_by_provenance(guard_env: GuardEnv, evil_venv: Path) -> None:
    r = init(guard_env, f"{SYS}:{evil_venv / 'bin'}")
    out = r.stdout.decode()
    assert "pip:evil-aws 1.0" in out and "pip:lsjack 2.3 (entry point ls = lsjack.main:run)" in out
    assert raw_controls(r.stdout) == []


def _pty_init(ge: GuardEnv, path: str, answer: bytes) -> tuple[int, bytes]:
    """Run `guard init` with a pseudo-terminal as stdin/stdout/stderr and type ``answer``."""
    seed_os_index(ge)
    env = ge.env(PYTHONPATH=str(REPO), PATH=path)
    master, slave = os.openpty()
    proc = subprocess.Popen(
        [*guard_exe(), "init"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    buf = b""
    deadline = time.monotonic() + 60
    try:
        while b"[y/N]" not in buf and time.monotonic() < deadline:
            if select.select([master], [], [], 1)[0]:
                buf += os.read(master, 65536)
        os.write(master, answer)
        while time.monotonic() < deadline:
            if select.select([master], [], [], 0.5)[0]:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                buf += chunk
            elif proc.poll() is not None:
                break
        return proc.wait(timeout=30), buf
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()


def test_terminal_prompt_yes_pins(guard_env: GuardEnv) -> None:
    path, u1, u2 = layout(guard_env)
    rc, shown = _pty_init(guard_env, path, b"y\n")
    assert re.search(rb"Pin these \d+ files?\? \[y/N\]", shown) and rc == 0
    assert ours(guard_env) == {str(u2 / "mytool"), str(u2 / "deploy")}


def test_terminal_prompt_default_is_no(guard_env: GuardEnv) -> None:
    path, u1, u2 = layout(guard_env)
    rc, shown = _pty_init(guard_env, path, b"\n")
    assert b"nothing pinned" in shown and rc == 1
    assert pins(guard_env) == {}


def test_relative_and_missing_entries_are_skipped_not_scanned(guard_env: GuardEnv) -> None:
    path, u1, u2 = layout(guard_env)
    r = run_guard(guard_env, "init", "--yes", path=f".:{path}:{guard_env.root / 'gone'}", cwd=u2)
    out = r.stdout.decode()
    assert r.returncode == 0, r.stderr
    assert "skipped PATH entry '.': relative entry" in out
    assert f"skipped PATH entry '{guard_env.root / 'gone'}': does not exist" in out
    # u2 is the current directory and also on PATH by absolute name: scanned once, by that.
    assert ours(guard_env) == {str(u2 / "mytool"), str(u2 / "deploy")}
