"""Benchmark the fish hook; prints ratios measured side by side in one run.

    .venv-test/bin/python benchmarks/bench_fish.py [N] [--enter-only] [--old FILE]

Everything runs in a throw-away HOME/XDG sandbox. Interactive figures type N lines into a
real interactive fish on a pty (Enter really pressed, so the binding runs) with and without
the hook; start-up compares `fish -c true` with and without the hook in conf.d.

The Enter check is also measured in-process: the CPU time fish spends in `__guard_check_text`
(what the Enter binding runs) per line, for a few typical lines, with every word already
cached. `--old FILE` (e.g. `git show HEAD:shell/guard.fish > /tmp/guard.fish.old`) measures
that hook file side by side, interleaved; `--enter-only` skips the other figures.
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import _sandbox  # noqa: E402  # benchmarks/_sandbox.py (this directory is on sys.path when run)

from tests.shell.ptyshell import PtyShell  # noqa: E402

FISH = shutil.which("fish") or sys.exit("fish is not installed")
GUARD = [str(Path(sys.executable).parent / "guard")]


def sandbox(root: Path, hooked: bool) -> dict[str, str]:
    sub = root / ("hooked" if hooked else "plain")
    env = _sandbox.sandbox_env(sub, "/usr/bin:/bin")
    env.update(TERM="dumb", fish_greeting="")
    confd = Path(env["XDG_CONFIG_HOME"]) / "fish" / "conf.d"
    confd.mkdir(parents=True, exist_ok=True)
    if hooked:
        hook = subprocess.run(
            [*GUARD, "hook", "--path", "fish"], env=env, capture_output=True, text=True, check=True
        ).stdout.strip()
        (confd / "guard.fish").write_text(f"source '{hook}'\n")
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


ENTER_LINES = (
    ("simple", "ls -la /tmp"),
    (
        "pipeline+wrappers",
        "sudo env X=1 grep -q foo /etc/hostname && cat /etc/hostname | sort | uniq -c; echo done",
    ),
    (
        "wrappers, no builtin",
        "nice env X=1 grep -q foo /etc/hostname && cat /etc/hostname | sort | uniq -c",
    ),
    (
        "plain 200 chars",
        "git log --oneline -n 5 | head -3 && find /usr/share -name x.txt -type f | grep -v"
        " pattern | sort -u | head -20 | wc -l; cat /etc/hostname > /tmp/out.txt; tar czf"
        " /tmp/x.tgz /etc/hostname && ls -la /tmp; date",
    ),
    (
        "quoted 200 chars",
        "git log --oneline -n 5 | head -3 && find /usr/share -name '*.txt' -type f | xargs grep"
        ' -l pattern | sort -u | head -20; echo "result: $HOME" > /tmp/out.txt; tar czf'
        " /tmp/x.tgz /etc/hostname && ls -la /tmp",
    ),
)


def fish_quote(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def enter_cpu(env: dict[str, str], hook: Path, line: str, n: int) -> float:
    """CPU seconds of a fish that sources HOOK, checks LINE once (warming the cache: guard
    runs there) and then N more times; the difference of two such runs gives the per-line
    cost without fish start, the warm-up query or the clock. The same line is repeated, so a
    hook that remembers lines checked whole (all of these but the two with `echo`, a builtin)
    answers from that after the first check."""
    script = (
        f"source {fish_quote(str(hook))}; set -l l {fish_quote(line)}; "
        f"__guard_check_text $l; or echo NOT-ALLOWED; "
        f"for i in (seq {n}); __guard_check_text $l; end"
    )
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run([FISH, "-c", script], env=env, capture_output=True, text=True)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0 or r.stdout.strip() or r.stderr.strip():
        sys.exit(f"enter check failed for {line!r}: {r.stdout}{r.stderr}")
    return (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def enter_check(root: Path, old: Path | None, n: int = 300, rounds: int = 5) -> None:
    """The Enter check in-process, per line, median of ROUNDS interleaved runs."""
    env = sandbox(root / "enter", False)
    head = subprocess.run(
        [*GUARD, "hook", "fish"], env=env, capture_output=True, text=True, check=True
    ).stdout.split("\n", 1)[0]
    hooks = {"new": root / "enter" / "new.fish"}
    hooks["new"].write_text(
        head + "\n" + (Path(__file__).parents[1] / "shell" / "guard.fish").read_text()
    )
    if old is not None:
        hooks["old"] = root / "enter" / "old.fish"
        hooks["old"].write_text(head + "\n" + old.read_text())
    time.sleep(1.1)  # stamps must fall in a later second than the fresh sandbox dirs
    for label, line in ENTER_LINES:
        cost: dict[str, list[float]] = {k: [] for k in hooks}
        for _ in range(rounds):
            for k, hook in hooks.items():
                many, none = enter_cpu(env, hook, line, n), enter_cpu(env, hook, line, 0)
                cost[k].append((many - none) / n * 1e6)
        med = {k: statistics.median(v) for k, v in cost.items()}
        out = f"Enter check, {label:18} ({len(line):3} chars): this hook {med['new']:6.0f} µs CPU"
        if "old" in med:
            out += f", old {med['old']:6.0f} µs, old/new {med['old'] / med['new']:.2f}×"
        print(out)


def main() -> None:
    args = sys.argv[1:]
    if any(a in ("-h", "--help") for a in args):
        print(__doc__)
        return
    old = None
    if "--old" in args:
        i = args.index("--old")
        old = Path(args[i + 1])
        del args[i : i + 2]
    enter_only = "--enter-only" in args
    args = [a for a in args if a != "--enter-only"]
    if args and not args[0].isdigit():
        raise SystemExit(
            f"usage: bench_fish.py [N] [--enter-only] [--old FILE]; not a number: {args[0]!r}"
        )
    n = int(args[0]) if args else 2000
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        enter_check(root, old)
        if enter_only:
            return
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
        subprocess.run([*GUARD, "trust", str(big / "bigtool")], env=env, capture_output=True)
        from guard.hookfiles import guard_command  # the hook's exact command (fish renders it)

        t = time.perf_counter()
        subprocess.run(
            [*guard_command(), "_query", "--shell", "fish", "--want-mode", "--", "bigtool"],
            env=env,
            capture_output=True,
            check=True,
        )
        print(
            f"first sighting of a pinned 10 MB binary (the hook's guard _query): "
            f"{(time.perf_counter() - t) * 1e3:.0f} ms"
        )


if __name__ == "__main__":
    main()
