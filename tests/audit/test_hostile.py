"""Hostile PATH contents and broken config: a clear result or a clear error, never a hang or
a traceback."""

from __future__ import annotations

import os

import yaml

from tests.audit import SYS, audit, plant
from tests.conftest import GuardEnv
from tests.core import raw_controls, run_guard, seed_os_index, write_allowlist, write_config


def hostile_dir(ge: GuardEnv):
    d = ge.bindir("hostile")
    fifo = d / "fifo-tool"
    os.mkfifo(fifo)
    fifo.chmod(0o755)  # the shell's PATH search accepts it
    (d / "loop").symlink_to(d / "loop")
    (d / "dangling").symlink_to(d / "nowhere")
    (d / "ls").mkdir()  # a directory named like a command is not a candidate
    big = plant(d, "big")
    with open(big, "ab") as f:
        f.truncate(2 << 20)  # larger than max_hash_bytes below
    plant(d, "ok")
    return d


def test_fifo_loops_and_big_files_do_not_hang_audit(guard_env: GuardEnv) -> None:
    write_config(guard_env, "max_hash_bytes: 1048576\n")
    d = hostile_dir(guard_env)
    rc, doc, err = audit(guard_env, f"{SYS}:{d}")
    assert rc in (0, 1) and b"Traceback" not in err, err
    assert "ls" not in {f["name"] for f in doc["findings"]}


def test_fifo_and_big_files_are_not_pinned_by_init(guard_env: GuardEnv) -> None:
    write_config(guard_env, "max_hash_bytes: 1048576\n")
    d = hostile_dir(guard_env)
    seed_os_index(guard_env)
    r = run_guard(guard_env, "init", "--yes", path=f"{SYS}:{d}", timeout=60)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert "Cannot be verified - NOT pinned (" in out
    assert f"{d / 'fifo-tool'}: not a regular file" in out
    assert f"{d / 'big'}: larger than max_hash_bytes" in out
    assert raw_controls(r.stdout) == []
    pinned = {e["path"] for e in yaml.safe_load(guard_env.allowlist.read_text())["entries"]}
    assert str(d / "ok") in pinned
    assert str(d / "fifo-tool") not in pinned and str(d / "big") not in pinned


def test_corrupt_allowlist_is_a_clear_error(guard_env: GuardEnv) -> None:
    write_allowlist(guard_env, "version: 1\nentries: [\n")
    for cmd in ("audit", "init"):
        r = run_guard(guard_env, cmd, path=SYS)
        assert r.returncode == 2 and b"guard: error:" in r.stderr, (cmd, r.stderr)
        assert b"Traceback" not in r.stderr


def test_a_commands_list_others_can_write_is_refused(guard_env: GuardEnv) -> None:
    cfg = guard_env.guard_config_dir
    cfg.mkdir(mode=0o700, parents=True, exist_ok=True)
    p = cfg / "commands.txt"
    p.write_text("aws pip:evil-aws\n")
    p.chmod(0o666)
    rc, _, err = audit(guard_env, SYS)
    assert rc == 2 and b"commands list" in err and b"chmod 600" in err
