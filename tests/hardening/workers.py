"""Worker processes for the hardening tests, run as ``python -m tests.hardening.workers``.

``churn``: one of the 50 concurrent processes. It owns a few files nobody else touches and,
until its deadline, trusts, untrusts and checks them (and checks other workers' files)
through guard's real CLI entry point (``guard._cli.main``, in-process: what `guard trust`
runs, without paying interpreter start-up for every operation). It records what it believes
is pinned and every surprise, and writes a JSON report.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import sys
import time


def _run(argv: list[str]) -> tuple[int, str]:
    from guard._cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(argv)
    return rc, out.getvalue() + err.getvalue()


def churn(wid: int, mine: list[str], others: list[str], gate: str, seconds: float, report: str):
    import guard._cli  # noqa: F401 - import before the start line, not inside the timing

    rnd = random.Random(wid)
    pinned = dict.fromkeys(mine, False)
    ops = {"trust": 0, "untrust": 0, "check": 0, "check_other": 0}
    surprises: list[str] = []
    slowest = {"trust": 0.0, "untrust": 0.0}
    open(f"{gate}.ready.{wid}", "w").close()
    while not os.path.exists(gate):
        time.sleep(0.01)
    with open(gate) as f:
        deadline = float(f.read()) + seconds
    while time.time() < deadline:
        f = rnd.choice(mine)
        r = rnd.random()
        if r < 0.5:
            op = "untrust" if pinned[f] and r < 0.25 else "trust"
            t = time.monotonic()
            rc, msg = _run([op, f])
            slowest[op] = max(slowest[op], time.monotonic() - t)
            ops[op] += 1
            if rc != 0:
                surprises.append(f"{op} {f}: exit {rc}: {msg.strip()}")
            else:
                pinned[f] = op == "trust"
        elif r < 0.8:
            # Only this process changes its files: the check must agree with what it did.
            rc, msg = _run(["check", f])
            ops["check"] += 1
            want = 0 if pinned[f] else 1
            if rc != want:
                surprises.append(f"check own {f}: exit {rc}, expected {want}: {msg.strip()}")
        else:
            # Another process's file: pinned or not, but always a verdict, never an error.
            o = rnd.choice(others)
            rc, msg = _run(["check", o])
            ops["check_other"] += 1
            if rc not in (0, 1) or not ("(pinned)" in msg or "(untrusted)" in msg):
                surprises.append(f"check other {o}: exit {rc}: {msg.strip()}")
    with open(report, "w") as f:
        json.dump(
            {
                "id": wid,
                "pinned": sorted(k for k, v in pinned.items() if v),
                "ops": ops,
                "slowest": slowest,
                "surprises": surprises,
            },
            f,
        )


def main() -> None:
    cmd = sys.argv[1]
    if cmd == "churn":
        wid, mine, others, gate, seconds, report = sys.argv[2:8]
        churn(int(wid), mine.split(":"), others.split(":"), gate, float(seconds), report)
    else:
        raise SystemExit(f"unknown worker {cmd}")


if __name__ == "__main__":
    main()
