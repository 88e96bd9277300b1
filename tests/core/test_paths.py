"""guard computes its XDG dirs itself on Linux (for start-up speed); they must be exactly
platformdirs' answers, and every file guard touches must live under them."""

from __future__ import annotations

import json
import sys

import pytest

from guard._cli import main
from guard.paths import locations, platformdirs_locations
from tests.conftest import GuardEnv
from tests.core import script, seed_os_index

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG on Linux")

XDG = ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME")


def as_tuple(loc) -> tuple[str, str, str, str]:
    return (str(loc.config_dir), str(loc.data_dir), str(loc.state_dir), str(loc.cache_dir))


@pytest.mark.parametrize(
    "env",
    [
        {},  # all unset: ~/.config etc.
        {"XDG_CONFIG_HOME": "/x/conf", "XDG_CACHE_HOME": "/x/cache"},
        {"XDG_CONFIG_HOME": "relative/conf"},  # relative: ignored, per the XDG spec
        {"XDG_STATE_HOME": ""},  # empty: ignored
        {"XDG_DATA_HOME": "/x/data/"},  # trailing slash
        {"HOME": "/home/someone/"},  # trailing slash on HOME
        {"HOME": "/"},
        {"HOME": "relative-home"},  # a relative HOME counts as unset
    ],
)
def test_locations_match_platformdirs(monkeypatch, env: dict[str, str]) -> None:
    monkeypatch.setenv("HOME", "/home/tester")
    for k in XDG:
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    ours, theirs = as_tuple(locations()), as_tuple(platformdirs_locations())
    if any(not p.startswith("/") for p in theirs):
        # platformdirs before 4.5 (the last line for Python 3.9) still used a relative XDG value
        # as given; guard follows the XDG spec and the newer platformdirs: ignore it.
        for o, t, d in zip(ours, theirs, (".config", ".local/share", ".local/state", ".cache")):
            assert o == t if t.startswith("/") else o.endswith(f"/{d}/guard") and o[0] == "/"
        return
    assert ours == theirs


def test_every_guard_file_lives_in_the_sandbox(guard_env: GuardEnv, capsys, monkeypatch) -> None:
    """status names the XDG dirs, and trust/check/query write nowhere else (HOME untouched)."""
    seed_os_index(guard_env)
    d = guard_env.bindir("bin")
    script(d, "tool")
    script(d, "fresh")
    monkeypatch.setenv("PATH", f"{d}:/usr/bin")
    monkeypatch.chdir(guard_env.root)
    assert main(["trust", "tool"]) == 0
    assert main(["check", "tool"]) == 0
    assert main(["_query", "--shell", "bash", "fresh"]) == 0
    capsys.readouterr()
    assert main(["status", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["allowlist"] == str(guard_env.config / "guard" / "allowlist.yaml")
    assert doc["config"] == str(guard_env.config / "guard" / "config.yaml")
    assert doc["cache"] == str(guard_env.cache / "guard")
    assert doc["events"] == str(guard_env.state / "guard" / "events.jsonl")
    assert (guard_env.state / "guard" / "events.jsonl").exists()
    assert list(guard_env.home.iterdir()) == []
