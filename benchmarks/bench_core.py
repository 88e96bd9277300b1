"""Core benchmarks (issue 2), measured side by side in one run on this (noisy, shared) machine.

    .venv-test/bin/python benchmarks/bench_core.py [--mb 256] [--runs 30]

(any Python that has guard installed; ./tests/run.sh creates .venv-test.)

1. SHA-256 throughput of guard's streamed hashing vs raw hashlib over the same bytes already in
   memory (the ceiling). Goal: ratio >= 0.9.
2. Median wall time of `guard check` on a verified, cached file, as a fresh process started
   exactly as the shell hooks start guard (guard.hookfiles.guard_command()), next to the bare
   interpreter start with the same flags (`python -I [-S] -c pass`). Goal: <= 30 ms including
   Python start.
Runs are interleaved (A, B, A, B, …) so machine noise hits both sides alike.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _sandbox  # benchmarks/_sandbox.py (this directory is on sys.path when run)

try:
    from guard.hashing import digest_file
    from guard.hookfiles import guard_command
except ImportError:
    sys.exit("guard is not installed for this Python; run with .venv-test/bin/python")


def bench_hash(mb: int, rounds: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "blob"
        data = os.urandom(1 << 20) * mb
        p.write_bytes(data)
        digest_file(str(p), limit=1 << 40)  # warm the page cache
        raw, ours = [], []
        for _ in range(rounds):
            # Raw hashlib, twice: over the bytes already in memory, and a plain read loop.
            t = time.perf_counter()
            hashlib.sha256(data).hexdigest()
            raw.append(time.perf_counter() - t)
            t = time.perf_counter()
            h = hashlib.sha256()
            with open(p, "rb") as f:
                for chunk in iter(lambda f=f: f.read(1 << 20), b""):
                    h.update(chunk)
            h.hexdigest()
            raw.append(time.perf_counter() - t)
            t = time.perf_counter()
            digest_file(str(p), limit=1 << 40)
            ours.append(time.perf_counter() - t)
    return min(raw), min(ours)


def bench_check(runs: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as d:
        bindir = Path(d) / "bin"
        bindir.mkdir()
        env = _sandbox.sandbox_env(Path(d), f"{bindir}:/usr/bin:/bin")
        tool = bindir / "tool"
        tool.write_bytes(b"\x7fELF" + os.urandom(1 << 20))
        tool.chmod(0o755)
        guard = guard_command()
        subprocess.run([*guard, "trust", "tool"], env=env, check=True, capture_output=True)
        for _ in range(3):  # warm: verify cache, allowlist index, dpkg index
            subprocess.run([*guard, "check", "tool"], env=env, check=True, capture_output=True)
        base, ours = [], []
        for _ in range(runs):
            t = time.perf_counter()
            # The same interpreter flags as the hook's command (-I, and -S when it skips site).
            subprocess.run([*guard[: guard.index("-c")], "-c", "pass"], env=env, check=True)
            base.append(time.perf_counter() - t)
            t = time.perf_counter()
            subprocess.run([*guard, "check", "tool"], env=env, check=True, capture_output=True)
            ours.append(time.perf_counter() - t)
    return statistics.median(base), statistics.median(ours)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=30)
    a = ap.parse_args()
    raw, ours = bench_hash(a.mb, a.rounds)
    print(
        f"sha256 {a.mb} MiB: raw hashlib {a.mb / raw:8.0f} MiB/s, guard {a.mb / ours:8.0f} MiB/s,"
        f" ratio {raw / ours:.3f} (goal >= 0.9)"
    )
    base, check = bench_check(a.runs)
    print(
        f"guard check (cached): median {check * 1000:.1f} ms; bare interpreter start "
        f"{base * 1000:.1f} ms; guard adds {(check - base) * 1000:.1f} ms (goal <= 30 ms total)"
    )


if __name__ == "__main__":
    main()
