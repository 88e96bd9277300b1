"""Hostile input: the CLI gives a clear verdict or error, never a traceback, a hang, or a raw
control character on the terminal. Output is checked as bytes, from real processes (a
surrogate or a raw byte only fails when a real stdout encodes it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from guard._cli import main
from tests.conftest import REPO, GuardEnv, guard_exe
from tests.core import raw_controls, run_guard, script, seed_os_index

HOSTILE = [
    b"with space",
    b"new\nline",
    b"esc\x1b[31mred",
    b"osc\x1b]0;title\x07",
    b"bad\xff\xfeutf8",
    b"c1\xc2\x9bcsi",  # U+009B: a one-character CSI on many terminals
    b"del\x7f",
    b"cr\rreturn",
    b"bidi\xe2\x80\xaeevil",  # U+202E right-to-left override
]
BIDI = ("\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069")


@pytest.fixture
def ge(guard_env: GuardEnv) -> GuardEnv:
    seed_os_index(guard_env)
    return guard_env


def assert_terminal_safe(out: bytes, what: object) -> None:
    assert raw_controls(out) == [], (what, out)
    text = out.decode("utf-8")  # valid UTF-8: no raw attacker bytes
    assert not any(c in text for c in BIDI), (what, out)
    assert "Traceback" not in text and "internal error" not in text, (what, text)


def test_hostile_names_never_reach_terminal_raw(ge: GuardEnv) -> None:
    d = ge.bindir("bin")
    files = [script(d, n) for n in HOSTILE]
    path = f"{d}:/usr/bin"
    jobs: list[tuple[object, ...]] = []
    for n in HOSTILE:
        jobs += [("check", n), ("check", "--json", n), ("which", n), ("which", "--json", n)]
        jobs += [("check", os.fsencode(d) + b"/" + n)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda a: (a, run_guard(ge, *a, path=path)), jobs))
    for args, r in results:
        assert_terminal_safe(r.stdout + r.stderr, args)
        assert r.returncode == 1, (args, r.stderr)
        if args[1] != "--json":
            assert r.stdout.count(b"\n") == (1 if args[0] == "check" else 2), (args, r.stdout)
    r = run_guard(ge, "trust", *HOSTILE, path=path)
    assert r.returncode == 0, r.stderr
    assert_terminal_safe(r.stdout + r.stderr, "trust")
    assert r.stderr.count(b"\n") == len(HOSTILE)
    for args in (("list",), ("list", "--json"), ("status",)):
        r = run_guard(ge, *args)
        assert r.returncode == 0
        assert_terminal_safe(r.stdout + r.stderr, args)
    listed = json.loads(run_guard(ge, "list", "--json").stdout)
    assert len(listed) == len(files)
    # Now pinned: each checks as allowed (the pin survived the YAML round trip byte-exact).
    for n in HOSTILE[:5]:
        r = run_guard(ge, "check", n, path=path)
        assert r.returncode == 0 and b"(pinned)" in r.stdout, (n, r.stdout)
        assert_terminal_safe(r.stdout, n)
    r = run_guard(ge, "untrust", *HOSTILE)
    assert r.returncode == 0
    assert_terminal_safe(r.stdout + r.stderr, "untrust")


@pytest.mark.parametrize("shell", ["bash", "fish"])
def test_hook_query_reply_has_no_raw_controls(ge: GuardEnv, shell: str) -> None:
    d = ge.bindir("bin")
    for n in HOSTILE:
        script(d, n)
    r = run_guard(ge, "_query", "--shell", shell, *HOSTILE, path=str(d))
    assert r.returncode == 0
    assert r.stdout.count(b"\n") == len(HOSTILE)  # one reply line per word
    assert_terminal_safe(r.stdout + r.stderr, shell)


def test_hostile_note_is_escaped(ge: GuardEnv) -> None:
    tool = script(ge.bindir("bin"), "tool")
    r = run_guard(ge, "trust", str(tool), "--note", "hi\x1b[2J\nthere\x07")
    assert r.returncode == 0
    r = run_guard(ge, "list")
    assert_terminal_safe(r.stdout + r.stderr, "note")
    note = json.loads(run_guard(ge, "list", "--json").stdout)[0]["note"]
    assert "\x1b" not in note and "[2J" in note and "there" in note
    # A raw ESC put into the allowlist by hand is escaped on the way out too.
    text = ge.allowlist.read_text()
    ge.allowlist.write_text(text.replace("note: ", 'note: "raw\\e[31mred" #', 1))
    assert "raw\\e[31m" in ge.allowlist.read_text()
    for args in (("list",), ("list", "--json")):
        r = run_guard(ge, *args)
        assert r.returncode == 0, r.stderr
        assert b"red" in r.stdout
        assert_terminal_safe(r.stdout + r.stderr, args)


def test_fifo_named_like_a_command(ge: GuardEnv) -> None:
    """Opening a FIFO would block forever: every command must answer without opening it."""
    d = ge.bindir("bin")
    fifo = d / "git"
    os.mkfifo(fifo)
    fifo.chmod(0o755)
    path = f"{d}:/usr/bin"
    r = run_guard(ge, "check", "git", path=path, timeout=30)
    assert r.returncode == 1
    assert b"(unreadable)" in r.stdout and b"not a regular file" in r.stdout
    r = run_guard(ge, "check", str(fifo), path=path, timeout=30)
    assert r.returncode == 1 and b"not a regular file" in r.stdout
    r = run_guard(ge, "which", "--json", "git", path=path, timeout=30)
    assert json.loads(r.stdout)["candidates"][0]["path"] == str(fifo)
    r = run_guard(ge, "trust", "git", path=path, timeout=30)
    assert r.returncode == 2 and b"not a regular file" in r.stderr
    r = run_guard(ge, "_query", "--shell", "bash", "git", path=path, timeout=30)
    assert r.returncode == 0 and b" block " in r.stdout


def test_fifo_as_shebang_interpreter(ge: GuardEnv, monkeypatch) -> None:
    fifo = ge.bindir("evil") / "interp"
    os.mkfifo(fifo)
    fifo.chmod(0o755)
    d = ge.bindir("bin")
    script(d, "tool", b"#!" + os.fsencode(fifo) + b"\n")
    monkeypatch.setenv("PATH", str(d))
    assert main(["trust", "tool"]) == 0
    r = run_guard(ge, "check", "--json", "tool", path=str(d), timeout=30)
    doc = json.loads(r.stdout)
    assert r.returncode == 1 and doc["reason"] == "interpreter"
    assert doc["culprit"] == str(fifo)


def test_symlink_loop_and_dangling_named_like_commands(ge: GuardEnv) -> None:
    d = ge.bindir("bin")
    (d / "aws").symlink_to("aws")
    (d / "gcloud").symlink_to(d / "gone")
    for word in ("aws", "gcloud"):
        r = run_guard(ge, "check", word, path=f"{d}:/nonexistent", timeout=30)
        assert r.returncode == 1 and b"not found" in r.stdout, r.stdout
    r = run_guard(ge, "check", str(d / "aws"), timeout=30)
    assert r.returncode == 1 and b"symlink loop" in r.stdout
    r = run_guard(ge, "check", str(d / "gcloud"), timeout=30)
    assert r.returncode == 1 and b"dangling symlink" in r.stdout
    r = run_guard(ge, "trust", str(d / "aws"), timeout=30)
    assert r.returncode == 2 and b"symlink loop" in r.stderr
    assert b"Traceback" not in r.stderr


@pytest.mark.parametrize(
    "word", ["", "x" * 300, "a/" * 3000 + "b", "-", "..", "/", "/dev/null", "/dev/tty"]
)
def test_odd_words_clear_verdict(ge: GuardEnv, capsys, word: str) -> None:
    rc = main(["check", "--json", "--", word])
    out = capsys.readouterr().out
    assert rc in (0, 1)
    doc = json.loads(out)
    assert doc["reason"] in ("not-found", "unreadable", "untrusted")


def test_huge_path_and_many_entries(ge: GuardEnv, capsys, monkeypatch) -> None:
    d = ge.bindir("bin")
    f = script(d, "tool")
    monkeypatch.setenv("PATH", ":".join([f"/nonexistent/{i}" for i in range(3000)] + [str(d)]))
    rc = main(["check", "--json", "tool"])
    assert rc == 1 and json.loads(capsys.readouterr().out)["path"] == str(f)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork to drop privileges")
def test_unreadable_file_as_unprivileged_user(ge: GuardEnv) -> None:
    """mode 0711: runnable but not readable. As root that cannot fail to read, so when the
    tests run as root the check runs in a forked child that has dropped to uid 65534."""
    import guard._cli  # noqa: F401 - everything the child needs, imported before setuid
    import guard.decide  # noqa: F401
    import guard.events  # noqa: F401
    import guard.hookquery  # noqa: F401
    import guard.provenance  # noqa: F401
    import guard.provenance.dpkg  # noqa: F401
    import guard.trust  # noqa: F401
    import guard.yamlstore  # noqa: F401

    main(["status"])  # warm every lazy import the check path uses
    uid = os.geteuid()
    nobody = 65534 if uid == 0 else uid
    base = Path(tempfile.mkdtemp(prefix="guard-unreadable-"))
    try:
        base.chmod(0o755)
        dirs = {n: base / n for n in ("home", "config", "cache", "state")}
        for p in dirs.values():
            p.mkdir(mode=0o700)
            os.chown(p, nobody, -1)
        bindir = base / "bin"
        bindir.mkdir(mode=0o755)
        f = bindir / "secret"
        f.write_bytes(b"#!/bin/sh\necho secret\n")
        f.chmod(0o711)
        if uid != 0:
            f.chmod(0o311)  # not even the owner may read: the same observable case
        src = ge.cache / "guard"
        for idx in src.glob("*-index.bin"):
            (dirs["cache"] / "guard").mkdir(mode=0o700, exist_ok=True)
            os.chown(dirs["cache"] / "guard", nobody, -1)
            shutil.copyfile(idx, dirs["cache"] / "guard" / idx.name)
            os.chown(dirs["cache"] / "guard" / idx.name, nobody, -1)
        rc, out = _run_forked(
            nobody,
            {
                "HOME": str(dirs["home"]),
                "XDG_CONFIG_HOME": str(dirs["config"]),
                "XDG_CACHE_HOME": str(dirs["cache"]),
                "XDG_STATE_HOME": str(dirs["state"]),
                "PATH": str(bindir),
            },
            str(base),
            ["check", "secret"],
        )
    finally:
        shutil.rmtree(base, ignore_errors=True)
    assert rc == 1, out
    assert b"(unreadable)" in out and b"Permission denied" in out
    assert b"Traceback" not in out


def _run_forked(uid: int, env: dict[str, str], cwd: str, argv: list[str]) -> tuple[int, bytes]:
    r, w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        try:
            os.close(r)
            os.dup2(w, 1)
            os.dup2(w, 2)
            if os.geteuid() == 0:
                os.setgroups([])
                os.setgid(uid)
                os.setuid(uid)
            os.environ.update(env)
            os.chdir(cwd)
            sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
            sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
            rc = main(argv)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(rc)
        except BaseException as e:  # noqa: BLE001
            os.write(2, f"child failed: {e!r}".encode())
            os._exit(99)
    os.close(w)
    chunks = []
    while True:
        b = os.read(r, 65536)
        if not b:
            break
        chunks.append(b)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), b"".join(chunks)


def test_no_traceback_on_broken_pipe(ge: GuardEnv) -> None:
    """`guard list | head -0`: the reader goes away; guard exits quietly."""
    d = ge.bindir("bin")
    for i in range(300):
        script(d, f"t{i:03d}")
    assert run_guard(ge, "trust", "--dir", str(d)).returncode == 0
    env = ge.env(PYTHONPATH=str(REPO))
    p = subprocess.Popen(
        [*guard_exe(), "list"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert p.stdout is not None
    p.stdout.close()
    _, err = p.communicate(timeout=30)
    assert p.returncode in (0, 2), err
    assert b"Traceback" not in err and b"Exception ignored" not in err
