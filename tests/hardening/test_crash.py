"""kill -9 at random points of allowlist writes: the allowlist always parses and holds either
the old or the new content; the backup always holds the one before.

Two loops:
- 200 real `guard trust` / `guard untrust` processes, each SIGKILLed after a random delay
  spread over its whole run (start-up, hashing, locking, parsing, writing, exit);
- 300 kills of a forked writer that does nothing but rewrite the allowlist (generation after
  generation) through ``update_allowlist``, so nearly every kill lands inside a write.
After each kill the file is read with guard's strictest reader (``guard.recover.read_good``:
owner/mode, complete, valid YAML, valid entries).
"""

from __future__ import annotations

import os
import random
import signal
import statistics
import subprocess
import threading
import time
from pathlib import Path

import pytest

from guard.allowlist import Pin, update_allowlist
from guard.paths import locations
from guard.recover import read_good
from tests.conftest import REPO, GuardEnv, guard_exe
from tests.core import run_guard, script, seed_os_index

CLI_KILLS = 200
LOOP_KILLS = 300


def pins_of(path: Path) -> frozenset[str]:
    return frozenset(p.path for p in read_good(str(path))[1])


def leftovers(ge: GuardEnv) -> set[str]:
    return {n for n in os.listdir(ge.guard_config_dir) if n.endswith((".tmp", ".tmp.bak"))}


