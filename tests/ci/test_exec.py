"""`guard exec`: allowed commands run with their args and exit status, denied ones never run,
and a file swapped between the check and the exec never runs (the race tests)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, GuardEnv
from tests.core import SYSTEM_PATH, raw_controls, run_guard, script, seed_os_index, write_allowlist

needs_dpkg = pytest.mark.skipif(
    not os.path.isfile("/var/lib/dpkg/status"),
    reason="needs a Debian-family system (OS-package trust of /bin/sh, /usr/bin/ls)",
)
ECHO = shutil.which("echo", path=SYSTEM_PATH) or "/bin/echo"


@pytest.fixture
def ge(guard_env: GuardEnv) -> GuardEnv:
    seed_os_index(guard_env)
    return guard_env


def trust(ge: GuardEnv, *targets: str | Path) -> None:
    r = run_guard(ge, "trust", *map(str, targets))
    assert r.returncode == 0, r.stderr


def exec_(ge: GuardEnv, *args: str, path: str, **extra: str) -> subprocess.CompletedProcess[bytes]:
    return run_guard(ge, "exec", *args, path=path, **extra)


@needs_dpkg
def test_allowed_script_runs_with_args_and_exit_status(ge: GuardEnv) -> None:
    b = ge.bindir("bin")
    tool = script(b, "ci-tool", b'#!/bin/sh\nprintf "[%s]\\n" "$@"\nexit 42\n')
    trust(ge, tool)
    r = exec_(ge, "ci-tool", "a b", "--flag", "", path=f"{b}:{SYSTEM_PATH}")
    assert r.returncode == 42, r.stderr
    assert r.stdout == b"[a b]\n[--flag]\n[]\n"
    assert r.stderr == b""


@needs_dpkg
def test_allowed_os_package_binary_and_double_dash(ge: GuardEnv) -> None:
    r = exec_(ge, "--", "sh", "-c", 'echo "$0|$1"; exit 3', "zero", "one", path=SYSTEM_PATH)
    assert r.returncode == 3, r.stderr
    assert r.stdout == b"zero|one\n"


@needs_dpkg
def test_denied_shadow_never_runs(ge: GuardEnv) -> None:
    evil = ge.bindir("venv/bin")
    marker = ge.root / "shadow-ran"
    planted = script(evil, "ls", f"#!/bin/sh\ntouch {marker}\n".encode())
    r = exec_(ge, "ls", "/", path=f"{evil}:{SYSTEM_PATH}")
    assert r.returncode == 126
    err = r.stderr.decode()
    assert err.count("\n") == 1, err  # one line
    assert "(shadowing)" in err and str(planted) in err and "/usr/bin/ls" in err
    assert f"guard trust {planted}" in err
    assert r.stdout == b""
    assert not marker.exists()
    events = (ge.state / "guard" / "events.jsonl").read_text().splitlines()
    last = json.loads(events[-1])
    assert (last["source"], last["reason"], last["path"]) == ("exec", "shadowing", str(planted))


def test_denied_untrusted_never_runs_even_in_monitor_mode(ge: GuardEnv) -> None:
    b = ge.bindir("bin")
    marker = ge.root / "ran"
    script(b, "ci-new", f"#!/bin/sh\ntouch {marker}\n".encode())
    r = exec_(ge, "ci-new", path=f"{b}:{SYSTEM_PATH}", GUARD_MODE="monitor")
    assert r.returncode == 126
    assert b"(untrusted)" in r.stderr
    assert not marker.exists()


def test_not_found_is_127(ge: GuardEnv) -> None:
    r = exec_(ge, "no-such-tool-xyz", path=SYSTEM_PATH)
    assert r.returncode == 127
    assert b"no-such-tool-xyz" in r.stderr and b"not found" in r.stderr


def test_no_command_is_125(ge: GuardEnv) -> None:
    r = exec_(ge, "--", path=SYSTEM_PATH)
    assert r.returncode == 125
    assert b"no command given" in r.stderr


@needs_dpkg
def test_corrupt_allowlist_runs_nothing(ge: GuardEnv) -> None:
    b = ge.bindir("bin")
    marker = ge.root / "ran"
    script(b, "ci-tool", f"#!/bin/sh\ntouch {marker}\n".encode())
    write_allowlist(ge, "entries: [\n")
    r = exec_(ge, "ci-tool", path=f"{b}:{SYSTEM_PATH}")
    assert r.returncode == 125
    assert b"allowlist.yaml" in r.stderr and b"nothing was run" in r.stderr
    assert b"Traceback" not in r.stderr
    assert not marker.exists()


@needs_dpkg
def test_modified_pinned_file_never_runs(ge: GuardEnv) -> None:
    b = ge.bindir("bin")
    marker = ge.root / "ran"
    tool = script(b, "ci-tool", b"#!/bin/sh\necho fine\n")
    trust(ge, tool)
    tool.write_bytes(f"#!/bin/sh\ntouch {marker}\n".encode())
    r = exec_(ge, "ci-tool", path=f"{b}:{SYSTEM_PATH}")
    assert r.returncode == 126
    assert b"(modified)" in r.stderr
    assert not marker.exists()


@needs_dpkg
def test_untrusted_env_interpreter_never_runs(ge: GuardEnv) -> None:
    """A trusted script whose `#!/usr/bin/env NAME` finds a planted NAME: neither runs."""
    b = ge.bindir("bin")
    evil = ge.bindir("evil")
    marker = ge.root / "interp-ran"
    tool = script(b, "ci-tool", b"#!/usr/bin/env ci-interp\nprint('x')\n")
    script(evil, "ci-interp", f"#!/bin/sh\ntouch {marker}\n".encode())
    trust(ge, tool)
    r = exec_(ge, "ci-tool", path=f"{evil}:{b}:{SYSTEM_PATH}")
    assert r.returncode == 126
    assert b"(interpreter)" in r.stderr and b"ci-interp" in r.stderr
    assert not marker.exists()


@needs_dpkg
def test_env_shebang_runs_the_verified_interpreter_on_the_verified_script(ge: GuardEnv) -> None:
    b = ge.bindir("bin")
    interp = b / "ci-sh"
    shutil.copy2("/bin/sh", interp)
    tool = script(b, "ci-tool", b'#!/usr/bin/env ci-sh\necho "script=$0 args=$*"\n')
    trust(ge, tool, interp)
    r = exec_(ge, "ci-tool", "x", "y", path=f"{b}:{SYSTEM_PATH}")
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert out.startswith("script=/dev/fd/") and out.endswith(" args=x y\n"), out


@needs_dpkg
def test_hostile_name_is_escaped(ge: GuardEnv) -> None:
    b = ge.bindir("bin")
    name = "ci\x1b[31mred\nx"
    script(b, name, b"#!/bin/sh\necho hi\n")
    r = exec_(ge, name, path=f"{b}:{SYSTEM_PATH}")
    assert r.returncode == 126
    assert raw_controls(r.stderr) == []
    assert b"\\x1b[31mred\\nx" in r.stderr


@needs_dpkg
def test_non_executable_format_is_refused_not_run_by_sh(ge: GuardEnv) -> None:
    b = ge.bindir("bin")
    marker = ge.root / "ran"
    tool = script(b, "ci-tool", f"touch {marker}\n".encode())  # no #! line
    trust(ge, tool)
    r = exec_(ge, "ci-tool", path=f"{b}:{SYSTEM_PATH}")
    assert r.returncode == 126
    assert b"not an executable format" in r.stderr
    assert not marker.exists()


# --- the race: a file swapped between the check and the exec ------------------------------

RUNNER = """
import os, sys
import guard.execute as e

