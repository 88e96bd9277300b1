"""Benchmark the fish hook; prints ratios measured side by side in one run.

    /tmp/venv-fish/bin/python benchmarks/bench_fish.py [N]

Everything runs in a throw-away HOME/XDG sandbox. Interactive figures type N lines into a
real interactive fish on a pty (Enter really pressed, so the binding runs) with and without
the hook; start-up compares `fish -c true` with and without the hook in conf.d.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.shell.ptyshell import PtyShell  # noqa: E402

FISH = shutil.which("fish") or sys.exit("fish is not installed")
GUARD = [str(Path(sys.executable).parent / "guard")]


def sandbox(root: Path, hooked: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "GUARD_"))}
    sub = root / ("hooked" if hooked else "plain")
    env.update(
        HOME=str(sub),
        XDG_CONFIG_HOME=str(sub / "c"),
        XDG_DATA_HOME=str(sub / "d"),
        XDG_STATE_HOME=str(sub / "s"),
        XDG_CACHE_HOME=str(sub / "k"),
        PATH="/usr/bin:/bin",
        TERM="dumb",
        LC_ALL="C.UTF-8",
        fish_greeting="",
    )
    (sub / "c" / "fish" / "conf.d").mkdir(parents=True, exist_ok=True)
    if hooked:
        hook = subprocess.run(
            [*GUARD, "hook", "--path", "fish"], env=env, capture_output=True, text=True, check=True
        ).stdout.strip()
        (sub / "c" / "fish" / "conf.d" / "guard.fish").write_text(f"source '{hook}'\n")
    return env


def typed(env: dict[str, str], lines: list[str]) -> float:
    with PtyShell([FISH, "-i"], env, ctty=True, timeout=600) as sh:
        sh.run("set -g fish_greeting")
        for w in ("cat /dev/null", "true"):  # warm: first sighting and name list
            sh.run(w)
        t = time.perf_counter()
        sh.send("".join(x + "\r" for x in lines))
        sh.run("echo end")
        return time.perf_counter() - t


def start(env: dict[str, str], n: int = 40) -> float:
    subprocess.run([FISH, "-c", "true"], env=env, check=True)
    t = time.perf_counter()
    for _ in range(n):
        subprocess.run([FISH, "-c", "true"], env=env, check=True)
    return (time.perf_counter() - t) / n


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        plain, hooked = sandbox(root, False), sandbox(root, True)
        time.sleep(1.1)  # stamps must fall in a later second than the fresh sandbox dirs
        for label, line in (("builtin-only", "true"), ("external, verified", "cat /dev/null")):
            b = typed(plain, [line] * n)
            g = typed(hooked, [line] * n)
            print(
                f"{label:20} {n} lines typed: no hook {b:.2f}s, guard {g:.2f}s, "
                f"ratio {g / b:.3f}, added {(g - b) / n * 1e6:.0f} µs/line"
            )
        b, g = start(plain), start(hooked)
        print(
            f"start-up fish -c true: no hook {b * 1e3:.1f} ms, guard {g * 1e3:.1f} ms, "
            f"added {(g - b) * 1e3:.1f} ms"
        )
        big = root / "bin10"
        big.mkdir()
        (big / "bigtool").write_bytes(b"\x7fELF" + os.urandom(10 * 1024 * 1024))
        (big / "bigtool").chmod(0o755)
        env = dict(hooked, PATH=f"{big}:/usr/bin:/bin")
        t = time.perf_counter()
        subprocess.run(
            [*GUARD, "_query", "--shell", "fish", "--", "bigtool"],
            env=env,
            capture_output=True,
            check=True,
        )
        print(
            f"first sighting of a new 10 MB binary (guard _query): "
            f"{(time.perf_counter() - t) * 1e3:.0f} ms"
        )


if __name__ == "__main__":
    main()
