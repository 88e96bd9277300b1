"""Benchmark the bash hook: prints ratios measured side by side in one run.

    /tmp/venv-bash/bin/python benchmarks/bench_bash.py [--rounds N] [--compare OLD.bash]

1. 2,000 builtin-only commands: hook vs an empty DEBUG trap (`trap ':' DEBUG`)   goal <= 3x
2. 2,000 external commands already verified: hook vs no hook                       goal <= 1.03
   (also the time added per command)                                               goal <= 25 us
3. shell start (`bash -c :` with BASH_ENV): hook sourced vs an empty BASH_ENV      goal <= +5 ms
4. first sighting of a new 10 MB binary, through the hook (one `guard _query`)     goal <= 30 ms

Loops 1 and 2 are measured as CPU time (user + system, children included, from wait4) of a
script with N copies of the command minus the same script with none, so they count the
per-command cost only (hook loading and the first, verifying run are in both). CPU time, not
wall time, keeps the figures meaningful on a busy machine. Each variant runs `--rounds` times,
interleaved; the median is reported (the minimum in brackets: the machine's noise only adds).
`--compare OLD.bash` also runs another version of shell/guard.bash (e.g. from `git show
HEAD:shell/guard.bash`) as "old" in the same interleaved rounds, for before/after figures.
Everything happens in a temporary HOME/XDG sandbox; the user's own files are not touched.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

import _sandbox  # benchmarks/_sandbox.py (this directory is on sys.path when run)

N = 2000
SYS = "/usr/bin:/bin"


def guard_argv() -> list[str]:
    script = Path(sys.executable).parent / "guard"
    return [str(script)] if script.exists() else [sys.executable, "-m", "guard"]


class Sandbox:
    def __init__(self, root: Path, compare: Optional[Path] = None) -> None:
        self.root = root
        self.bin = root / "bin"
        self.bin.mkdir()
        self.env = _sandbox.sandbox_env(root, f"{self.bin}:{SYS}", drop=("BASH_ENV",))
        hook = subprocess.run(
            [*guard_argv(), "hook", "bash"], env=self.env, capture_output=True, check=True
        ).stdout
        self.hook = root / "hook.bash"
        self.hook.write_bytes(hook)
        self.empty = root / "empty.bash"
        self.empty.write_text("")
        self.with_hook = root / "with_hook.bash"
        self.with_hook.write_text(f"source {self.hook}\n")
        self.old: Optional[Path] = None
        if compare is not None:  # same first line (__guard_bin=...), the other file's body
            self.old = root / "old_hook.bash"
            self.old.write_bytes(hook.split(b"\n", 1)[0] + b"\n" + compare.read_bytes())

    def guard(self, *args: str) -> None:
        subprocess.run([*guard_argv(), *args], env=self.env, capture_output=True, check=True)


def loop_script(root: Path, name: str, prelude: str, line: str, n: int = N) -> Path:
    """A script: prelude, one warm-up run of `line`, then n copies of it."""
    p = root / f"{name}_{n}.sh"
    p.write_text("\n".join([prelude, line, *([line] * n), ""]))
    return p


FAULTS: dict[str, list[float]] = {}


def cpu_us(script: Path, env: dict, faults_key: str = "") -> float:
    """CPU time (user + system) of bash running the script, its children included. CPU time
    rather than wall time: the figure stays meaningful on a busy machine. Minor page faults
    (a count, not a time: the same on a busy machine) are kept in FAULTS[faults_key]."""
    pid = os.posix_spawn("/bin/bash", ["bash", str(script)], env)
    _, status, ru = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{script.name} failed with {os.waitstatus_to_exitcode(status)}")
    if faults_key:
        FAULTS.setdefault(faults_key, []).append(ru.ru_minflt)
    return (ru.ru_utime + ru.ru_stime) * 1e6


def timed_us(script: Path, env: dict) -> int:
    """Wall time reported by the script itself ($EPOCHREALTIME around the part measured)."""
    r = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True)
    return int(r.stderr.strip().splitlines()[-1])


class Stat:
    """Median and minimum of a variant's samples."""

    def __init__(self, xs: list[float]) -> None:
        self.med = statistics.median(xs)
        self.min = min(xs)