def _lane(ge: GuardEnv, seed: int, kills: int, outcomes: dict[str, int]) -> None:
    """One sandbox, ``kills`` SIGKILLed trust/untrust processes, invariants after each."""
    seed_os_index(ge)
    d = ge.bindir("bin")
    tools = [str(script(d, f"t{i:02d}", f"#!/bin/sh\necho {i}\n".encode())) for i in range(40)]
    env = ge.env(PYTHONPATH=str(REPO))
    assert run_guard(ge, "trust", *tools[:20]).returncode == 0
    bak = Path(str(ge.allowlist) + ".bak")

    # How long one run takes here, to spread the kills over a whole run. Machines (and their
    # load) differ, so the window adapts: shorter after a run that finished before its kill,
    # longer after one that was killed — about 1 run in 10 then finishes.
    times = []
    for t in tools[:3]:
        s = time.monotonic()
        assert run_guard(ge, "trust", t).returncode == 0
        times.append(time.monotonic() - s)
    span = statistics.median(times)

    rnd = random.Random(seed)
    state = pins_of(ge.allowlist)
    left = leftovers(ge)
    for i in range(kills):
        t = rnd.choice(tools)
        if t in state and rnd.random() < 0.5:
            argv, new = ["untrust", t], state - {t}
        else:
            argv, new = ["trust", t], state | {t}
        p = subprocess.Popen(
            [*guard_exe(), *argv],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        time.sleep(rnd.uniform(0.0, 1.0) * span)
        p.send_signal(signal.SIGKILL)
        _, err = p.communicate(timeout=60)
        now = pins_of(ge.allowlist)  # raises (fails the test) if it does not parse
        assert now in (state, new), (i, argv, sorted(now ^ state))
        if p.returncode == 0:
            assert now == new, err
            outcomes["finished"] += 1
            span *= 0.9
        else:
            span *= 1.011
            assert p.returncode == -signal.SIGKILL, err
            outcomes["killed, new content" if now == new != state else "killed, old content"] += 1
        if now != state:
            assert pins_of(bak) == state  # the last good copy is the previous content
        # A temp file that was not there before: this kill landed inside the write itself.
        outcomes["killed mid-write"] += bool(leftovers(ge) - left)
        left = leftovers(ge)
        assert len(left) <= 2  # the next writer cleans up what a killed writer left
        state = now

    # The survivor is a working allowlist: `guard recover` finds nothing to do, checks agree.
    outcomes["window_ms"] = max(outcomes.get("window_ms", 0), int(span * 1000))
    r = run_guard(ge, "recover")
    assert r.returncode == 0 and b"nothing to recover" in r.stderr
    for t in tools[:5]:
        assert run_guard(ge, "check", t).returncode == (0 if t in state else 1)


def test_kill9_real_trust_processes_200_times(guard_env: GuardEnv) -> None:
    """Two sandboxes side by side (two cores), 100 kills each."""
    root = guard_env.root / "lane2"
    other = GuardEnv(root, root / "home", root / "c", root / "d", root / "s", root / "k")
    for x in (other.home, other.config, other.data, other.state, other.cache):
        x.mkdir(mode=0o700, parents=True)
    outcomes = dict.fromkeys(
        ("killed, old content", "killed, new content", "finished", "killed mid-write"), 0
    )
    errors: list[BaseException] = []

    def run(ge: GuardEnv, seed: int) -> None:
        try:
            _lane(ge, seed, CLI_KILLS // 2, outcomes)
        except BaseException as e:  # noqa: BLE001 - re-raised in the test's thread
            errors.append(e)

    lanes = [threading.Thread(target=run, args=(ge, n)) for n, ge in ((6, guard_env), (7, other))]
    for t in lanes:
        t.start()
    for t in lanes:
        t.join()
    if errors:
        raise errors[0]
    print(
        f"\ncrash (CLI): {CLI_KILLS} `guard trust/untrust` processes SIGKILLed at a random "
        f"point of their run (kill window {outcomes.pop('window_ms')} ms): {outcomes}; every "
        f"time the allowlist parsed and held the old or the new content"
    )


def _gen_pins(g: int) -> dict[str, Pin]:
    """Generation g: a marker pin, a varying set, and padding so a write takes a while."""
    pad = "x" * 300
    pins = {f"/gen/{g}": Pin(f"/gen/{g}", f"/gen/{g}", f"{g:064x}", note=pad)}
    for k in range(g % 7):
        pins[f"/set/{k}"] = Pin(f"/set/{k}", f"/set/{k}", f"{k + 1:064x}", note=pad)
    for k in range(40):
        pins[f"/base/{k}"] = Pin(f"/base/{k}", f"/base/{k}", f"{k:064x}", note=pad)
    return pins


def _generation(pins: frozenset[str]) -> int:
    gens = [int(p.split("/")[2]) for p in pins if p.startswith("/gen/")]
    assert len(gens) == 1, sorted(pins)
    g = gens[0]
    assert pins == frozenset(_gen_pins(g)), f"generation {g} is torn"
    return g


def _writer_child() -> None:
    """Rewrite the allowlist forever: generation g -> g + 1."""
    loc = locations()
    try:
        while True:
            g = _generation(pins_of(Path(loc.allowlist_file)))
            old, new = _gen_pins(g), _gen_pins(g + 1)
            update_allowlist(loc, add=list(new.values()), remove=[p for p in old if p not in new])
    finally:
        os._exit(1)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_kill9_inside_the_write_loop(guard_env: GuardEnv) -> None:
    ge = guard_env
    loc = locations()
    update_allowlist(loc, add=list(_gen_pins(0).values()), remove=[])
    path, bak = ge.allowlist, Path(str(ge.allowlist) + ".bak")
    rnd = random.Random(66)
    last = 0
    writes = 0
    mid_write = 0
    left = leftovers(ge)
    for _ in range(LOOP_KILLS):
        pid = os.fork()
        if pid == 0:
            _writer_child()
        time.sleep(rnd.uniform(0.0, 0.06))
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        g = _generation(pins_of(path))  # parses, and is one whole generation
        assert g >= last, "went back to an older generation"
        if g > 0:
            assert _generation(pins_of(bak)) in (g - 1, g)  # the copy before, or the same
        writes += g - last
        mid_write += bool(leftovers(ge) - left)
        left = leftovers(ge)
        assert len(left) <= 2
        last = g
    assert writes > LOOP_KILLS / 3  # the writer really wrote (typically 2 writes per 3 kills)
    print(
        f"\ncrash (write loop): {LOOP_KILLS} SIGKILLs of a process rewriting the allowlist, "
        f"{writes} completed writes in between, {mid_write} kills left a half-written temp "
        f"file; every time the allowlist was one whole generation and the backup the one "
        f"before"
    )
