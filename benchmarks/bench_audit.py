"""`guard audit` over a realistic PATH (issue 4): this machine's /usr/bin and /usr/local/bin
plus two venvs whose console scripts were installed by real pip (~1,500 executables).

    .venv-test/bin/python benchmarks/bench_audit.py [--scripts 200] [--runs 5]

(any Python that has guard and pip; run from the repository root.)

Goal: <= 2 s warm - the dpkg index and the verification cache already built, as on every
audit after the first. Printed side by side: the cold first run (builds the dpkg index and
hashes every file), the warm run in-process (guard.audit.run_audit), and the warm run as the
user runs it (`python -m guard audit --json`, a fresh process). HOME and XDG_* point at a temp
dir: your own allowlist and caches are not touched.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
import _sandbox  # noqa: E402  # benchmarks/_sandbox.py (this directory is on sys.path when run)


def wheel(out: Path, name: str, n: int) -> Path:
    """A wheel with ``n`` console scripts (plus ``ls`` and ``aws``, so the audit has work)."""
    dist = name.replace("-", "_")
    di = f"{dist}-1.0.dist-info"
    eps = {f"{name}-tool{i:04d}": f"{dist}.cli:main" for i in range(n)}
    eps.update({"ls": f"{dist}.cli:main", "aws": f"{dist}.cli:main"})
    files = [
        (f"{dist}/__init__.py", b""),
        (f"{dist}/cli.py", b"def main():\n    return 0\n"),
        (f"{di}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n".encode()),
        (
            f"{di}/WHEEL",
            b"Wheel-Version: 1.0\nGenerator: bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        ),
        (
            f"{di}/entry_points.txt",
            ("[console_scripts]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items())).encode(),
        ),
    ]

    def h(b: bytes) -> str:
        return base64.urlsafe_b64encode(hashlib.sha256(b).digest()).rstrip(b"=").decode()

    record = "".join(f"{p},sha256={h(b)},{len(b)}\n" for p, b in files) + f"{di}/RECORD,,\n"
    files.append((f"{di}/RECORD", record.encode()))
    whl = out / f"{dist}-1.0-py3-none-any.whl"
    with zipfile.ZipFile(whl, "w") as z:
        for p, b in files:
            z.writestr(p, b)
    return whl


def make_env(root: Path, name: str, n: int, env: dict[str, str]) -> Path:
    v = root / name
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(v)], check=True, env=env)
    w = wheel(root, name, n)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(v / "bin" / "python"),
            "install",
            "--no-index",
            "--no-deps",
            "--quiet",
            "--disable-pip-version-check",
            str(w),
        ],
        check=True,
        env=env,
    )
    return v / "bin"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scripts", type=int, default=200, help="console scripts per venv")
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="guard-bench-audit-") as t:
        root = Path(t)
        env = _sandbox.sandbox_env(root, os.environ.get("PATH", "/usr/bin:/bin"), drop=("PIP_",))
        env["PYTHONPATH"] = str(REPO)
        bins = [make_env(root, f"bench-env{i}", a.scripts, env) for i in (1, 2)]
        path = ":".join([*map(str, bins), "/usr/local/bin", "/usr/bin"])
        os.environ.clear()
        os.environ.update(env)
        from guard.audit import run_audit
        from guard.decide import Context

        def once() -> tuple[float, int, int]:
            t0 = time.perf_counter()
            ctx = Context()
            r = run_audit(ctx, path, str(root))
            ctx.close()
            return time.perf_counter() - t0, r.scan.count(), len(r.findings)

        cold, count, nfind = once()
        warm = [once()[0] for _ in range(a.runs)]
        cli = []
        for _ in range(a.runs):
            t0 = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "guard", "audit", "--json"],
                env=dict(env, PATH=path),
                cwd=str(root),
                stdout=subprocess.DEVNULL,
                check=False,
            )
            cli.append(time.perf_counter() - t0)
    med_w, med_c = statistics.median(warm), statistics.median(cli)
    print(f"PATH: 2 venvs ({a.scripts + 4} files each) + /usr/local/bin + /usr/bin")
    print(f"executables audited: {count:,}; findings: {nfind}")
    print(f"cold (dpkg index + hashing every file): {cold:6.2f} s")
    print(f"warm, in-process run_audit (median of {a.runs}): {med_w:6.2f} s")
    print(f"warm, `guard audit --json` process (median of {a.runs}): {med_c:6.2f} s   goal <= 2 s")
    print(f"ratio warm CLI / goal: {med_c / 2.0:.2f}  -> {'OK' if med_c <= 2.0 else 'OVER GOAL'}")


if __name__ == "__main__":
    main()