def best_of(rounds: int, variants: dict[str, tuple[Path, Path]], env: dict) -> dict[str, Stat]:
    """Per variant, over rounds: cpu(n lines) - cpu(0 lines), i.e. the loop alone."""
    xs: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(rounds):
        for k, (full, empty) in variants.items():
            xs[k].append(cpu_us(full, env, f"{full}") - cpu_us(empty, env, f"{empty}"))
    return {k: Stat(v) for k, v in xs.items()}


def faults_per_cmd(variants: dict[str, tuple[Path, Path]]) -> dict[str, float]:
    """Median minor page faults per command (n lines minus 0 lines, children included)."""
    return {
        k: (statistics.median(FAULTS[str(full)]) - statistics.median(FAULTS[str(empty)])) / N
        for k, (full, empty) in variants.items()
    }


def pair(root: Path, name: str, prelude: str, line: str) -> tuple[Path, Path]:
    return loop_script(root, name, prelude, line), loop_script(root, name, prelude, line, 0)


SELF = r"""
eval "$(declare -f __guard_trap | sed '1s/.*/__guard_trap_real ()/')"
__guard_trap() {
    __t0=$EPOCHREALTIME; __guard_trap_real "$@"; __r=$?; __t1=$EPOCHREALTIME
    ((__tt += ${__t1/./} - ${__t0/./}, __nn++)); return $__r
}
"""
EMPTY_SELF = r"""
__guard_trap() {
    __t0=$EPOCHREALTIME; : "$@"; __r=$?; __t1=$EPOCHREALTIME
    ((__tt += ${__t1/./} - ${__t0/./}, __nn++)); return $__r
}
"""


def self_time_ns(rounds: int, sb: Sandbox, hooks: dict[str, Path]) -> dict[str, float]:
    """Wall time spent inside the trap per verified external command, measured in bash with
    $EPOCHREALTIME around the trap function, minus the same wrapper around an empty body;
    median over rounds, interleaved."""
    lines = "\n".join(["true_ext x"] * N)
    scripts = {}
    for name, hook in [*hooks.items(), ("wrapper", sb.hook)]:
        p = sb.root / f"self_{name}.sh"
        body = EMPTY_SELF if name == "wrapper" else SELF
        p.write_text(
            f"source {hook}\ntrue_ext x\ntrue_ext x\n{body}\n{lines}\n"
            'trap - DEBUG; echo "$(( __tt * 1000 / __nn ))" >&2\n'
        )
        scripts[name] = p
    xs: dict[str, list[int]] = {k: [] for k in scripts}
    for _ in range(rounds):
        for k, p in scripts.items():
            xs[k].append(timed_us(p, sb.env))
    wrap = statistics.median(xs["wrapper"])
    return {k: statistics.median(v) - wrap for k, v in xs.items() if k != "wrapper"} | {
        "wrapper": wrap
    }


def start_ms(rounds: int, sb: Sandbox) -> tuple[float, float]:
    def once(bash_env: Path) -> float:
        env = dict(sb.env, BASH_ENV=str(bash_env))
        t = time.perf_counter()
        subprocess.run(["bash", "-c", ":"], env=env, check=True)
        return (time.perf_counter() - t) * 1000

    a = b = float("inf")
    for _ in range(rounds * 5):
        a = min(a, once(sb.empty))
        b = min(b, once(sb.with_hook))
    return a, b