how, victim, replacement = sys.argv[1:4]

def swap(plan):
    if how == "rename":  # a new file takes the name: the usual way installers replace files
        os.replace(replacement, victim)
    else:  # rewrite the same inode in place
        with open(replacement, "rb") as f:
            data = f.read()
        with open(victim, "r+b") as f:
            f.write(data)
            f.truncate()
    open(os.environ["SWAPPED_MARK"], "w").close()

e._before_exec = swap
if os.environ.get("NO_FD_EXEC"):
    e.FD_EXEC = False
sys.exit(e.main(sys.argv[4:]))
"""


def run_race(
    ge: GuardEnv, how: str, victim: Path, replacement: Path, argv: list[str], path: str, **env: str
) -> subprocess.CompletedProcess[bytes]:
    swapped = ge.root / "swapped"
    e = ge.env(PYTHONPATH=str(REPO), PATH=path, SWAPPED_MARK=str(swapped), **env)
    r = subprocess.run(
        [sys.executable, "-c", RUNNER, how, str(victim), str(replacement), *argv],
        env=e,
        capture_output=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert swapped.exists(), f"the hook did not run: {r.stderr!r}"  # the test really raced
    return r


def trusted_echo(ge: GuardEnv) -> Path:
    """A pinned copy of the system echo, bin/ci-echo: the victim of the race tests."""
    tool = ge.bindir("bin") / "ci-echo"
    shutil.copy2(ECHO, tool)
    trust(ge, tool)
    return tool


def evil_script(ge: GuardEnv, marker: Path) -> Path:
    return script(
        ge.bindir("attacker"), "payload", f"#!/bin/sh\ntouch {marker}\necho EVIL\n".encode()
    )


@needs_dpkg
@pytest.mark.parametrize("how", ["rename", "inplace"])
def test_race_binary_swapped_after_check(ge: GuardEnv, how: str) -> None:
    tool = trusted_echo(ge)
    b = tool.parent
    marker = ge.root / "evil-ran"
    r = run_race(
        ge, how, tool, evil_script(ge, marker), ["ci-echo", "VERIFIED"], f"{b}:{SYSTEM_PATH}"
    )
    assert not marker.exists() and b"EVIL" not in r.stdout
    if how == "rename":  # the descriptor still holds the verified file: it is what runs
        assert r.returncode == 0, r.stderr
        assert r.stdout == b"VERIFIED\n"
    else:  # the verified inode itself changed: nothing runs
        assert r.returncode == 126
        assert b"modified after it was verified" in r.stderr
        assert r.stdout == b""


@needs_dpkg
@pytest.mark.parametrize("how", ["rename", "inplace"])
def test_race_script_swapped_after_check(ge: GuardEnv, how: str) -> None:
    b = ge.bindir("bin")
    good = ge.root / "good-ran"
    tool = script(b, "ci-tool", f'#!/bin/sh\necho "VERIFIED $*" > {good}\n'.encode())
    trust(ge, tool)
    marker = ge.root / "evil-ran"
    r = run_race(ge, how, tool, evil_script(ge, marker), ["ci-tool", "a"], f"{b}:{SYSTEM_PATH}")
    assert not marker.exists() and b"EVIL" not in r.stdout
    if how == "rename":
        assert r.returncode == 0, r.stderr
        assert good.read_text() == "VERIFIED a\n"
    else:
        assert r.returncode == 126
        assert not good.exists()


@needs_dpkg
@pytest.mark.parametrize("via_env", [False, True])
def test_race_interpreter_swapped_after_check(ge: GuardEnv, via_env: bool) -> None:
    """The interpreter is swapped for a payload by rename: the verified one still runs."""
    b = ge.bindir("bin")
    interp = b / "ci-sh"
    shutil.copy2("/bin/sh", interp)
    good = ge.root / "good-ran"
    line = b"#!/usr/bin/env ci-sh" if via_env else b"#!" + str(interp).encode()
    tool = script(b, "ci-tool", line + f'\necho "VERIFIED $*" > {good}\n'.encode())
    trust(ge, tool, interp)
    marker = ge.root / "evil-ran"
    r = run_race(
        ge, "rename", interp, evil_script(ge, marker), ["ci-tool", "z"], f"{b}:{SYSTEM_PATH}"
    )
    assert not marker.exists() and b"EVIL" not in r.stdout
    assert r.returncode == 0, r.stderr
    assert good.read_text() == "VERIFIED z\n"


@needs_dpkg
def test_race_without_fexecve_rehashes_and_refuses(ge: GuardEnv) -> None:
    """The by-path fallback (platforms without fexecve) re-verifies just before the exec."""
    tool = trusted_echo(ge)
    b = tool.parent
    marker = ge.root / "evil-ran"
    r = run_race(
        ge,
        "rename",
        tool,
        evil_script(ge, marker),
        ["ci-echo", "VERIFIED"],
        f"{b}:{SYSTEM_PATH}",
        NO_FD_EXEC="1",
    )
    assert not marker.exists() and r.stdout == b""
    assert r.returncode == 126
    assert b"changed after it was verified" in r.stderr


@needs_dpkg
def test_without_fexecve_an_unchanged_file_still_runs(ge: GuardEnv) -> None:
    tool = trusted_echo(ge)
    b = tool.parent
    same = ge.root / "same"
    shutil.copy2(tool, same)
    r = run_race(ge, "rename", tool, same, ["ci-echo", "OK"], f"{b}:{SYSTEM_PATH}", NO_FD_EXEC="1")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"OK\n"
