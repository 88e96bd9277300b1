"""What a system policy costs a cached `guard check` (issue 6), side by side.

    sudo python benchmarks/bench_policy.py [--pins 200] [--runs 40]

(root: the policy directory must be root-owned; it is made under /var/cache and removed.)

1. ``load_policy`` in-process: no policy at all (the common case: one lstat of /etc/guard)
   next to a policy with a mode floor and PINS system pins, its per-user index warm.
2. `guard check` on a pinned file as a fresh process (as the hooks start it), without and
   with that policy, interleaved so machine noise hits both alike.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pins", type=int, default=200)
    ap.add_argument("--runs", type=int, default=40)
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: the policy directory must be root-owned")
    import yaml

    from guard.paths import locations
    from guard.system import load_policy

    home = tempfile.mkdtemp(prefix="guard-bench-home-")
    sysdir = tempfile.mkdtemp(prefix="guard-bench-policy-", dir="/var/cache")
    try:
        os.chmod(sysdir, 0o755)
        for k in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
            os.environ.pop(k, None)
        os.environ["HOME"] = home
        os.environ.pop("GUARD_SYSTEM_DIR", None)
        with open(os.path.join(sysdir, "policy.yaml"), "w") as f:
            f.write("mode_floor: block\n")
        os.mkdir(os.path.join(sysdir, "allowlist.d"), 0o755)
        entries = [
            {"path": f"/opt/tools/t{i}", "sha256": hashlib.sha256(b"%d" % i).hexdigest()}
            for i in range(a.pins)
        ]
        with open(os.path.join(sysdir, "allowlist.d", "site.yaml"), "w") as f:
            f.write(yaml.safe_dump({"version": 1, "entries": entries}))
        for root, _, files in os.walk(sysdir):
            for n in files:
                os.chmod(os.path.join(root, n), 0o644)

        loc = locations()

        def per_call(n: int = 2000) -> float:
            t = time.perf_counter()
            for _ in range(n):
                load_policy(loc)
            return (time.perf_counter() - t) / n

        none = per_call()
        os.environ["GUARD_SYSTEM_DIR"] = sysdir
        load_policy(loc)  # build the index once
        with_policy = per_call()
        print(f"load_policy: no policy {none * 1e6:.1f} µs, ", end="")
        print(f"policy with {a.pins} pins (index warm) {with_policy * 1e6:.0f} µs")

        target = shutil.which("true") or "/bin/true"
        code = (
            f"import sys;sys.path.insert(0,{REPO!r});from guard._cli import main;sys.exit(main())"
        )
        cmd = [sys.executable, "-I", "-c", code, "check", target]
        env0 = {k: v for k, v in os.environ.items() if k != "GUARD_SYSTEM_DIR"}
        env1 = dict(env0, GUARD_SYSTEM_DIR=sysdir)
        subprocess.run([*cmd[:4], "trust", target], env=env0, capture_output=True, check=True)
        for env in (env0, env1):  # warm the caches
            subprocess.run(cmd, env=env, capture_output=True, check=True)
        t0: list[float] = []
        t1: list[float] = []
        for _ in range(a.runs):
            for env, out in ((env0, t0), (env1, t1)):
                t = time.perf_counter()
                subprocess.run(cmd, env=env, capture_output=True, check=True)
                out.append(time.perf_counter() - t)
        m0, m1 = statistics.median(t0), statistics.median(t1)
        print(f"guard check (median of {a.runs}): no policy {m0 * 1000:.1f} ms, ", end="")
        print(f"with policy {m1 * 1000:.1f} ms, ratio {m1 / m0:.2f}")
    finally:
        shutil.rmtree(sysdir, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
