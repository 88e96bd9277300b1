"""Provenance lookup speed (issue 4): name the distribution behind one console script.

    python benchmarks/bench_provenance.py [--dists 50] [--runs 15]

Builds a real venv holding ``--dists`` wheels installed by real pip (each with a console
script), then, in fresh processes so nothing is memoised, times one lookup of one script:

  cold  guard.provenance.lookup.provenance_of with no per-environment cache file yet
  warm  the same with the cache file a previous process left
  naive importlib.metadata: every distribution's RECORD parsed, each file located
  batch every file of the script's bin dir looked up in one process (as `guard audit`
        does), per file, warm cache

The same on this interpreter's own site-packages (a real, larger environment) when it
holds 20+ distributions. Times are the lookup call only (imports excluded, listed apart);
runs are interleaved so machine noise hits all sides alike. Goal: warm well under 20 ms.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.fixtures import WheelSpec, build_wheel, make_venv, pip_install  # noqa: E402

CHILD = r"""
import os, sys, time
t0 = time.perf_counter()
mode, target, site = sys.argv[1:4]
import base64, hashlib, xxhash  # what either side may need; guard's check has them loaded
hit, n = None, 1
if mode == "naive":
    from importlib.metadata import distributions
    t1 = time.perf_counter()
    for d in distributions(path=[site]):
        for f in d.files or ():
            if os.path.normpath(str(d.locate_file(f))) == target:
                hit = d.metadata["Name"]
                break
        if hit:
            break
else:
    from guard.provenance.lookup import provenance_of
    files = [target]
    if mode == "batch":  # every file of the target's dir, in one process, as an audit asks
        d = os.path.dirname(target)
        files = [os.path.join(d, x) for x in sorted(os.listdir(d))]
    n = len(files)
    t1 = time.perf_counter()
    for f in files:
        p = provenance_of(f, os.path.realpath(f))
        if f == target:
            hit = p.package
t2 = time.perf_counter()
assert hit, "not found"
print(f"{(t1 - t0) * 1000:.3f} {(t2 - t1) * 1000 / n:.3f} {hit}")
"""


def one(mode: str, target: str, site: str, env: dict[str, str]) -> tuple[float, float]:
    r = subprocess.run(
        [sys.executable, "-c", CHILD, mode, target, site],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    imp, call, _ = r.stdout.split(" ", 2)
    return float(imp), float(call)


def bench(label: str, target: str, site: str, runs: int, cache: Path) -> None:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "PYTHONPATH": str(REPO)}
    res: dict[str, list[tuple[float, float]]] = {"cold": [], "warm": [], "naive": [], "batch": []}
    for _ in range(runs):
        shutil.rmtree(cache, ignore_errors=True)
        res["cold"].append(one("guard", target, site, env))
        res["warm"].append(one("guard", target, site, env))
        res["naive"].append(one("naive", target, site, env))
        res["batch"].append(one("batch", target, site, env))
    n = sum(1 for x in os.listdir(site) if x.endswith(".dist-info"))
    print(f"\n{label}: {n} distributions, target {os.path.basename(target)}")
    med = {k: statistics.median(c for _, c in v) for k, v in res.items()}
    for k, v in res.items():
        imp = statistics.median(i for i, _ in v)
        print(f"  {k:5}  lookup {med[k]:7.2f} ms   (imports {imp:5.2f} ms)")
    print(
        f"  naive / warm = {med['naive'] / med['warm']:.1f}x   naive / cold = "
        f"{med['naive'] / med['cold']:.1f}x"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dists", type=int, default=50)
    ap.add_argument("--runs", type=int, default=15)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        wheels = [
            build_wheel(
                WheelSpec(f"dist{i:03d}", "1.0", "evil_aws", {f"tool{i:03d}": "evil_aws.cli:main"}),
                tmp / "wheels",
            )
            for i in range(a.dists)
        ]
        venv = make_venv(tmp / "venv")
        pip_install(venv / "bin" / "python", *wheels, home=tmp)
        (site,) = venv.glob("lib/python*/site-packages")
        target = str(venv / "bin" / f"tool{a.dists // 2:03d}")
        bench("synthetic venv", target, str(site), a.runs, tmp / "cache")
        own = sysconfig.get_paths()["purelib"]
        scripts = Path(sysconfig.get_paths()["scripts"])
        if sum(1 for x in os.listdir(own) if x.endswith(".dist-info")) >= 20:
            for name in ("pytest", "pip3", "pip"):
                if (scripts / name).is_file():
                    bench("this interpreter", str(scripts / name), own, a.runs, tmp / "cache2")
                    break


if __name__ == "__main__":
    main()
