"""The zsh hook's inline check of recorded sublists (docs/shell-zsh.md, "The hot path").

A sublist whose words all had valid cached answers is recorded with a zsh/stat snapshot of its
WATCH paths; the DEBUG trap then lets the same text run after one `zstat` and a string
compare. Whatever changes after the record must still be caught. The hook only records a
path whose ctime second is over, so each test lets the planted files settle for ~1.1 s first;
the script prints REC=1 when the record exists, so a test knows the fast path was exercised.
"""

from __future__ import annotations

import subprocess
import time

from tests.shell import test_zsh_hook as base
from tests.shell.test_zsh_hook import SYS, ZSH, Z, blocked

zbase = base.zbase  # the module's fixtures, shared with test_zsh_hook.py
z = base.z


def settle() -> None:
    """Wait until the current ctime second is over (the hook records only then)."""
    time.sleep(1.1)


def rec(text: str) -> str:
    """A script line printing REC=1 when the sublist TEXT (zsh's canonical form) is recorded."""
    return f"__k='{text}'; print -r -- REC=${{+__guard_xw[$__k]}}"


def test_recorded_pinned_file_modified_in_place(z: Z) -> None:
    tool = z.ge.plant(z.plant_dir, "tool", "#!/bin/sh\necho GOOD\n")
    z.guard("trust", str(tool))
    settle()
    r = z.run(
        f"tool\ntool\n{rec('tool')}\nprintf '#!/bin/sh\\ntouch {z.marker}\\n' >| {tool}\n"
        "tool\necho AFTER"
    )
    assert r.stdout.count("GOOD") == 2 and "REC=1" in r.stdout, (r.stdout, r.stderr)
    blocked(z, r, "tool")
    assert "(modified)" in r.stderr


def test_recorded_wrapper_sees_a_shadow_planted_later(z: Z) -> None:
    """`env ls` has no hash-table entry to compare: the PATH directory's record catches it."""
    planted = z.plant("x", z.dir("store"))
    settle()
    r = z.run(
        f"env ls / >/dev/null\n{rec('env ls / > /dev/null')}\ncp {planted} {z.plant_dir}/ls\n"
        "env ls / >/dev/null\necho AFTER"
    )
    assert "REC=1" in r.stdout, (r.stdout, r.stderr)
    blocked(z, r)


def test_recorded_command_after_hash_swap(z: Z) -> None:
    evil = z.plant("ls", z.dir("notonpath"))
    settle()
    r = z.run(
        f"ls / >/dev/null\n{rec('ls / > /dev/null')}\nhash ls={evil}\nls / >/dev/null\necho AFTER",
        path=SYS,
    )
    assert "REC=1" in r.stdout, (r.stdout, r.stderr)
    blocked(z, r)


def test_recorded_pipeline_after_hash_swap_of_its_second_command(z: Z) -> None:
    evil = z.plant("wc", z.dir("notonpath"))
    settle()
    r = z.run(
        f"ls / | wc -l >/dev/null\n{rec('ls / | wc -l > /dev/null')}\nhash wc={evil}\n"
        "ls / | wc -l >/dev/null\necho AFTER",
        path=SYS,
    )
    assert "REC=1" in r.stdout, (r.stdout, r.stderr)
    blocked(z, r, "wc")


def test_recorded_symlink_retargeted(z: Z) -> None:
    store = z.dir("store")
    good = z.ge.plant(store, "good", "#!/bin/sh\necho GOOD\n")
    bad = z.plant("bad", store)
    link = z.plant_dir / "tool"
    link.symlink_to(good)
    z.guard("trust", str(link))
    settle()
    r = z.run(f"tool\n{rec('tool')}\nln -sfn {bad} {link}\ntool\necho AFTER")
    assert "GOOD" in r.stdout and "REC=1" in r.stdout, (r.stdout, r.stderr)
    blocked(z, r, "tool")


def test_disabled_builtin_is_checked_as_the_file_it_now_runs(z: Z) -> None:
    """`echo` passes the trap inline as a builtin; after `disable echo` it is a PATH lookup."""
    z.plant("echo")
    r = z.run("echo one\ndisable echo\necho two\nprint AFTER")
    assert "one" in r.stdout
    blocked(z, r, "echo")


def test_and_inside_double_brackets_is_not_a_command_position(z: Z) -> None:
    r = z.run("a=1 b=xy\n[[ -n $a && ${b%y} == x || -z $a ]] && echo fine\necho AFTER")
    assert r.returncode == 0 and "fine" in r.stdout and "AFTER" in r.stdout, r.stderr


def test_substitution_inside_double_quotes_after_an_apostrophe(z: Z) -> None:
    """`'` is literal inside "...": the $( ) after it is still collected, so a script stops
    before it starts the subshell (not only inside it)."""
    z.plant("ls")
    blocked(z, z.run("""echo "it's $(ls)"\necho AFTER"""))


def test_directory_name_is_never_evaluated(z: Z) -> None:
    """A relative command's cache key holds $PWD; a `$( )` in a directory name must stay
    text (an arithmetic expression with NAME[$key] would have run it)."""
    d = z.root / "d$(touch MARKER)"  # a name has no "/": the marker lands in d itself
    d.mkdir()
    (d / "t").symlink_to("/usr/bin/true")
    r = subprocess.run(
        [ZSH, "-c", "./t; ./t; ./t; ./t; echo AFTER"],
        env=z.env(SYS),
        cwd=d,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "AFTER" in r.stdout, (r.stdout, r.stderr)
    assert not (d / "MARKER").exists(), "a $( ) in the directory name ran"


def test_recorded_path_dir_swapped_with_a_twin_made_in_the_same_second(z: Z) -> None:
    """The record compares ctime seconds *and* inodes: renaming a directory above a watched
    PATH directory changes neither ctime of what is below it, so a twin tree made alongside
    the real one (same ctime seconds) is caught only by its inodes."""
    real, twin = z.root / "real", z.root / "twin"
    good = z.ge.plant(z.ge.bindir(f"{z.root.name}/real/bin"), "tool", "#!/bin/sh\necho GOOD\n")
    z.plant("tool", z.ge.bindir(f"{z.root.name}/twin/bin"))
    z.guard("trust", str(good))
    settle()
    path = f"{real}/bin:{SYS}"
    swap = f"mv {real} {real}.old\nmv {twin} {real}"
    r = z.run(f"tool\n{rec('tool')}\n{swap}\ntool\necho AFTER", path)
    assert "GOOD" in r.stdout and "REC=1" in r.stdout, (r.stdout, r.stderr)
    blocked(z, r, "tool")


def test_recorded_file_removed_gives_no_stat_error(z: Z) -> None:
    """A watched path that vanished fails the inline test silently (the full check then
    reports what zsh would): the trap's `zstat` never writes to the user's stderr."""
    tool = z.ge.plant(z.plant_dir, "tool", "#!/bin/sh\necho GOOD\n")
    z.guard("trust", str(tool))
    settle()
    r = z.run(f"tool\n{rec('tool')}\nrm {tool}\ntool\necho AFTER=$?")
    assert "GOOD" in r.stdout and "REC=1" in r.stdout, (r.stdout, r.stderr)
    assert "AFTER=127" in r.stdout, (r.stdout, r.stderr)
    assert "zstat" not in r.stderr and "command not found" in r.stderr, r.stderr
