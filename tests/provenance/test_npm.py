"""npm provenance against real installs: npm itself installs the fixture folders of
tests/fixtures/npm into a temp project (as a link, and as a packed tarball) and into a temp
global prefix, offline, with a temp cache and HOME."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from guard._cli import main
from guard.provenance.lookup import provenance_of
from guard.provenance.npm import package_root
from tests.conftest import GuardEnv, guard_exe, need
from tests.core import seed_os_index
from tests.fixtures import npm_folder, npm_project, quiet_env, run

CURL_BIN = "curl = ./dist/curl.js"


@pytest.fixture(autouse=True)
def _sandbox(guard_env: GuardEnv) -> GuardEnv:
    return guard_env


@pytest.fixture(scope="module")
def npm_tree(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One real npm install of each kind, shared by the module (read-only afterwards)."""
    npm = need("npm")
    root = tmp_path_factory.mktemp("npm")
    home = root / "home"
    home.mkdir()
    env = quiet_env(home)
    curl, wget = npm_folder(root, "evil-curl"), npm_folder(root, "evil-wget")
    linked = npm_project(root / "linked")
    run([npm, "install", str(curl), str(wget)], env, cwd=linked)
    run([npm, "pack", str(curl), "--pack-destination", str(root)], env, cwd=root)
    packed = npm_project(root / "packed")
    run([npm, "install", str(root / "evil-curl-1.0.3.tgz")], env, cwd=packed)
    prefix = root / "global"
    run([npm, "install", "--global", "--prefix", str(prefix), str(curl)], env, cwd=root)
    return {"root": root, "curl": curl, "linked": linked, "packed": packed, "global": prefix}


def prov(path: Path):  # noqa: ANN201
    return provenance_of(str(path), os.path.realpath(path))


def test_linked_folder_install(npm_tree: dict[str, Path]) -> None:
    """``npm install ./folder`` links the package: the real path is outside node_modules, so
    the package is found on the symlink chain, not by walking up from the real file."""
    bin_curl = npm_tree["linked"] / "node_modules" / ".bin" / "curl"
    assert bin_curl.is_symlink()
    real = os.path.realpath(bin_curl)
    assert "node_modules" not in real  # it lives in the source folder
    p = prov(bin_curl)
    assert (p.kind, p.package, p.version) == ("npm", "evil-curl", "1.0.3")
    d = p.detail
    assert d["bin"] == CURL_BIN
    assert d["package_json"] == str(
        npm_tree["linked"] / "node_modules" / "evil-curl" / "package.json"
    )
    # The hidden lockfile's record of where the link goes (relative to the project).
    assert os.path.realpath(npm_tree["linked"] / d["resolved"]) == str(npm_tree["curl"])
    assert p.short() == f"npm:evil-curl 1.0.3 (bin {CURL_BIN})"
    json.dumps(p.to_json())


def test_nested_package_json_is_not_the_package(npm_tree: dict[str, Path]) -> None:
    """dist/package.json holds only "type"; the package is the dir under node_modules."""
    pj = npm_tree["linked"] / "node_modules" / "evil-curl" / "dist" / "package.json"
    assert json.loads(pj.read_text()) == {"type": "commonjs"}
    assert package_root(str(pj)) == str(npm_tree["linked"] / "node_modules" / "evil-curl")
    assert prov(npm_tree["linked"] / "node_modules" / ".bin" / "curl").package == "evil-curl"


def test_scoped_package_with_string_bin(npm_tree: dict[str, Path]) -> None:
    p = prov(npm_tree["linked"] / "node_modules" / ".bin" / "wget")
    assert (p.package, p.version, p.detail["bin"]) == ("@evil/wget", "0.2.0", "wget = cli.js")


def test_tarball_install_is_a_copy(npm_tree: dict[str, Path]) -> None:
    bin_curl = npm_tree["packed"] / "node_modules" / ".bin" / "curl"
    real = os.path.realpath(bin_curl)
    assert real == str(npm_tree["packed"] / "node_modules" / "evil-curl" / "dist" / "curl.js")
    p = prov(bin_curl)
    assert (p.package, p.version, p.detail["bin"]) == ("evil-curl", "1.0.3", CURL_BIN)
    assert p.detail["resolved"].endswith("evil-curl-1.0.3.tgz")
    assert p.detail["integrity"].startswith("sha512-")
    # The real file on its own (say, a copy of node_modules run directly) is enough too.
    assert provenance_of(real, real).package == "evil-curl"


def test_global_prefix(npm_tree: dict[str, Path]) -> None:
    bin_curl = npm_tree["global"] / "bin" / "curl"
    assert os.readlink(bin_curl).startswith("../lib/node_modules/evil-curl/")
    p = prov(bin_curl)
    assert (p.package, p.version, p.detail["bin"]) == ("evil-curl", "1.0.3", CURL_BIN)
    assert p.detail["package_json"] == str(
        npm_tree["global"] / "lib" / "node_modules" / "evil-curl" / "package.json"
    )


def test_guard_check_names_the_npm_package(
    guard_env: GuardEnv, npm_tree: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    seed_os_index(guard_env)
    bindir = npm_tree["linked"] / "node_modules" / ".bin"
    monkeypatch.setenv("PATH", f"{bindir}:/usr/bin:/bin")
    assert main(["check", "curl"]) == 1
    out = capsys.readouterr().out
    assert f"[npm:evil-curl 1.0.3 (bin {CURL_BIN})]" in out
    if os.path.isfile("/usr/bin/curl"):
        assert "(shadowing)" in out and "/usr/bin/curl" in out
    assert main(["check", "curl", "--json"]) == 1
    v = json.loads(capsys.readouterr().out)
    assert v["provenance"]["kind"] == "npm" and v["provenance"]["detail"]["bin"] == CURL_BIN


def test_guard_check_process_global_prefix(guard_env: GuardEnv, npm_tree: dict[str, Path]) -> None:
    r = subprocess.run(
        [*guard_exe(), "check", "curl"],
        env=guard_env.env(PATH=f"{npm_tree['global'] / 'bin'}:/usr/bin:/bin"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 1, r.stderr
    assert f"[npm:evil-curl 1.0.3 (bin {CURL_BIN})]" in r.stdout


def test_hostile_package_json(guard_env: GuardEnv) -> None:
    """A package.json that is garbage, a FIFO, or has a name full of escapes: no crash, no
    raw control character in the message."""
    nm = guard_env.root / "proj" / "node_modules"
    for name, body in (("junk", b"\xff{not json"), ("esc", None)):
        (nm / name / "bin").mkdir(parents=True)
        script = nm / name / "bin" / "x.js"
        script.write_text("#!/usr/bin/env node\n")
        if body is not None:
            (nm / name / "package.json").write_bytes(body)
    (nm / "esc" / "package.json").write_text(
        json.dumps({"name": "evil\x1b]0;pwned\x07\n", "version": 7, "bin": {"x": "bin/x.js"}})
    )
    assert prov(nm / "junk" / "bin" / "x.js").kind == "unknown"
    p = prov(nm / "esc" / "bin" / "x.js")
    assert p.package == "evil\x1b]0;pwned\x07\n" and p.version == "7"
    assert "\x1b" not in p.short() and "\n" not in p.short() and "\\x1b" in p.short()
    (nm / "fifo" / "bin").mkdir(parents=True)
    (nm / "fifo" / "bin" / "x.js").write_text("#!/usr/bin/env node\n")
    os.mkfifo(nm / "fifo" / "package.json")
    assert prov(nm / "fifo" / "bin" / "x.js").kind == "unknown"
