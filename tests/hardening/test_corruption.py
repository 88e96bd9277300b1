"""Corrupt, hostile and missing allowlists: a clear error, fail closed, recover from the backup,
never overwrite without a copy. (tests/core/test_allowlist.py covers YAML syntax errors, wrong
types, duplicate keys, unknown versions, unsafe owners/modes and a symlinked allowlist; this
adds truncation, alias bombs, huge files, a missing file beside its backup, recovery, and the
hook failing closed.)"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from guard.allowlist import load_allowlist
from guard.errors import ConfigError
from guard.paths import locations
from tests.conftest import REPO, GuardEnv, guard_exe
from tests.core import SYSTEM_PATH, run_guard, script, seed_os_index, write_allowlist, write_config

SHA = "a" * 64


@pytest.fixture
def ge(guard_env: GuardEnv, monkeypatch: pytest.MonkeyPatch) -> GuardEnv:
    seed_os_index(guard_env)
    monkeypatch.chdir(guard_env.root)
    return guard_env


def bak_of(ge: GuardEnv) -> Path:
    return Path(f"{ge.allowlist}.bak")


def trusted(ge: GuardEnv, n: int) -> list[str]:
    """n pinned tools, written by guard itself in two writes (so a .bak exists)."""
    d = ge.bindir("bin")
    tools = [str(script(d, f"tool{i}", f"#!/bin/sh\necho {i}\n".encode())) for i in range(n)]
    assert run_guard(ge, "trust", *tools[:-1]).returncode == 0
    assert run_guard(ge, "trust", tools[-1]).returncode == 0
    return tools


def one_clear_line(err: bytes) -> str:
    text = err.decode()
    assert "Traceback" not in text and "internal error" not in text, text
    assert text.count("\n") == 1, text
    return text


# -- truncation -------------------------------------------------------------------------------


def test_cut_short_anywhere_is_refused_never_read_as_fewer_pins(ge: GuardEnv) -> None:
    """Every prefix of a guard-written allowlist: an error, or (only the final newline lost)
    every pin. Never a silently shorter allowlist, through either reader."""
    tools = trusted(ge, 4)
    data = ge.allowlist.read_bytes()
    loc = locations()
    full = {p for p in load_allowlist(loc, full=True).pins}
    assert full == set(tools)
    refused = 0
    for n in range(len(data)):
        ge.allowlist.write_bytes(data[:n])
        for how in (True, False) if n % 3 == 0 else (True,):
            try:
                got = set(load_allowlist(loc, full=how).pins)
            except ConfigError as e:
                refused += 1
                assert str(ge.allowlist) in str(e)
                continue
            assert got == full, (n, data[:n][-60:])
    assert refused >= len(data) - 1
    print(
        f"\ntruncation: all {len(data)} prefixes of a {len(data)}-byte allowlist: {refused} "
        f"reads refused (both readers), the one missing only its final newline read in full"
    )
    # As a process: one line naming the file, what is wrong and how to recover.
    for n in (0, 40, len(data) // 2, len(data) - len(b"# end of guard allowlist\n")):
        ge.allowlist.write_bytes(data[:n])
        r = run_guard(ge, "check", tools[0])
        assert r.returncode == 2
        err = one_clear_line(r.stderr)
        assert str(ge.allowlist) in err and ("cut short" in err or "is empty" in err), err
        assert "its last good copy (3 pins, saved " in err and "run `guard recover`" in err


def test_hand_edits_keep_working(ge: GuardEnv) -> None:
    """The end line only has to be there: adding an entry after it is fine; dropping it is
    explained."""
    tools = trusted(ge, 2)
    extra = script(ge.bindir("bin"), "extra")
    text = ge.allowlist.read_text()
    sha = json.loads(run_guard(ge, "check", str(extra), "--json").stdout)["sha256"]
    ge.allowlist.write_text(text + f"- path: {extra}\n  sha256: '{sha}'\n")
    assert run_guard(ge, "check", str(extra)).returncode == 0
    assert run_guard(ge, "check", tools[0]).returncode == 0
    ge.allowlist.write_text(text.replace("# end of guard allowlist\n", ""))
    r = run_guard(ge, "check", tools[0])
    assert r.returncode == 2 and b"make that line the last one again" in r.stderr
    # A hand-written file without guard's header is the user's own format: no end line needed;
    # so is one written by a guard from before the end line (its header lacks "keep the …").
    write_allowlist(ge, "version: 1\nentries: []\n")
    assert run_guard(ge, "check", tools[0]).returncode == 1
    old = "# guard allowlist: change it with `guard trust` / `guard untrust`.\n"
    body = text.split("\n", 1)[1].replace("# end of guard allowlist\n", "")
    write_allowlist(ge, old + body)
    assert run_guard(ge, "check", tools[0]).returncode == 0


def test_zero_bytes_beside_a_backup_is_refused(ge: GuardEnv) -> None:
    tools = trusted(ge, 3)
    ge.allowlist.write_bytes(b"")
    r = run_guard(ge, "check", tools[0])
    assert r.returncode == 2
    assert "is empty but guard never writes an empty allowlist" in one_clear_line(r.stderr)


# -- missing file, recovery -------------------------------------------------------------------


def test_missing_allowlist_beside_its_backup(ge: GuardEnv) -> None:
    tools = trusted(ge, 3)
    good = bak_of(ge).read_bytes()
    ge.allowlist.unlink()
    for args in (("check", tools[0]), ("trust", tools[0]), ("list",)):
        r = run_guard(ge, *args)
        assert r.returncode == 2, args
        err = one_clear_line(r.stderr)
        assert "is missing but its backup" in err and "run `guard recover`" in err
        assert f"to start with an empty allowlist instead, remove {bak_of(ge)}" in err
    assert not ge.allowlist.exists() and bak_of(ge).read_bytes() == good  # trust wrote nothing
    r = run_guard(ge, "recover")
    assert r.returncode == 0, r.stderr
    assert f"guard: {ge.allowlist} was missing".encode() in r.stderr
    assert b"restored 2 pins from" in r.stderr
    assert ge.allowlist.read_bytes() == good == bak_of(ge).read_bytes()
    assert run_guard(ge, "check", tools[0]).returncode == 0
    assert run_guard(ge, "check", tools[2]).returncode == 1  # pinned after that backup
    # Starting over on purpose: remove both.
    ge.allowlist.unlink()
    bak_of(ge).unlink()
    assert run_guard(ge, "check", tools[0]).returncode == 1


def test_recover_keeps_the_bad_file_and_restores_the_backup(ge: GuardEnv) -> None:
    tools = trusted(ge, 4)
    good = bak_of(ge).read_bytes()
    bad = ge.allowlist.read_bytes().replace(b"entries:", b"entries: [", 1)
    ge.allowlist.write_bytes(bad)
    # Block mode fails closed: the hook query itself errors (exit 2), naming the way out.
    r = run_guard(ge, "_query", "--shell", "bash", "--", "ls", path=SYSTEM_PATH)
    assert r.returncode == 2 and r.stdout == b""
    err = one_clear_line(r.stderr)
    assert str(ge.allowlist) in err and "its last good copy (3 pins" in err
    # A write attempt changes nothing, the backup included.
    assert run_guard(ge, "trust", tools[0]).returncode == 2
    assert ge.allowlist.read_bytes() == bad and bak_of(ge).read_bytes() == good

    r = run_guard(ge, "recover")
    assert r.returncode == 0, r.stderr
    lines = r.stderr.decode().splitlines()
    kept = [p for p in ge.guard_config_dir.iterdir() if ".corrupt-" in p.name]
    assert len(kept) == 1 and kept[0].read_bytes() == bad
    assert lines[0].startswith(f"guard: {ge.allowlist} was not usable (")
    assert lines[0].endswith(f"kept it as {kept[0]}")
    assert "restored 3 pins from" in lines[1] and "review with `guard list`" in lines[1]
    assert ge.allowlist.read_bytes() == good and bak_of(ge).read_bytes() == good
    assert oct(ge.allowlist.stat().st_mode & 0o777) == "0o600"
    assert run_guard(ge, "check", tools[0]).returncode == 0

    r = run_guard(ge, "recover")
    assert r.returncode == 0 and b"nothing to recover" in r.stderr and b"(3 pins)" in r.stderr
    # A second corruption on the same second keeps both bad copies.
    ge.allowlist.write_bytes(bad)
    assert run_guard(ge, "recover").returncode == 0
    ge.allowlist.write_bytes(bad + b"\n")
    assert run_guard(ge, "recover").returncode == 0
    assert len([p for p in ge.guard_config_dir.iterdir() if ".corrupt-" in p.name]) == 3


def test_recover_with_nothing_good_changes_nothing(ge: GuardEnv) -> None:
    write_allowlist(ge, "version: 1\nentries: [\n")
    r = run_guard(ge, "recover")
    assert r.returncode == 2
    err = one_clear_line(r.stderr)
    assert "there is no backup" in err and "mv " in err
    bak_of(ge).write_bytes(b"version: 7\n")
    bak_of(ge).chmod(0o600)
    r = run_guard(ge, "recover")
    assert r.returncode == 2
    assert "the backup is not usable either" in one_clear_line(r.stderr)
    assert ge.allowlist.read_bytes() == b"version: 1\nentries: [\n"
    assert bak_of(ge).read_bytes() == b"version: 7\n"
    assert not [p for p in ge.guard_config_dir.iterdir() if ".corrupt-" in p.name]
    # The error on a check offers no `guard recover` when the backup cannot help.
    r = run_guard(ge, "check", "ls", path=SYSTEM_PATH)
    assert r.returncode == 2 and b"guard recover" not in r.stderr


def test_recover_does_not_touch_a_symlinked_allowlist(ge: GuardEnv) -> None:
    trusted(ge, 2)
    elsewhere = ge.root / "elsewhere.yaml"
    elsewhere.write_text("version: 1\nentries: []\n")
    ge.allowlist.unlink()
    ge.allowlist.symlink_to(elsewhere)
    r = run_guard(ge, "recover")
    assert r.returncode == 2 and b"is a symlink" in r.stderr
    assert ge.allowlist.is_symlink() and elsewhere.read_text() == "version: 1\nentries: []\n"


def test_symlinked_config_is_refused(ge: GuardEnv) -> None:
    real = ge.root / "elsewhere-config.yaml"
    real.write_text("mode: monitor\n")
    real.chmod(0o600)
    ge.guard_config_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    (ge.guard_config_dir / "config.yaml").symlink_to(real)
    r = run_guard(ge, "check", "ls", path=SYSTEM_PATH)
    assert r.returncode == 2 and "config" in one_clear_line(r.stderr)
    assert b"is a symlink" in r.stderr


# -- alias bombs, huge and deep documents -----------------------------------------------------


def _bomb(levels: int = 9, width: int = 9) -> str:
    """The classic "billion laughs": 9 levels of 9 references = 9**9 (387 M) strings."""
    lines = ["  l0: &l0 ['lol', 'lol', 'lol', 'lol', 'lol', 'lol', 'lol', 'lol', 'lol']"]
    for i in range(1, levels):
        lines.append(f"  l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def _limited() -> None:
    """Run the child with 1 GiB of address space: an expanded bomb would die, not swap."""
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


def run_limited(ge: GuardEnv, *args: str, **extra: str) -> subprocess.CompletedProcess[bytes]:
    env = ge.env(PYTHONPATH=str(REPO), PATH=SYSTEM_PATH, **extra)
    return subprocess.run(
        [*guard_exe(), *args],
        env=env,
        capture_output=True,
        timeout=60,  # a hang fails the test; expected: well under a second
        stdin=subprocess.DEVNULL,
        preexec_fn=_limited,
    )


ENTRY = f"- path: /usr/bin/x\n  sha256: '{SHA}'\n"
BOMBS = {
    "in a path": f"bomb:\n{_bomb()}version: 1\nentries:\n- path: *l8\n  sha256: '{SHA}'\n",
    "in a note": f"x:\n{_bomb()}version: 1\nentries:\n{ENTRY}  note: *l8\n",
    "in added": f"x:\n{_bomb()}version: 1\nentries:\n{ENTRY}  added: *l8\n",
    "in provenance": f"x:\n{_bomb()}version: 1\nentries:\n{ENTRY}  provenance: {{a: *l8}}\n",
    "as the entries": f"x:\n{_bomb()}version: 1\nentries: *l8\n",
    "as a merge": f"x:\n{_bomb()}version: 1\nentries:\n- <<: {{a: *l8}}\n",
    "as a key": f"x:\n{_bomb()}? *l8\n: 1\n",  # refused sooner: a list is no key
}


@pytest.mark.parametrize("where", sorted(BOMBS))
def test_alias_bomb_in_the_allowlist_is_refused_quickly(ge: GuardEnv, where: str) -> None:
    p = write_allowlist(ge, BOMBS[where])
    before = p.read_bytes()
    for args in (("check", "ls"), ("list", "--json"), ("trust", "/bin/sh")):
        r = run_limited(ge, *args)
        assert r.returncode == 2, (args, r.stderr[-300:])
        err = one_clear_line(r.stderr)
        want = "found unhashable key" if where == "as a key" else "alias bomb"
        assert str(p) in err and want in err, err
    assert p.read_bytes() == before


def test_alias_bomb_in_config_is_refused(ge: GuardEnv) -> None:
    write_config(ge, f"x:\n{_bomb()}")
    r = run_limited(ge, "check", "ls")
    assert r.returncode == 2 and "alias bomb" in one_clear_line(r.stderr)


def test_alias_bomb_in_the_system_policy_is_refused(ge: GuardEnv) -> None:
    from tests.hardening import new_sysdir

    sd = new_sysdir()
    sd.policy(f"x:\n{_bomb()}")
    r = run_limited(ge, "check", "ls", GUARD_SYSTEM_DIR=str(sd.path))
    assert r.returncode == 2 and "alias bomb" in one_clear_line(r.stderr)
    (sd.path / "policy.yaml").unlink()
    sd.pins_dir.mkdir(mode=0o755)
    f = sd.pins_dir / "bomb.yaml"
    f.write_text(BOMBS["in a path"])
    f.chmod(0o644)
    r = run_limited(ge, "check", "ls", GUARD_SYSTEM_DIR=str(sd.path))
    assert r.returncode == 2 and f"{f}: the document expands" in one_clear_line(r.stderr)


def test_harmless_anchors_still_load(ge: GuardEnv) -> None:
    """Aliases are not banned: a small reuse (as a hand editor might write) is fine."""
    tool = script(ge.bindir("bin"), "tool")
    sha = json.loads(run_guard(ge, "check", str(tool), "--json").stdout)["sha256"]
    write_allowlist(
        ge,
        f"version: 1\nentries:\n- path: {tool}\n  sha256: '{sha}'\n"
        f"  provenance: &p {{kind: unknown}}\n- path: /usr/bin/zz\n  sha256: '{SHA}'\n"
        f"  provenance: *p\n",
    )
    assert run_guard(ge, "check", str(tool)).returncode == 0


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("? [1]\n: 2\n", "line 1"),  # a key that cannot be a key
        ("[" * 50_000 + "]" * 50_000 + "\n", "nested too deeply"),  # crashed the C parser
        (f"version: 1\nentries:\n{ENTRY}  note: [1, 2]\n", "note must be text"),
        (f"version: 1\nentries:\n{ENTRY}  added: {{a: 1}}\n", "added must be text"),
    ],
    ids=["list-as-key", "deep-nesting", "note-list", "added-map"],
)
def test_hostile_shapes_are_clear_errors(ge: GuardEnv, text: str, want: str) -> None:
    p = write_allowlist(ge, text)
    r = run_limited(ge, "check", "ls")
    assert r.returncode == 2
    err = one_clear_line(r.stderr)
    assert str(p) in err and want in err, err


@pytest.mark.parametrize("which", ["allowlist", "config"])
def test_file_over_64_mib_is_refused_unread(ge: GuardEnv, which: str) -> None:
    p = (
        write_allowlist(ge, "version: 1\n")
        if which == "allowlist"
        else write_config(ge, "mode: block\n")
    )
    with open(p, "r+b") as f:
        f.truncate((64 << 20) + 1)  # sparse: no 64 MiB written to disk
    st = p.stat()
    r = run_limited(ge, "check", "ls")
    assert r.returncode == 2
    err = one_clear_line(r.stderr)
    assert f"{p} is larger than 67108864 bytes; refusing to parse it" in err
    assert p.stat().st_size == st.st_size and p.stat().st_mtime_ns == st.st_mtime_ns


# -- the hook fails closed --------------------------------------------------------------------


def test_noninteractive_bash_hook_fails_closed_with_instructions(ge: GuardEnv) -> None:
    """A script in a shell with the hook: a corrupt allowlist stops it (exit 126) before the
    command runs, and says how to recover."""
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash is not installed")
    tools = trusted(ge, 2)
    marker = ge.root / "MARKER"
    ran = script(ge.bindir("plant"), "tool", f"#!/bin/sh\ntouch {marker}\n".encode())
    hook = subprocess.run(
        [*guard_exe(), "hook", "bash"],
        env=ge.env(PYTHONPATH=str(REPO)),
        capture_output=True,
        check=True,
    ).stdout
    # The hook runs guard isolated (-I); point its first line at this checkout, so the test
    # also runs where guard is not installed into the interpreter.
    first, body = hook.split(b"\n", 1)
    assert first.startswith(b"__guard_bin=")
    find = f"import sys;sys.path.insert(0, {str(REPO)!r});from guard._cli import main;"
    first = f'__guard_bin=({sys.executable} -I -c "{find}sys.exit(main())")'.encode()
    (ge.root / "hook.bash").write_bytes(first + b"\n" + body)
    (ge.root / "bash_env").write_text(f"source {ge.root / 'hook.bash'}\n")
    env = ge.env(PATH=f"{ran.parent}:{SYSTEM_PATH}", BASH_ENV=str(ge.root / "bash_env"))

    def run(cmd: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [bash, "-c", cmd], env=env, cwd=ge.root, capture_output=True, text=True, timeout=60
        )

    # Healthy: a pinned command runs.
    r = run(f"{tools[0]}; echo AFTER")
    assert r.returncode == 0 and "AFTER" in r.stdout, r.stderr
    ge.allowlist.write_bytes(ge.allowlist.read_bytes()[:-40])
    r = run(f"{tools[0]}; tool; echo AFTER")
    assert r.returncode == 126 and "AFTER" not in r.stdout, (r.stdout, r.stderr)
    assert not marker.exists()
    assert "guard: cannot check commands" in r.stderr and "guard recover" in r.stderr
    assert "refusing to run" in r.stderr
    assert run_guard(ge, "recover").returncode == 0
    r = run(f"{tools[0]}; echo AFTER")
    assert r.returncode == 0 and "AFTER" in r.stdout
