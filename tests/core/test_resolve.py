"""Resolution exactly as a POSIX shell does it, on real files in temp dirs.

Where it matters the answer is cross-checked against a real bash running ``type -a``."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from guard.resolve import candidates, env_target, interpreter_chain, read_shebang
from tests.conftest import GuardEnv, need
from tests.core import script


def invoked(word: str, path_env: str, cwd: Path) -> list[str]:
    return [c.invoked for c in candidates(word, path_env, str(cwd))]


def test_every_candidate_in_path_order(tmp_path: Path) -> None:
    dirs = [tmp_path / n for n in ("c", "a", "b")]
    for d in dirs:
        script(d, "tool")
    path = ":".join(map(str, dirs))
    assert invoked("tool", path, tmp_path) == [str(d / "tool") for d in dirs]


def test_duplicate_path_entries_counted_once(tmp_path: Path) -> None:
    d = tmp_path / "bin"
    script(d, "tool")
    assert invoked("tool", f"{d}:{d}:{d}", tmp_path) == [str(d / "tool")]


@pytest.mark.parametrize("path_env", ["", ":/nonexistent", "/nonexistent:", "/nonexistent::/x"])
def test_empty_entry_means_cwd(tmp_path: Path, path_env: str) -> None:
    f = script(tmp_path, "tool")
    got = candidates("tool", path_env, str(tmp_path))
    assert len(got) == 1
    assert os.path.realpath(got[0].invoked) == str(f)
    assert got[0].real == str(f)


def test_dot_entry_means_cwd(tmp_path: Path) -> None:
    f = script(tmp_path, "tool")
    got = candidates("tool", "/nonexistent:.", str(tmp_path))
    assert [c.real for c in got] == [str(f)]


def test_relative_entry_is_relative_to_cwd(tmp_path: Path) -> None:
    f = script(tmp_path / "node_modules" / ".bin", "eslint")
    got = candidates("eslint", "node_modules/.bin", str(tmp_path))
    assert [c.real for c in got] == [str(f)]
    # The same PATH from another cwd finds nothing: the entry is not absolute.
    assert candidates("eslint", "node_modules/.bin", "/") == []


def test_non_executable_and_directories_skipped(tmp_path: Path) -> None:
    noexec = tmp_path / "a"
    script(noexec, "tool").chmod(0o644)
    isdir = tmp_path / "b"
    (isdir / "tool").mkdir(parents=True)
    (isdir / "tool").chmod(0o755)
    good = script(tmp_path / "c", "tool")
    path = f"{noexec}:{isdir}:{tmp_path / 'c'}"
    assert invoked("tool", path, tmp_path) == [str(good)]


def test_symlink_followed_to_real_file(tmp_path: Path) -> None:
    real = script(tmp_path / "opt", "aws-2.1")
    d = tmp_path / "bin"
    d.mkdir()
    (d / "mid").symlink_to(real)
    (d / "aws").symlink_to("mid")  # relative link, through a second link
    [c] = candidates("aws", str(d), "/")
    assert c.invoked == str(d / "aws")
    assert c.real == str(real)
    assert c.error is None


def test_symlink_loop_and_dangling_on_path_are_skipped(tmp_path: Path) -> None:
    d = tmp_path / "bin"
    d.mkdir()
    (d / "loop").symlink_to("loop2")
    (d / "loop2").symlink_to("loop")
    (d / "gone").symlink_to(tmp_path / "nowhere")
    later = script(tmp_path / "later", "loop")
    path = f"{d}:{tmp_path / 'later'}"
    # The shell's PATH search skips what it cannot stat, and goes on to the next dir.
    assert invoked("loop", path, tmp_path) == [str(later)]
    assert invoked("gone", path, tmp_path) == []


def test_symlink_loop_and_dangling_by_path_report_why(tmp_path: Path) -> None:
    (tmp_path / "loop").symlink_to("loop")
    (tmp_path / "gone").symlink_to("nowhere")
    [loop] = candidates("./loop", "", str(tmp_path))
    assert loop.real is None and loop.error == "symlink loop"
    [gone] = candidates(str(tmp_path / "gone"), "", "/")
    assert gone.real is None and gone.error == "dangling symlink"


def test_names_with_slash_are_paths_not_searched(tmp_path: Path) -> None:
    onpath = tmp_path / "onpath"
    script(onpath / "sub", "tool")
    local = script(tmp_path / "sub", "tool")
    got = candidates("sub/tool", str(onpath), str(tmp_path))
    assert [c.real for c in got] == [str(local)]
    assert candidates(str(local), str(onpath), "/")[0].real == str(local)
    assert candidates("./sub/nope", str(onpath), str(tmp_path)) == []


def test_path_word_not_executable_or_directory_is_an_error(tmp_path: Path) -> None:
    script(tmp_path, "data").chmod(0o644)
    (tmp_path / "adir").mkdir()
    [c] = candidates("./data", "", str(tmp_path))
    assert c.error == "not executable"
    [d] = candidates("./adir", "", str(tmp_path))
    assert d.error == "is a directory"


@pytest.mark.parametrize("word", ["", ".", ".."])
def test_degenerate_words(tmp_path: Path, word: str) -> None:
    assert candidates(word, str(tmp_path), str(tmp_path)) == []


def test_fifo_with_x_bit_is_a_candidate_but_never_opened(tmp_path: Path) -> None:
    d = tmp_path / "bin"
    d.mkdir()
    os.mkfifo(d / "tool")
    (d / "tool").chmod(0o755)
    [c] = candidates("tool", str(d), "/")
    assert c.invoked == str(d / "tool")
    # read_shebang must not block on it (a blocking open would hang this test).
    assert read_shebang(str(d / "tool")) is None


def test_matches_real_bash_type_a(guard_env: GuardEnv, tmp_path: Path) -> None:
    """The candidate list equals what bash itself reports, for a PATH with every oddity."""
    bash = need("bash")
    work = tmp_path / "work"
    script(work, "tool")  # found via "" and "."
    script(work / "rel", "tool")  # found via "rel"
    script(tmp_path / "abs", "tool")
    script(tmp_path / "noexec", "tool").chmod(0o644)
    (tmp_path / "dir" / "tool").mkdir(parents=True)
    path = f"{tmp_path / 'noexec'}:{tmp_path / 'dir'}:rel::{tmp_path / 'abs'}:."
    r = subprocess.run(
        [bash, "--norc", "--noprofile", "-c", "type -P -a tool"],
        env=guard_env.env(PATH=path),
        cwd=work,
        capture_output=True,
        text=True,
        timeout=20,
    )
    bash_says = [os.path.normpath(os.path.join(work, p)) for p in r.stdout.split()]
    ours = [os.path.normpath(p) for p in invoked("tool", path, work)]
    # bash lists cwd twice ("" and "."); we list each file once, in the same order.
    assert list(dict.fromkeys(bash_says)) == ours
    assert ours[0] == str(work / "rel" / "tool")


# --- shebangs -------------------------------------------------------------------------------


# Each row was checked against GNU env 9.1 running a real script with a planted "node" (and a
# planted file literally named "node --flag"): ``want`` is the command env actually ran.
@pytest.mark.parametrize(
    ("line", "want"),
    [
        ("node", "node"),
        ("node --flag", "node --flag"),  # no -S: Linux passes one argument, env runs it whole
        ("-S node --flag", "node"),
        ("-Snode --flag", "node"),
        ("-vS node", "node"),
        ("-iSnode", "node"),
        ("--split-string=node -x", "node"),
        ("--split=node -x", "node"),  # getopt_long takes an unambiguous prefix
        ("--s=node", "node"),
        ("-S -iu FOO node", "node"),
        ("-S -uFOO node", "node"),
        ("-S -u FOO node", "node"),
        ("-S --unset FOO node", "node"),
        ("-S --un=FOO node", "node"),
        ("-S -C / node", "node"),
        ("-S -S node", "node"),
        ("-S --split-string=node", "node"),
        ("-S A=1 B=2 node -u", "node"),
        ("-S -v -- A=1 node", "node"),
        ("-S - node", "node"),
        ("-i node", None),  # env: invalid option -- ' '
        ("A=1 node", None),  # an assignment, no command from the line
        ("-S", None),
        ("", None),
    ],
)
def test_env_target(line: str, want: str) -> None:
    assert env_target([line] if line else []) == want


ENV_ROWS_THAT_RUN = [
    "node",
    "node --flag",
    "-S node --flag",
    "-vS node",
    "--split=node -x",
    "-S -iu FOO node",
    "-S --un=FOO node",
    "-S A=1 B=2 node -u",
]


def test_env_target_agrees_with_real_env(guard_env: GuardEnv, tmp_path: Path) -> None:
    """Run each shebang for real: the file env executes is the one interpreter_chain names."""
    evil = tmp_path / "evil"
    marker = tmp_path / "ran"
    for name in ("node", "node --flag"):
        script(evil, name, b'#!/bin/sh\nprintf %s "$0" > "$MARKER"\n')
    path = f"{evil}:/usr/bin:/bin"
    for line in ENV_ROWS_THAT_RUN:
        if "-i" in line.split() or "-iu" in line:
            continue  # -i empties PATH: env then searches the default path, not ours
        js = script(tmp_path / "bin", "cli", b"#!/usr/bin/env " + line.encode() + b"\n")
        marker.unlink(missing_ok=True)
        subprocess.run(
            [str(js)],
            env=guard_env.env(PATH=path, MARKER=str(marker)),
            capture_output=True,
            timeout=20,
        )
        ran = marker.read_text() if marker.exists() else None
        chain = interpreter_chain(str(js), path, "/")
        named = chain[1].invoked if len(chain) > 1 else None
        assert ran is not None and named == ran, (line, ran, named)


def test_env_split_string_planted_interpreter_is_caught(tmp_path: Path) -> None:
    """`#!/usr/bin/env --split-string=node` runs node from PATH: the chain must show it."""
    evil = script(tmp_path / "evil", "node")
    js = script(tmp_path / "bin", "cli", b"#!/usr/bin/env --split-string=node -x\n")
    chain = interpreter_chain(str(js), f"{tmp_path / 'evil'}:/usr/bin", "/")
    assert chain[1].real == str(evil) and chain[1].via_env


def test_read_shebang_linux_rules(tmp_path: Path) -> None:
    f = script(tmp_path, "a", b"#!  /usr/bin/env   -S node --flag  \r\nrest\n")
    sb = read_shebang(str(f))
    assert sb is not None
    assert sb.interpreter == "/usr/bin/env"
    assert sb.args == ["-S node --flag"]  # Linux passes the rest as ONE argument
    assert read_shebang(str(script(tmp_path, "b", b"\x7fELF\x02\x01"))) is None
    assert read_shebang(str(script(tmp_path, "c", b"#!\n"))) is None
    assert read_shebang(str(tmp_path / "missing")) is None


def test_interpreter_chain_env_on_path(tmp_path: Path) -> None:
    evil = script(tmp_path / "evil", "node")
    js = script(tmp_path / "bin", "cli", b"#!/usr/bin/env -S node --flag\n")
    path = f"{tmp_path / 'evil'}:/usr/bin"
    chain = interpreter_chain(str(js), path, "/")
    # env, then the node env finds on PATH, then node's own interpreter (#!/bin/sh).
    assert [link.real for link in chain] == [
        os.path.realpath("/usr/bin/env"),
        str(evil),
        os.path.realpath("/bin/sh"),
    ]
    assert chain[1].via_env and str(tmp_path / "evil") in chain[1].searched_dirs


def test_interpreter_chain_env_target_missing(tmp_path: Path) -> None:
    js = script(tmp_path / "bin", "cli", b"#!/usr/bin/env nonexistent-interp-zz\n")
    chain = interpreter_chain(str(js), str(tmp_path), "/")
    assert chain[-1].real is None and chain[-1].error == "not found on PATH"


def test_interpreter_chain_self_loop_terminates(tmp_path: Path) -> None:
    """A script whose interpreter is itself: bounded like the kernel's ELOOP, no hang."""
    d = tmp_path / "bin"
    d.mkdir()
    me = d / "me"
    me.write_bytes(b"#!" + os.fsencode(me) + b"\n")
    me.chmod(0o755)
    chain = interpreter_chain(str(me), "", "/")
    assert 1 <= len(chain) <= 4
