"""Allowlist lock under contention (issue 6): how long the unluckiest writer waits.

    python benchmarks/bench_lock.py [--procs 50] [--rounds 20] [--hold-ms 10]

(any Python that can import guard: run from the repository root, or with guard installed.)

N processes each take guard's allowlist lock (guard.fsutil.file_lock) ROUNDS times, hold it
for HOLD ms of CPU work (about what rewriting a 100-pin allowlist costs) and do as much work
outside it. Two ways of waiting, side by side on the same machine:

- blocking: what `guard trust` does (main thread): flock sleeps in the kernel and is woken
  when the lock is released, cut short by a one-shot SIGALRM at GUARD_LOCK_TIMEOUT;
- polling: what the same code does from a non-main thread (no SIGALRM there): non-blocking
  flock retried with a backoff of 1 ms doubling to 20 ms.

Printed: the longest and the 99th-percentile wait, and the wall time of the whole run.
docs/reliability.md records a run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _burn(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def worker(lock: str, mode: str, rounds: int, hold: float, gate: str) -> None:
    sys.path.insert(0, REPO)
    from guard.fsutil import file_lock

    waits: list[float] = []

    def run() -> None:
        while not os.path.exists(gate):
            time.sleep(0.005)
        for _ in range(rounds):
            t = time.perf_counter()
            with file_lock(lock, timeout=300):
                waits.append(time.perf_counter() - t)
                _burn(hold)
            _burn(hold)

    if mode == "polling":
        th = threading.Thread(target=run)
        th.start()
        th.join()
    else:
        run()
    print(json.dumps(waits))


def measure(mode: str, procs: int, rounds: int, hold: float) -> tuple[float, float, float]:
    with tempfile.TemporaryDirectory() as d:
        lock, gate = os.path.join(d, "lock"), os.path.join(d, "go")
        argv = [sys.executable, __file__, "--worker", mode, lock, str(rounds), str(hold), gate]
        ps = [subprocess.Popen(argv, stdout=subprocess.PIPE) for _ in range(procs)]
        time.sleep(1.0 + procs * 0.05)  # let every worker import and reach the gate
        start = time.perf_counter()
        open(gate, "w").close()
        waits = sorted(w for p in ps for w in json.loads(p.communicate()[0]))
        wall = time.perf_counter() - start
    return waits[-1], waits[int(len(waits) * 0.99)], wall


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        mode, lock, rounds, hold, gate = sys.argv[2:7]
        worker(lock, mode, int(rounds), float(hold), gate)
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--procs", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--hold-ms", type=float, default=10.0)
    a = ap.parse_args()
    hold = a.hold_ms / 1000
    cpus = os.cpu_count()
    print(f"{a.procs} processes x {a.rounds} lock rounds, {a.hold_ms:g} ms held, {cpus} CPUs")
    res = {m: measure(m, a.procs, a.rounds, hold) for m in ("blocking", "polling")}
    for m, (worst, p99, wall) in res.items():
        print(f"  {m:9}  longest wait {worst:6.2f} s   p99 {p99:6.2f} s   run {wall:6.1f} s")
    b, p = res["blocking"][0], res["polling"][0]
    print(f"longest wait, polling / blocking: {p / b:.1f}x")


if __name__ == "__main__":
    main()
