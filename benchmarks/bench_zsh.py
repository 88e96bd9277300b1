"""Benchmark the zsh hook: prints ratios measured side by side in one run.

    /tmp/venv-zsh/bin/python benchmarks/bench_zsh.py [--rounds 5] [--hook-file OLD.zsh]

1. 2,000 builtin-only commands: the hook vs an empty DEBUG trap (`trap ':' DEBUG`; the
   cheapest DEBUG trap zsh has; a TRAPDEBUG function costs ~9 us more per command).
2. 2,000 external commands already verified: the hook vs no hook (and vs the empty trap).
   "Already verified": each timed shell first runs the two commands once, untimed (the
   per-shell cache starts empty, so a new shell asks guard once per new command).
   2b. The same, fork excluded: the trap's own work per command, measured by letting the
   trap skip the external command (ERR_EXIT set in the trap), hook vs `:` — the fork/exec
   of a real command costs ~1 ms here and its noise hides a 10 us difference.
   With `perf` on PATH, 1 and 2b are also measured as CPU time (task-clock of the shell and
   its children), which stays put when other processes load the machine; wall time does not.
3. Shell start (`zsh -c :`) with the hook sourced from .zshenv vs an empty .zshenv.
4. First sighting of a new 10 MB executable (GUARD_MODE=monitor, so it runs and is logged):
   one `_query` round trip from the hook, hashing included; hook vs no hook.
Each figure is the best of --rounds runs; variants alternate within a round. Everything runs in
a throwaway HOME/XDG sandbox, never the user's own. The sandbox settles for 1.1 s first: the
hook only takes its inline record of a command once the ctime second of every file it
watches is over (docs/shell-zsh.md), as it is for any file not written in the last second.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _sandbox  # benchmarks/_sandbox.py (this directory is on sys.path when run)

ZSH = shutil.which("zsh")
SYS = "/usr/bin:/bin"
N = 2000


def guard_argv() -> list[str]:
    script = Path(sys.executable).parent / "guard"
    return [str(script)] if script.exists() else [sys.executable, "-m", "guard"]


def sandbox(root: Path) -> dict[str, str]:
    return _sandbox.sandbox_env(root, SYS, drop=("ZDOTDIR",))


def zdot(root: Path, name: str, text: str) -> str:
    d = root / name
    d.mkdir()
    (d / ".zshenv").write_text(text)
    return str(d)


def timed_script(env: dict[str, str], zd: str, body: str, warm: str = "") -> float:
    """Seconds the body took inside one zsh (measured by zsh itself, start-up and the
    untimed ``warm`` part excluded)."""
    script = (
        "zmodload zsh/datetime\n" + warm + "\n__b_s=$EPOCHREALTIME\n" + body + "\n"
        "print -r -- __T $(( EPOCHREALTIME - __b_s )) >&2\n"
    )
    p = subprocess.run(
        [ZSH, "-c", script],
        env={**env, "ZDOTDIR": zd},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    tail = [ln for ln in p.stderr.splitlines() if ln.startswith("__T ")]
    if p.returncode != 0 or not tail:
        raise SystemExit(f"benchmark script failed ({p.returncode}): {p.stderr[-500:]}")
    return float(tail[-1].split()[1])


def builtin_body() -> str:
    lines = []
    for i in range(N // 4):
        lines += [f"x={i}", f": arg {i}", f"[[ -n {i} ]]", f"print -r -- {i} >/dev/null"]
    return "\n".join(lines)


EXT = ["/usr/bin/true", "dirname / >/dev/null"]
WARM = "\n".join(EXT)
# 2b: after the warm-up, the trap in place (the hook's, or `:`) gets a tail that skips the two
# external commands, so only the trap's work is timed.
SKIP = "; [[ $ZSH_DEBUG_CMD == (/usr/bin/true|dirname*) ]] && builtin setopt errexit"
SKIP_HOOK = (
    WARM + '\nbuiltin eval "__t=${${$(builtin trap)#trap -- }% DEBUG}"\n'
    'builtin trap "$__t"\'' + SKIP + "' DEBUG"
)
SKIP_TRAP = WARM + "\nbuiltin trap ':" + SKIP + "' DEBUG"


def external_body() -> str:
    return "\n".join(EXT * (N // 2))


PERF = shutil.which("perf")


def cpu_script(env: dict[str, str], zd: str, body: str, warm: str = "") -> float | None:
    """CPU seconds (perf task-clock, the shell and its children) the body adds to a zsh that
    runs ``warm`` first: the same script without the body is subtracted. Unlike wall time,
    this barely moves when other processes load the machine. None without perf."""
    if PERF is None:
        return None
    out = []
    for b in (body, ""):
        with tempfile.NamedTemporaryFile("w", suffix=".zsh", delete=False) as f:
            f.write(warm + "\n" + b + "\n")
        try:
            p = subprocess.run(
                [PERF, "stat", "-x,", "-e", "task-clock", ZSH, f.name],
                env={**env, "ZDOTDIR": zd},
                capture_output=True,
                text=True,
            )
        finally:
            os.unlink(f.name)
        try:
            out.append(float(p.stderr.strip().splitlines()[-1].split(",")[0]) / 1e3)
        except (IndexError, ValueError):
            return None
    return out[0] - out[1]


def shell_start(env: dict[str, str], zd: str, n: int = 40) -> float:
    t = time.perf_counter()
    for _ in range(n):
        subprocess.run([ZSH, "-c", ":"], env={**env, "ZDOTDIR": zd}, check=True)
    return (time.perf_counter() - t) / n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument(
        "--hook-file",
        help="benchmark this hook source (e.g. an older shell/guard.zsh) instead of the one "
        "`guard hook zsh` ships; guard's own first line (__guard_bin=...) is kept",
    )
    a = ap.parse_args()
    if ZSH is None:
        print("zsh is not installed")
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-zsh-") as tmp:
        root = Path(tmp)
        env = sandbox(root)
        hook = root / "hook.zsh"
        rendered = subprocess.run(
            [*guard_argv(), "hook", "zsh"], env=env, check=True, capture_output=True
        ).stdout
        if a.hook_file:
            rendered = rendered.split(b"\n", 1)[0] + b"\n" + Path(a.hook_file).read_bytes()
        hook.write_bytes(rendered)
        zd_none = zdot(root, "none", "")
        zd_trap = zdot(root, "trap", "trap ':' DEBUG\n")
        zd_hook = zdot(root, "hook", f"source {hook}\n")
        # Verify the external commands once (and build the OS-package index) before timing.
        timed_script(env, zd_hook, WARM)
        time.sleep(1.1)
        b, e, s = builtin_body(), external_body(), {}
        best: dict[str, float] = {}
        cpu: dict[str, float] = {}
        for _ in range(a.rounds):
            for key, zd, body, warm in (
                ("b_trap", zd_trap, b, ""),
                ("b_hook", zd_hook, b, ""),
                ("b_none", zd_none, b, ""),
                ("e_none", zd_none, e, WARM),
                ("e_trap", zd_trap, e, WARM),
                ("e_hook", zd_hook, e, WARM),
                ("k_trap", zd_trap, e, SKIP_TRAP),
                ("k_hook", zd_hook, e, SKIP_HOOK),
            ):
                best[key] = min(best.get(key, 1e9), timed_script(env, zd, body, warm))
            for key, zd in (("s_none", zd_none), ("s_hook", zd_hook)):
                s[key] = min(s.get(key, 1e9), shell_start(env, zd))
            # CPU time of the same bodies (1 and 2b), where perf is available.
            for key, zd, body, warm in (
                ("b_trap", zd_trap, b, ""),
                ("b_hook", zd_hook, b, ""),
                ("k_trap", zd_trap, e, SKIP_TRAP),
                ("k_hook", zd_hook, e, SKIP_HOOK),
            ):
                c = cpu_script(env, zd, body, warm)
                if c is not None:
                    cpu[key] = min(cpu.get(key, 1e9), c)
        # 4. first sighting of a new 10 MB executable (GUARD_MODE=monitor so it runs).
        big_dir = root / "bigbin"
        big_dir.mkdir()
        first = []
        for i in range(5):
            big = big_dir / f"big{i}"
            with open(big, "wb") as f:
                f.write(b"#!/bin/sh\nexit 0\n")
                f.write(os.urandom(10 * 1024 * 1024))
            big.chmod(0o755)
            menv = {**env, "GUARD_MODE": "monitor", "PATH": f"{big_dir}:{SYS}"}
            with_hook = timed_script(menv, zd_hook, f"big{i}")
            without = timed_script(menv, zd_none, f"big{i}")
            first.append(with_hook - without)
    us = 1e6 / N
    print(
        f"zsh {subprocess.run([ZSH, '--version'], capture_output=True, text=True).stdout.strip()}"
    )
    print(
        f"1. {N} builtin-only commands: hook {best['b_hook'] * us:.2f} us/cmd, empty DEBUG trap "
        f"{best['b_trap'] * us:.2f} us/cmd, no trap {best['b_none'] * us:.2f} us/cmd -> "
        f"ratio hook/empty-trap = {best['b_hook'] / best['b_trap']:.2f}x (target <= 3x)"
    )
    added = (best["e_hook"] - best["e_none"]) * us
    print(
        f"2. {N} verified external commands: hook {best['e_hook'] * us:.1f} us/cmd, no hook "
        f"{best['e_none'] * us:.1f} us/cmd, empty trap {best['e_trap'] * us:.1f} us/cmd -> "
        f"ratio hook/none = {best['e_hook'] / best['e_none']:.3f} (target <= 1.03), "
        f"added {added:.1f} us/cmd (target <= 25 us)"
    )
    print(
        f"2b. fork excluded (the trap's work per verified external command): hook "
        f"{best['k_hook'] * us:.2f} us/cmd, empty trap {best['k_trap'] * us:.2f} us/cmd -> "
        f"added {(best['k_hook'] - best['k_trap']) * us:.2f} us/cmd over the empty trap"
    )
    if len(cpu) == 4:
        print(
            f"CPU time (perf task-clock), same bodies: 1. hook {cpu['b_hook'] * us:.2f} vs "
            f"empty trap {cpu['b_trap'] * us:.2f} us/cmd -> {cpu['b_hook'] / cpu['b_trap']:.2f}x; "
            f"2b. hook {cpu['k_hook'] * us:.2f} vs empty trap {cpu['k_trap'] * us:.2f} us/cmd "
            f"-> added {(cpu['k_hook'] - cpu['k_trap']) * us:.2f} us/cmd"
        )
    print(
        f"3. shell start: with hook {s['s_hook'] * 1e3:.2f} ms, without {s['s_none'] * 1e3:.2f} "
        f"ms -> +{(s['s_hook'] - s['s_none']) * 1e3:.2f} ms (target <= +5 ms)"
    )
    print(
        f"4. first sighting of a new 10 MB executable: +{min(first) * 1e3:.1f} ms "
        f"(best of 5; median {sorted(first)[2] * 1e3:.1f} ms; target <= 30 ms)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
