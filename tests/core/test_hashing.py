"""Streamed digests, refusing files that change mid-read, and the verification cache being
an optimisation only."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest

from guard._cli import main
from guard.decide import decide
from guard.hashing import CHUNK, HashError, digest_file
from guard.model import Reason
from tests.conftest import GuardEnv
from tests.core import run_guard, script, seed_os_index, write_config


@pytest.fixture
def ge(guard_env: GuardEnv) -> GuardEnv:
    seed_os_index(guard_env)
    return guard_env


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, 3 * CHUNK + 17])
def test_digests_match_hashlib(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    p = tmp_path / "f"
    p.write_bytes(data)
    d = digest_file(str(p), want_md5=True)
    assert d.sha256 == hashlib.sha256(data).hexdigest()
    assert d.md5 == hashlib.md5(data).hexdigest()
    assert d.size == size
    assert digest_file(str(p)).md5 is None


def test_file_appended_while_hashed_raises(tmp_path: Path) -> None:
    """A writer appends continuously while the file is hashed: the digest must be refused,
    never returned for bytes that are no longer the file."""
    p = tmp_path / "grow"
    p.write_bytes(os.urandom(1 << 20) * 16)
    stop = threading.Event()
    writing = threading.Event()

    def writer() -> None:
        with open(p, "ab") as f:
            block = b"x" * 65536
            while not stop.is_set():
                f.write(block)
                f.flush()
                writing.set()

    t = threading.Thread(target=writer)
    t.start()
    try:
        assert writing.wait(10)
        with pytest.raises(HashError, match="changed while|larger than"):
            digest_file(str(p), limit=1 << 40)
    finally:
        stop.set()
        t.join()


def test_file_whose_size_lies_is_refused() -> None:
    """/proc files are 'regular' with st_size 0 but yield bytes: the read total and the
    size disagree, which is exactly the changed-while-hashed signal."""
    with pytest.raises(HashError, match="changed while"):
        digest_file("/proc/self/status")


def test_appended_file_verdict_is_unreadable_not_trusted(ge: GuardEnv, monkeypatch) -> None:
    d = ge.bindir("bin")
    p = script(d, "grow", b"#!/bin/sh\n" + b"#" * (16 << 20) + b"\n")
    monkeypatch.setenv("PATH", str(d))
    stop = threading.Event()
    writing = threading.Event()

    def writer() -> None:
        with open(p, "ab") as f:
            while not stop.is_set():
                f.write(b"#" * 65536)
                f.flush()
                writing.set()

    t = threading.Thread(target=writer)
    t.start()
    try:
        assert writing.wait(10)
        v = decide("grow", str(d), "/")
    finally:
        stop.set()
        t.join()
    assert v.reason == Reason.UNREADABLE
    assert "changed while" in v.message or "larger than" in v.message


@pytest.mark.parametrize("kind", ["fifo", "dir", "symlink", "missing"])
def test_non_regular_refused_without_blocking(tmp_path: Path, kind: str) -> None:
    p = tmp_path / "x"
    if kind == "fifo":
        os.mkfifo(p)
    elif kind == "dir":
        p.mkdir()
    elif kind == "symlink":
        (tmp_path / "t").write_bytes(b"data")
        p.symlink_to(tmp_path / "t")  # digest_file takes a real path: it must not follow
    with pytest.raises(HashError):
        digest_file(str(p))


def test_size_limit(tmp_path: Path) -> None:
    p = tmp_path / "big"
    with open(p, "wb") as f:
        f.truncate(64 << 30)  # sparse: 64 GiB that costs nothing
    with pytest.raises(HashError, match="max_hash_bytes"):
        digest_file(str(p))


def test_huge_sparse_file_on_path_quick_clear_verdict(ge: GuardEnv) -> None:
    write_config(ge, "max_hash_bytes: 1048576\n")
    d = ge.bindir("bin")
    p = d / "huge"
    with open(p, "wb") as f:
        f.write(b"#!/bin/sh\n")
        f.truncate(8 << 30)
    p.chmod(0o755)
    r = run_guard(ge, "check", "huge", path=str(d), timeout=30)
    assert r.returncode == 1
    assert b"(unreadable)" in r.stdout and b"max_hash_bytes (1048576 bytes)" in r.stdout
    r = run_guard(ge, "trust", "huge", path=str(d), timeout=30)
    assert r.returncode == 2 and b"max_hash_bytes" in r.stderr
    assert not ge.allowlist.exists()


# --- the verification cache -----------------------------------------------------------------


def verdicts(words: list[str], path: str) -> list[tuple[str, str, str | None]]:
    out = []
    for w in words:
        v = decide(w, path, "/")
        out.append((w, v.reason, v.sha256))
    return out


def test_deleting_or_corrupting_cache_changes_no_verdict(ge: GuardEnv, monkeypatch) -> None:
    d = ge.bindir("bin")
    path = f"{d}:/usr/bin"
    monkeypatch.setenv("PATH", path)
    for n in ("pinned", "edited", "fresh", "ls"):
        script(d, n, f"#!/bin/sh\necho {n}\n".encode())
    assert main(["trust", "pinned", "edited"]) == 0
    with open(d / "edited", "ab") as f:
        f.write(b"# changed\n")
    (d / "ls").unlink()  # keep /usr/bin/ls as the os-package case
    words = ["pinned", "edited", "fresh", "ls", "cat"]
    first = verdicts(words, path)
    want = ["pinned", "modified", "untrusted", "os-package", "os-package"]
    assert [r for _, r, _ in first] == want
    cache_files = [p for p in (ge.cache / "guard").iterdir() if p.name.startswith("verified")]
    assert cache_files, "decisions should have written a verification cache"
    assert verdicts(words, path) == first  # served from the cache
    for p in cache_files:
        p.unlink()
    assert verdicts(words, path) == first
    for p in cache_files:
        p.write_bytes(b"\xff\x00garbage\n" * 100)
    assert verdicts(words, path) == first


def test_edit_with_restored_mtime_is_still_modified(ge: GuardEnv, monkeypatch) -> None:
    """Same size, same mtime (os.utime), same inode: only ctime moves. The cache must miss."""
    d = ge.bindir("bin")
    f = script(d, "tool", b"#!/bin/sh\necho AAAA\n")
    monkeypatch.setenv("PATH", str(d))
    assert main(["trust", "tool"]) == 0
    assert decide("tool").reason == Reason.PINNED  # now cached
    assert decide("tool").reason == Reason.PINNED
    st = f.stat()
    with open(f, "r+b") as fh:
        fh.write(b"#!/bin/sh\necho BBBB\n")
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    st2 = f.stat()
    assert (st2.st_size, st2.st_mtime_ns, st2.st_ino) == (st.st_size, st.st_mtime_ns, st.st_ino)
    assert decide("tool").reason == Reason.MODIFIED


def test_lowered_limit_applies_to_cached_files(ge: GuardEnv, monkeypatch) -> None:
    """A file hashed (and cached) under a high max_hash_bytes is refused once the limit is
    lowered, exactly as with no cache."""
    d = ge.bindir("bin")
    script(d, "mid", b"#!/bin/sh\n" + b"#" * 9000 + b"\n")
    assert decide("mid", str(d), "/").reason == Reason.UNTRUSTED
    write_config(ge, "max_hash_bytes: 8192\n")
    assert decide("mid", str(d), "/").reason == Reason.UNREADABLE
