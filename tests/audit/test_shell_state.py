"""--shell-state: functions, aliases and hash-table entries the shell applies before PATH."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.audit import SYS, audit, found, plant, sys_command
from tests.conftest import GuardEnv


def state_file(ge: GuardEnv, doc: object) -> Path:
    p = ge.root / "state.json"
    p.write_text(json.dumps(doc))
    return p


def test_functions_aliases_and_hash_entries(guard_env: GuardEnv) -> None:
    ifconfig = sys_command("ifconfig")
    blkid = sys_command("blkid")
    evil = plant(guard_env.bindir("evil"), "chroot")
    elsewhere = plant(guard_env.bindir("elsewhere"), "blkid")
    st = state_file(
        guard_env,
        {
            "version": 1,
            "shell": "bash",
            "functions": ["ifconfig", "my_helper"],
            "aliases": {
                "ifconfig": "ifconfig -a",  # runs the command itself: fine
                "chroot": f"sudo=1 {evil} --all",  # runs another, untrusted file
                "ll": "ls -l",  # not a command name
            },
            "hashed": {"ifconfig": ifconfig, "blkid": str(elsewhere)},
        },
    )
    rc, doc, _ = audit(guard_env, SYS, "--shell-state", str(st))
    (fn,) = found(doc, "shell.function")
    assert fn["name"] == "ifconfig" and fn["paths"] == [ifconfig]
    (al,) = found(doc, "shell.alias")
    assert al["name"] == "chroot" and al["severity"] == "high"
    assert str(evil) in al["paths"] and "untrusted" in al["message"]
    (h,) = found(doc, "shell.hash-off-path")
    assert h["name"] == "blkid" and h["paths"] == [str(elsewhere)]
    assert h["severity"] == "high" and "hash -r" in h["fix"]
    assert blkid not in h["paths"]
    assert rc == 1


def test_a_function_map_and_an_empty_state_work(guard_env: GuardEnv) -> None:
    sys_command("ifconfig")
    st = state_file(guard_env, {"functions": {"ifconfig": "ifconfig () { :; }"}})
    _, doc, _ = audit(guard_env, SYS, "--shell-state", str(st))
    assert found(doc, "shell.function", "ifconfig")
    st = state_file(guard_env, {})
    rc, doc, _ = audit(guard_env, SYS, "--shell-state", str(st))
    assert doc["findings"] == [] and rc == 0


def test_bad_state_files_are_clear_errors(guard_env: GuardEnv) -> None:
    bad = guard_env.root / "bad.json"
    for text, msg in (
        ("{not json", b"not valid JSON"),
        ('["a list"]', b"expected a JSON object"),
        ('{"aliases": {"a": 1}}', b"'aliases' must map names to strings"),
        ('{"version": 9}', b"unsupported version"),
    ):
        bad.write_text(text)
        rc, out, err = audit(guard_env, SYS, "--shell-state", str(bad))
        assert rc == 2 and msg in err and b"Traceback" not in err, (text, err)
    fifo = guard_env.root / "fifo"
    os.mkfifo(fifo)
    rc, _, err = audit(guard_env, SYS, "--shell-state", str(fifo))
    assert rc == 2 and b"not a regular file" in err
    rc, _, err = audit(guard_env, SYS, "--shell-state", str(guard_env.root / "missing"))
    assert rc == 2 and b"No such file" in err
