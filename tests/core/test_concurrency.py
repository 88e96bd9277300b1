"""Concurrent `guard trust` processes must never lose or tear an allowlist entry."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import time

from tests.conftest import REPO, GuardEnv, guard_exe
from tests.core import run_guard, script, seed_os_index

N = 20


def test_twenty_concurrent_trusts_leave_twenty_entries(guard_env: GuardEnv) -> None:
    seed_os_index(guard_env)
    d = guard_env.bindir("bin")
    files = [script(d, f"tool{i:02d}", f"#!/bin/sh\necho {i}\n".encode()) for i in range(N)]
    env = guard_env.env(PYTHONPATH=str(REPO))
    procs = [
        subprocess.Popen(
            [*guard_exe(), "trust", str(f), "--note", f"n{i}"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        for i, f in enumerate(files)
    ]
    results = [(p.wait(timeout=120), p.stderr.read() if p.stderr else b"") for p in procs]
    for p in procs:
        for stream in (p.stdout, p.stderr):
            if stream:
                stream.close()
    assert [rc for rc, _ in results] == [0] * N, results
    r = run_guard(guard_env, "list", "--json")
    assert r.returncode == 0, r.stderr
    entries = json.loads(r.stdout)
    assert sorted(e["path"] for e in entries) == sorted(str(f) for f in files)
    assert {e["note"] for e in entries} == {f"n{i}" for i in range(N)}
    # Every pin is the right one: each file checks as pinned.
    for f in files[:3] + files[-3:]:
        assert run_guard(guard_env, "check", str(f)).returncode == 0
    # No temp files left behind by the atomic writes.
    leftovers = [n for n in os.listdir(guard_env.guard_config_dir) if n.endswith(".tmp")]
    assert leftovers == []


def test_trust_waits_for_the_lock_then_succeeds(guard_env: GuardEnv) -> None:
    """While another process holds the allowlist lock, `guard trust` does not write; once it
    is released, the write happens."""
    seed_os_index(guard_env)
    tool = script(guard_env.bindir("bin"), "tool")
    cfg = guard_env.guard_config_dir
    cfg.mkdir(mode=0o700, parents=True)
    lock = cfg / ".allowlist.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        p = subprocess.Popen(
            [*guard_exe(), "trust", str(tool)],
            env=guard_env.env(PYTHONPATH=str(REPO)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        # Give it ample time to reach the lock; it must still be waiting and nothing written.
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline and p.poll() is None:
            time.sleep(0.05)
        assert p.poll() is None, p.communicate()
        assert not guard_env.allowlist.exists()
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    assert str(tool).encode() in guard_env.allowlist.read_bytes()
