"""events.jsonl from the hook query, its rotation, and the mode (config.yaml vs GUARD_MODE)."""

from __future__ import annotations

import json

import pytest

from guard._cli import main
from tests.conftest import GuardEnv
from tests.core import run_guard, script, seed_os_index, write_config


@pytest.fixture
def ge(guard_env: GuardEnv, monkeypatch: pytest.MonkeyPatch) -> GuardEnv:
    seed_os_index(guard_env)
    monkeypatch.chdir(guard_env.root)
    return guard_env


def events(ge: GuardEnv, suffix: str = "") -> list[dict]:
    p = ge.state / "guard" / f"events.jsonl{suffix}"
    if not p.exists():
        return []
    return [json.loads(line) for line in p.read_text().splitlines()]


def query(capsys, *words: str, shell: str = "bash") -> str:
    assert main(["_query", "--shell", shell, *words]) == 0
    return capsys.readouterr().out


def test_query_logs_one_line_per_deny(ge: GuardEnv, capsys, monkeypatch) -> None:
    evil = ge.bindir("venv/bin")
    planted = script(evil, "ls")
    fresh = script(evil, "fresh-tool")
    monkeypatch.setenv("PATH", f"{evil}:/usr/bin")
    out = query(capsys, "ls", "cat", "fresh-tool", "nope-zz")
    assert out.count("__guard_put ") == 4
    got = events(ge)
    assert [e["word"] for e in got] == ["ls", "fresh-tool"]  # allowed and not-found: no line
    shadow, untrusted = got
    assert shadow["event"] == "block" and shadow["mode"] == "block"
    assert shadow["reason"] == "shadowing" and shadow["path"] == str(planted)
    assert shadow["shadowed"] == "/usr/bin/ls" and shadow["shell"] == "bash"
    assert shadow["ts"].endswith("Z")
    assert untrusted["reason"] == "untrusted" and untrusted["path"] == str(fresh)
    raw = (ge.state / "guard" / "events.jsonl").read_bytes()
    assert raw.count(b"\n") == 2 and all(b < 0x80 for b in raw)  # pure ASCII JSON lines


def test_query_as_process_logs_and_reports_block(ge: GuardEnv) -> None:
    evil = ge.bindir("evil")
    script(evil, "ls")
    r = run_guard(ge, "_query", "--shell", "bash", "ls", path=f"{evil}:/usr/bin")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(b"__guard_put ls block ")
    assert [e["reason"] for e in events(ge)] == ["shadowing"]


@pytest.mark.parametrize("mode", ["warn", "monitor"])
def test_warn_and_monitor_still_log(ge: GuardEnv, capsys, monkeypatch, mode: str) -> None:
    script(ge.bindir("bin"), "fresh")
    monkeypatch.setenv("PATH", str(ge.bindir("bin")))
    monkeypatch.setenv("GUARD_MODE", mode)
    out = query(capsys, "fresh")
    assert out.startswith(f"__guard_put fresh {mode} ")
    [e] = events(ge)
    assert e["event"] == mode and e["mode"] == mode and e["reason"] == "untrusted"


def test_events_rotate_past_max_bytes(ge: GuardEnv, capsys, monkeypatch) -> None:
    write_config(ge, "events_max_bytes: 4000\n")
    d = ge.bindir("bin")
    for i in range(12):
        script(d, f"t{i}")
    monkeypatch.setenv("PATH", str(d))
    for i in range(12):
        query(capsys, f"t{i}")
    live = ge.state / "guard" / "events.jsonl"
    old = ge.state / "guard" / "events.jsonl.1"
    assert old.exists()
    assert live.stat().st_size <= 4000 and old.stat().st_size <= 4000
    cur, prev = events(ge), events(ge, ".1")
    assert cur and prev
    assert cur[-1]["word"] == "t11"  # newest line in the live file
    words = [e["word"] for e in prev + cur]
    assert words == sorted(words, key=lambda w: int(w[1:]))  # contiguous, oldest first
    assert words[-1] == "t11" and len(words) < 12  # older ones rotated away: bounded
    assert oct(live.stat().st_mode & 0o777) == "0o600"


def test_guard_mode_overrides_config_in_status(ge: GuardEnv) -> None:
    write_config(ge, "mode: warn\n")
    r = run_guard(ge, "status", "--json")
    doc = json.loads(r.stdout)
    assert (doc["mode"], doc["mode_source"]) == ("warn", "config")
    r = run_guard(ge, "status", "--json", GUARD_MODE="monitor")
    doc = json.loads(r.stdout)
    assert (doc["mode"], doc["mode_source"]) == ("monitor", "GUARD_MODE")
    r = run_guard(ge, "status", GUARD_MODE="BLOCK")
    assert r.returncode == 0
    assert b"block" in r.stdout and b"GUARD_MODE" in r.stdout


@pytest.mark.parametrize("value", ["bogus", "blocked", "warn\x1b[2J"])
def test_invalid_guard_mode_is_exit_2(ge: GuardEnv, value: str) -> None:
    for cmd in (["status"], ["check", "ls"], ["_query", "--shell", "bash", "ls"]):
        r = run_guard(ge, *cmd, GUARD_MODE=value)
        err = r.stderr.decode()
        assert r.returncode == 2, (cmd, err)
        assert "GUARD_MODE" in err and "block, warn or monitor" in err
        assert "Traceback" not in err and "\x1b" not in err


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("mode: strict\n", "mode must be block, warn or monitor"),
        ("mode: [block]\n", "mode must be a str"),
        ("trust_os_packages: 'no'\n", "trust_os_packages must be a bool"),
        ("max_hash_bytes: 1.5\n", "max_hash_bytes must be a int"),
        ("max_hash_bytes: -1\n", "max_hash_bytes must be positive"),
        ("colour: red\n", "unknown setting 'colour'"),
        ("- a\n", "expected a mapping"),
        ("mode: block\nmode: warn\n", "duplicate key 'mode'"),
        ("mode: [\n", "line 2"),
    ],
)
def test_bad_config_is_exit_2_clear(ge: GuardEnv, capsys, text: str, want: str) -> None:
    p = write_config(ge, text)
    rc = main(["status"])
    err = capsys.readouterr().err
    assert rc == 2
    assert str(p) in err and want in err
    assert p.read_text() == text


def test_config_max_hash_bytes_applies(ge: GuardEnv, capsys, monkeypatch) -> None:
    d = ge.bindir("bin")
    script(d, "big", b"#!/bin/sh\n" + b"#" * 5000 + b"\n")
    monkeypatch.setenv("PATH", str(d))
    assert main(["check", "big"]) == 1
    assert "(untrusted)" in capsys.readouterr().out
    write_config(ge, "max_hash_bytes: 4096\n")
    assert main(["check", "big"]) == 1
    out = capsys.readouterr().out
    assert "(unreadable)" in out and "max_hash_bytes (4096 bytes)" in out


def test_deny_from_check_is_logged_too(ge: GuardEnv, capsys, monkeypatch) -> None:
    script(ge.bindir("bin"), "fresh")
    monkeypatch.setenv("PATH", str(ge.bindir("bin")))
    assert main(["check", "fresh"]) == 1
    assert main(["check", "nope-zz"]) == 1  # not-found: nothing to log
    assert [e["reason"] for e in events(ge)] == ["untrusted"]
