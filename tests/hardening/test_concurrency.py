"""50 processes trusting, untrusting and checking at once for 10 s: no lost entry, no torn read,
no deadlock; and a lock wait that is bounded and says so.

The invariant, precisely:
- each worker owns 3 files no other worker touches, so what it last did to a file is the
  truth about that file;
- lost entry: every `check` of its own file must agree with what the worker last did (exit 0
  after its trust, 1 after its untrust), and at the end the allowlist holds exactly the union
  of the files each worker last left trusted — nothing missing, nothing extra;
- torn read: every `check` of another worker's file gives a verdict (exit 0 "pinned" or exit 1
  "untrusted"), never exit 2 (a parse error); every trust/untrust exits 0;
- deadlock: every worker exits by its deadline plus a bound, and nobody waits for the lock
  past GUARD_LOCK_TIMEOUT (a timed-out write is exit 2, which fails the run).
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import threading
import time

import yaml

from tests.conftest import REPO, GuardEnv
from tests.core import run_guard, script, seed_os_index

WORKERS = 50
FILES_EACH = 3
SECONDS = 10.0


def test_fifty_processes_for_ten_seconds(guard_env: GuardEnv) -> None:
    ge = guard_env
    seed_os_index(ge)
    d = ge.bindir("bin")
    owned = [
        [str(script(d, f"w{w:02d}f{i}", f"#!/bin/sh\necho {w} {i}\n".encode())) for i in range(3)]
        for w in range(WORKERS)
    ]
    everyone = [f for fs in owned for f in fs]
    gate = ge.root / "go"
    env = ge.env(PYTHONPATH=str(REPO))
    procs = []
    for w in range(WORKERS):
        others = ":".join(everyone[(w * 7 + k) % len(everyone)] for k in range(1, 12))
        argv = [sys.executable, "-m", "tests.hardening.workers", "churn", str(w)]
        argv += [":".join(owned[w]), others, str(gate), str(SECONDS), str(ge.root / f"r{w}.json")]
        procs.append(
            subprocess.Popen(
                argv,
                env=env,
                cwd=REPO,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
        )
    try:
        # Start together: every worker has imported guard and waits on the gate.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            ready = sum((ge.root / f"go.ready.{w}").exists() for w in range(WORKERS))
            if ready == WORKERS or any(p.poll() is not None for p in procs):
                break
            time.sleep(0.05)
        assert ready == WORKERS, [p.communicate()[0] for p in procs if p.poll() is not None]
        start = time.time()
        tmp = ge.root / "go.tmp"
        tmp.write_text(repr(start))
        tmp.rename(gate)
        # No deadlock: all finish, within the run plus one lock timeout plus slack.
        outputs = [p.communicate(timeout=SECONDS + 60)[0] for p in procs]
        wall = time.time() - start
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert [p.returncode for p in procs] == [0] * WORKERS, outputs
    reports = [json.loads((ge.root / f"r{w}.json").read_text()) for w in range(WORKERS)]
    surprises = [s for r in reports for s in r["surprises"]]
    assert surprises == []

    # No lost (or phantom) entry: the allowlist is exactly what the workers last left.
    expected = sorted(f for r in reports for f in r["pinned"])
    doc = yaml.safe_load(ge.allowlist.read_text())
    assert sorted(e["path"] for e in doc["entries"]) == expected
    r = run_guard(ge, "list", "--json")
    assert r.returncode == 0 and sorted(e["path"] for e in json.loads(r.stdout)) == expected
    # The survivors check as pinned, the rest as not, as separate processes too.
    for f in everyone[:6]:
        assert run_guard(ge, "check", f).returncode == (0 if f in expected else 1)
    # No temp files left behind.
    assert [n for n in os.listdir(ge.guard_config_dir) if ".tmp" in n] == []

    ops = {k: sum(r["ops"][k] for r in reports) for k in reports[0]["ops"]}
    slowest = max(max(r["slowest"].values()) for r in reports)
    # The figure docs/reliability.md quotes (run with -s to see it).
    print(
        f"\nconcurrency: {WORKERS} processes, {wall:.1f} s: {ops['trust']} trusts, "
        f"{ops['untrust']} untrusts, {ops['check']} own checks, {ops['check_other']} checks "
        f"of others' files = {sum(ops.values())} operations, 0 surprises; "
        f"{len(expected)} pins at the end; slowest write {slowest:.2f} s "
        f"(lock timeout 10 s)"
    )
    assert min(ops.values()) > 0
    assert ops["trust"] + ops["untrust"] >= WORKERS  # every worker wrote at least once


def _hold_lock(ge: GuardEnv) -> int:
    cfg = ge.guard_config_dir
    cfg.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(cfg / ".allowlist.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def test_lock_wait_is_bounded_with_a_clear_message(guard_env: GuardEnv) -> None:
    """A holder that never lets go (a stuck process): the writer gives up after
    GUARD_LOCK_TIMEOUT, names the holder, changes nothing, and exits 2."""
    ge = guard_env
    seed_os_index(ge)
    tool = script(ge.bindir("bin"), "tool")
    other = script(ge.bindir("bin"), "other")
    assert run_guard(ge, "trust", str(other)).returncode == 0
    before = ge.allowlist.read_bytes()
    fd = _hold_lock(ge)
    try:
        for args in (("trust", str(tool)), ("untrust", str(other))):
            t = time.monotonic()
            r = run_guard(ge, *args, GUARD_LOCK_TIMEOUT="1.5", timeout=30)
            waited = time.monotonic() - t
            err = r.stderr.decode()
            assert r.returncode == 2, err
            assert err == (
                f"guard: error: another guard process (pid {os.getpid()}) has held the lock "
                f"{ge.guard_config_dir / '.allowlist.lock'} for over 1.5s (GUARD_LOCK_TIMEOUT); "
                f"nothing was changed. Retry, or look for a stuck guard process\n"
            )
            assert waited >= 1.5  # it did wait (no upper bound asserted: CI machines vary)
            assert ge.allowlist.read_bytes() == before
        # Readers never take the lock: checks go on while a writer is stuck.
        assert run_guard(ge, "check", str(other)).returncode == 0
        assert run_guard(ge, "check", str(tool)).returncode == 1
    finally:
        os.close(fd)
    assert run_guard(ge, "trust", str(tool)).returncode == 0
    assert run_guard(ge, "check", str(tool)).returncode == 0


def test_bad_lock_timeout_is_a_clear_error(guard_env: GuardEnv) -> None:
    tool = script(guard_env.bindir("bin"), "tool")
    for bad in ("soon", "0", "-1", "1e9"):
        r = run_guard(guard_env, "trust", str(tool), GUARD_LOCK_TIMEOUT=bad)
        assert r.returncode == 2 and b"GUARD_LOCK_TIMEOUT=" in r.stderr, r.stderr
    assert not guard_env.allowlist.exists()


def test_lock_wait_outside_the_main_thread_polls_and_is_bounded(guard_env: GuardEnv) -> None:
    """Library use from a thread (no SIGALRM there): the wait polls, with the same bound and
    message, and succeeds once the holder lets go."""
    from guard.errors import LockTimeout
    from guard.fsutil import file_lock

    ge = guard_env
    fd = _hold_lock(ge)
    lock_path = str(ge.guard_config_dir / ".allowlist.lock")
    got: dict[str, str] = {}

    def take() -> None:
        try:
            with file_lock(lock_path, timeout=0.5):
                got["ok"] = "locked"
        except LockTimeout as e:
            got["err"] = str(e)

    t = threading.Thread(target=take)
    t.start()
    t.join(30)
    assert not t.is_alive() and "ok" not in got
    assert got["err"].startswith(f"another guard process (pid {os.getpid()}) has held the lock")
    os.close(fd)
    t = threading.Thread(target=take)
    t.start()
    t.join(30)
    assert got.get("ok") == "locked"


def test_lock_leaves_the_programs_own_timer_alone(guard_env: GuardEnv) -> None:
    import signal

    from guard.fsutil import file_lock

    fired: list[int] = []

    def handler(*_: object) -> None:
        fired.append(1)

    old = signal.signal(signal.SIGALRM, handler)
    try:
        signal.setitimer(signal.ITIMER_REAL, 60)
        with file_lock(str(guard_env.guard_config_dir / ".allowlist.lock"), timeout=5):
            pass
        assert signal.getitimer(signal.ITIMER_REAL)[0] > 50  # still running, not reset
        assert signal.getsignal(signal.SIGALRM) is handler
        with file_lock(str(guard_env.guard_config_dir / ".allowlist.lock"), timeout=5):
            pass
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert fired == []