def first_sighting_ms(rounds: int, sb: Sandbox) -> tuple[float, float]:
    """A new 10 MB binary, pinned but never seen by this shell nor by guard's verify cache:
    the hook asks guard once (which hashes 10 MB). Compared with the same run without hook."""
    best_hook = best_plain = float("inf")
    for i in range(rounds):
        big = sb.bin / f"big{i}"
        shutil.copyfile("/usr/bin/true", big)
        with open(big, "ab") as f:
            f.write(os.urandom(10 * 1024 * 1024))
        big.chmod(0o755)
        sb.guard("trust", str(big))
        # New content with the same pin would be "modified"; instead make guard's verify
        # cache cold by giving the file a new mtime (same bytes: it must rehash to know).
        os.utime(big, (time.time() + 1 + i, time.time() + 1 + i))
        script = sb.root / "first.sh"
        script.write_text(
            f"t0=$EPOCHREALTIME\nbig{i}\nt1=$EPOCHREALTIME\n"
            'echo "$(( ${t1/./} - ${t0/./} ))" >&2\n'
        )
        best_hook = min(best_hook, timed_us(script, dict(sb.env, BASH_ENV=str(sb.with_hook))))
        best_plain = min(best_plain, timed_us(script, sb.env))
    return best_hook / 1000, best_plain / 1000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--compare", type=Path, help="another guard.bash to run side by side")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="guard-bench-bash-") as tmp:
        sb = Sandbox(Path(tmp), a.compare)
        ext = sb.bin / "true_ext"
        shutil.copyfile("/usr/bin/true", ext)
        ext.chmod(0o755)
        sb.guard("trust", str(ext))
        root = sb.root
        hooks = {"guard": sb.hook}
        if sb.old is not None:
            hooks["old"] = sb.old

        bv = {
            "none": pair(root, "b_none", ":", ": x"),
            "empty_trap": pair(root, "b_empty", "trap ':' DEBUG", ": x"),
        }
        ev = {"none": pair(root, "e_none", ":", "true_ext x")}
        for k, h in hooks.items():
            bv[k] = pair(root, f"b_{k}", f"source {h}", ": x")
            ev[k] = pair(root, f"e_{k}", f"source {h}", "true_ext x")
        b = best_of(a.rounds, bv, sb.env)
        e = best_of(a.rounds, ev, sb.env)
        t = self_time_ns(a.rounds, sb, hooks)
        s_plain, s_hook = start_ms(a.rounds, sb)
        f_hook, f_plain = first_sighting_ms(min(a.rounds, 3), sb)

    version = subprocess.run(
        ["bash", "-c", "echo $BASH_VERSION"], capture_output=True, text=True
    ).stdout.strip()
    print(
        f"bash {version}, {os.cpu_count()} CPUs, {a.rounds} interleaved rounds, N={N}; median [min]"
    )
    print(
        f"1. builtins (CPU): no trap {b['none'].med / 1000:.1f} ms, empty DEBUG trap "
        f"{b['empty_trap'].med / 1000:.1f} ms"
    )
    for k in hooks:
        print(
            f"   {k}: {b[k].med / 1000:.1f} ms -> {k}/empty-trap = "
            f"{b[k].med / b['empty_trap'].med:.2f}x [{b[k].min / b['empty_trap'].min:.2f}x]"
            " (goal <= 3)"
        )
    ef = faults_per_cmd(ev)
    print(
        f"2. verified externals (CPU): no hook {e['none'].med / 1000:.1f} ms, "
        f"{ef['none']:.1f} page faults per command"
    )
    for k in hooks:
        added = (e[k].med - e["none"].med) / N
        added_min = (e[k].min - e["none"].min) / N
        print(
            f"   {k}: {e[k].med / 1000:.1f} ms -> ratio {e[k].med / e['none'].med:.3f} "
            f"[{e[k].min / e['none'].min:.3f}] (goal <= 1.03), {added:.1f} [{added_min:.1f}] "
            f"us added per command (goal <= 25); +{ef[k] - ef['none']:.1f} page faults"
        )
    print(
        "2b. time inside the trap per verified external (wall, in bash; wrapper overhead "
        f"{t['wrapper'] / 1000:.1f} us removed): "
        + ", ".join(f"{k} {t[k] / 1000:.1f} us" for k in hooks)
    )
    print(
        f"3. start (bash -c :): without {s_plain:.2f} ms, with hook {s_hook:.2f} ms "
        f"-> +{s_hook - s_plain:.2f} ms (goal <= +5)"
    )
    print(
        f"4. first sighting of a pinned 10 MB binary (cold verify cache): {f_hook:.1f} ms with "
        f"hook vs {f_plain:.1f} ms without -> +{f_hook - f_plain:.1f} ms (goal <= 30)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
