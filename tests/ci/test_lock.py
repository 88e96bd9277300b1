"""`guard lock` writes guard.lock; `guard verify` checks a machine against it: 0 when it
matches, 1 with a diff naming what changed, 2 with a clear message on a missing/corrupt lock."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml

from guard.discover import Found, make_recipes
from tests.conftest import GuardEnv
from tests.core import SYSTEM_PATH, raw_controls, run_guard, script, seed_os_index

TRUE = shutil.which("true", path=SYSTEM_PATH) or "/bin/true"


@pytest.fixture
def ge(guard_env: GuardEnv) -> GuardEnv:
    seed_os_index(guard_env)
    return guard_env


def tools(ge: GuardEnv, *names: str) -> Path:
    """A PATH dir holding one distinct executable per name."""
    b = ge.bindir("bin")
    for n in names:
        script(b, n, f"#!/bin/sh\necho {n}\n".encode())
    return b


def lock(ge: GuardEnv, *args: str, path: str, cwd: Path):
    r = run_guard(ge, "lock", *args, path=path, cwd=cwd)
    assert r.returncode == 0, r.stderr
    return r


def verify(ge: GuardEnv, *args: str, path: str, cwd: Path):
    return run_guard(ge, "verify", *args, path=path, cwd=cwd)


def test_unchanged_machine_verifies(ge: GuardEnv) -> None:
    b = tools(ge, "ci-a", "ci-b")
    path = f"{b}:{SYSTEM_PATH}"
    lock(ge, "ci-a", "ci-b", path=path, cwd=ge.root)
    r = verify(ge, path=path, cwd=ge.root)
    assert r.returncode == 0, r.stdout + r.stderr
    assert b"all 2 tools in guard.lock match" in r.stdout


def test_one_tool_changed_exit_1_and_the_diff_names_it(ge: GuardEnv) -> None:
    b = tools(ge, "ci-a", "ci-b", "ci-c")
    path = f"{b}:{SYSTEM_PATH}"
    lock(ge, "ci-a", "ci-b", "ci-c", path=path, cwd=ge.root)
    (b / "ci-b").write_bytes(b"#!/bin/sh\necho wrapped; exec /bin/true\n")
    r = verify(ge, path=path, cwd=ge.root)
    assert r.returncode == 1
    out = r.stdout.decode()
    assert "1 of 3 tools" in out
    assert "ci-b: sha256 changed" in out and "now untrusted" in out
    assert "ci-a" not in out.split("\n", 1)[1].replace("guard lock ci-b", "")
    assert "guard lock ci-b" in out


def test_shadowed_missing_and_path_changes(ge: GuardEnv) -> None:
    b = tools(ge, "ci-a", "ci-b", "ci-c")
    path = f"{b}:{SYSTEM_PATH}"
    lock(ge, "ci-a", "ci-b", "ci-c", path=path, cwd=ge.root)
    early = ge.bindir("venv/bin")
    script(early, "ci-a", b"#!/bin/sh\necho planted\n")  # shadows the locked ci-a
    (b / "ci-b").unlink()  # gone
    moved = ge.bindir("moved")
    os.replace(b / "ci-c", moved / "ci-c")  # same content, another dir
    r = verify(ge, path=f"{early}:{b}:{moved}:{SYSTEM_PATH}", cwd=ge.root)
    assert r.returncode == 1
    out = r.stdout.decode()
    assert (
        f"ci-a: shadowed: {early}/ci-a now comes first on PATH, before the locked {b}/ci-a" in out
    )
    assert f"ci-b: missing: not found on PATH (locked {b}/ci-b)" in out
    assert f"ci-c: path changed {b}/ci-c → {moved}/ci-c" in out
    assert "ci-c: sha256" not in out  # the content did not change


def test_interpreter_change_is_reported(ge: GuardEnv) -> None:
    b = ge.bindir("bin")
    interp = b / "ci-sh"
    shutil.copy2(TRUE, interp)
    script(b, "ci-tool", f"#!{interp}\n".encode())
    path = f"{b}:{SYSTEM_PATH}"
    lock(ge, "ci-tool", path=path, cwd=ge.root)
    doc = (ge.root / "guard.lock").read_text()
    assert f"interpreters:\n    - path: {interp}" in doc
    interp.write_bytes(b"#!/bin/sh\necho not the interpreter you locked\n")
    r = verify(ge, path=path, cwd=ge.root)
    assert r.returncode == 1
    assert f"ci-tool: interpreter {interp} sha256 changed".encode() in r.stdout


def test_json_shape(ge: GuardEnv) -> None:
    b = tools(ge, "ci-a", "ci-b")
    path = f"{b}:{SYSTEM_PATH}"
    lock(ge, "ci-a", "ci-b", path=path, cwd=ge.root)
    (b / "ci-a").write_bytes(b"#!/bin/sh\necho changed\n")
    r = verify(ge, "--json", path=path, cwd=ge.root)
    assert r.returncode == 1
    doc = json.loads(r.stdout)
    assert doc["ok"] is False and doc["checked"] == 2 and doc["changed"] == 1
    assert doc["lock"] == "guard.lock"
    a, bb = doc["tools"]
    assert (a["name"], a["ok"], a["path"]) == ("ci-a", False, f"{b}/ci-a")
    (c,) = a["changes"]
    assert c["kind"] == "sha256" and len(c["locked"]) == 64 and len(c["now"]) == 64
    assert c["locked"] != c["now"] and c["message"].startswith("ci-a: sha256 changed")
    assert bb == {"name": "ci-b", "ok": True, "path": f"{b}/ci-b", "changes": []}


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("version: 1\ntools: [\n", b"guard.lock: line 3, column 1:"),
        ("version: 7\ntools: {}\n", b"lock version 7 is not supported"),
        (
            "version: 1\ntools:\n  jq: {path: /usr/bin/jq, sha256: nothex}\n",
            b"tool jq: sha256 must",
        ),
        ("version: 1\ntools:\n  jq: {path: relative/jq, sha256: x}\n", b"must be an absolute path"),
        (
            "version: 1\ntools:\n  jq: {path: /a, real: /a, sha256: x, extra: 1}\n",
            b"unknown key 'extra'",
        ),
        ("", b"empty; regenerate it"),
        ("- just\n- a list\n", b"not a guard.lock"),
    ],
)
def test_corrupt_lock_exit_2_clear_message(ge: GuardEnv, text: str, expect: bytes) -> None:
    (ge.root / "guard.lock").write_text(text)
    r = verify(ge, path=SYSTEM_PATH, cwd=ge.root)
    assert r.returncode == 2
    assert expect in r.stderr, r.stderr
    assert b"Traceback" not in r.stderr and r.stderr.count(b"\n") == 1
    rj = verify(ge, "--json", path=SYSTEM_PATH, cwd=ge.root)
    assert rj.returncode == 2
    assert json.loads(rj.stdout)["ok"] is False


def test_missing_lock_and_fifo_lock(ge: GuardEnv) -> None:
    r = verify(ge, path=SYSTEM_PATH, cwd=ge.root)
    assert r.returncode == 2
    assert b"guard.lock: no such file; create it with `guard lock`" in r.stderr
    fifo = ge.root / "fifo.lock"
    os.mkfifo(fifo)
    r = verify(ge, "--lock", str(fifo), path=SYSTEM_PATH, cwd=ge.root)  # must not hang
    assert r.returncode == 2
    assert b"is not a regular file" in r.stderr


def test_lock_is_deterministic_and_sorted(ge: GuardEnv) -> None:
    b = tools(ge, "ci-z", "ci-a", "ci-m")
    path = f"{b}:{SYSTEM_PATH}"
    lock(ge, "ci-z", "ci-a", "ci-m", path=path, cwd=ge.root)
    first = (ge.root / "guard.lock").read_bytes()
    (ge.root / "guard.lock").unlink()
    lock(ge, "ci-m", "ci-z", "ci-a", path=path, cwd=ge.root)
    assert (ge.root / "guard.lock").read_bytes() == first
    names = [ln.strip(" :") for ln in first.decode().splitlines() if ln.startswith("  ci-")]
    assert names == ["ci-a", "ci-m", "ci-z"]
    assert b"\nversion: 1\ntools:\n" in first


def test_named_lock_merges_and_update_repins(ge: GuardEnv) -> None:
    b = tools(ge, "ci-a", "ci-b")
    path = f"{b}:{SYSTEM_PATH}"
    lock(ge, "ci-a", path=path, cwd=ge.root)
    lock(ge, "ci-b", path=path, cwd=ge.root)
    assert verify(ge, path=path, cwd=ge.root).stdout.startswith(b"guard verify: all 2 tools")
    (b / "ci-a").write_bytes(b"#!/bin/sh\necho v2\n")
    assert verify(ge, path=path, cwd=ge.root).returncode == 1
    lock(ge, "--update", path=path, cwd=ge.root)
    assert verify(ge, path=path, cwd=ge.root).returncode == 0


def test_named_tool_not_found_is_an_error_and_writes_nothing(ge: GuardEnv) -> None:
    r = run_guard(ge, "lock", "no-such-tool-xyz", path=SYSTEM_PATH, cwd=ge.root)
    assert r.returncode == 2
    assert b"no-such-tool-xyz: not found on PATH" in r.stderr
    assert not (ge.root / "guard.lock").exists()


def test_non_utf8_path_round_trips(ge: GuardEnv) -> None:
    d = ge.root / os.fsdecode(b"bin-\xff")
    script(d, "ci-a")
    path = f"{d}:{SYSTEM_PATH}"
    lock(ge, "ci-a", path=path, cwd=ge.root)
    assert b"!!binary" in (ge.root / "guard.lock").read_bytes()
    assert verify(ge, path=path, cwd=ge.root).returncode == 0
    (d / "ci-a").unlink()
    r = verify(ge, path=path, cwd=ge.root)
    assert r.returncode == 1
    assert b"ci-a: missing: not found on PATH (locked " in r.stdout
    assert b"/bin-\\xff/ci-a)" in r.stdout  # escaped, never the raw byte
    assert b"\xff" not in r.stdout and raw_controls(r.stdout) == []


# --- discovery: `guard lock` with no names --------------------------------------------------

WORKFLOW = """\
name: ci
on: push
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: |
          ci-wf --version
          FOO=1 ci-wf2 build && echo done | ci-wf3
          ${{ matrix.tool }} --x
      - run: import os; ci-not-shell()
        shell: python
"""
GITLAB = """\
default:
  before_script: [ci-gl-before]
build:
  script:
    - ci-gl run
    - - nested-ok-ci
"""
MAKEFILE = "all:\n\t@ci-mk -o $(OUT) && $(CC) x.c\n\tcd sub; ci-mk2\n"
SCRIPT = """\
#!/bin/sh
set -e
helper() { ci-sh-in-fn; }
helper
cat <<END
ci-in-heredoc
END
sudo -u root ci-under-sudo --flag
./local/tool
for f in a b; do ci-loop "$f"; done
"""


def test_discovery_finds_ci_tools_and_reports_skips(ge: GuardEnv) -> None:
    repo = ge.root / "repo"
    (repo / ".github/workflows").mkdir(parents=True)
    (repo / ".github/workflows/ci.yml").write_text(WORKFLOW)
    (repo / ".gitlab-ci.yml").write_text(GITLAB)
    (repo / "Makefile").write_text(MAKEFILE)
    (repo / "scripts").mkdir()
    (repo / "scripts/release.sh").write_text(SCRIPT)
    names = [
        "ci-wf", "ci-wf2", "ci-wf3", "ci-gl-before", "ci-gl", "nested-ok-ci", "ci-mk",
        "ci-mk2", "ci-sh-in-fn", "ci-under-sudo", "ci-loop", "ci-in-heredoc", "ci-not-shell",
        "sudo", "cat",
    ]  # fmt: skip
    b = tools(ge, *names)
    r = lock(ge, path=f"{b}:{SYSTEM_PATH}", cwd=repo)
    locked = yaml.safe_load((repo / "guard.lock").read_text())["tools"]
    assert set(locked) == set(names) - {"ci-in-heredoc", "ci-not-shell"}
    assert locked["ci-wf"]["used_in"] == [".github/workflows/ci.yml"]
    assert locked["ci-mk"]["used_in"] == ["Makefile"]
    assert locked["ci-loop"]["used_in"] == ["scripts/release.sh"]
    assert locked["ci-gl"]["path"] == f"{b}/ci-gl"
    err = r.stderr.decode()
    assert "skipped set: a shell builtin" in err
    assert "skipped helper: a function defined in the script" in err
    assert "skipped ./local/tool: a path, not looked up on PATH" in err
    assert "skipped ${{ matrix.tool }}: built at run time" in err
    assert verify(ge, path=f"{b}:{SYSTEM_PATH}", cwd=repo).returncode == 0


def test_discovery_skips_tools_not_on_path(ge: GuardEnv) -> None:
    repo = ge.root / "repo"
    repo.mkdir()
    (repo / "build.sh").write_text("ci-absent-xyz --go\n")
    r = lock(ge, path=SYSTEM_PATH, cwd=repo)
    assert b"skipped ci-absent-xyz: not found on PATH (in build.sh)" in r.stderr
    assert "tools: {}" in (repo / "guard.lock").read_text()


def test_broken_workflow_yaml_is_a_warning_not_a_crash(ge: GuardEnv) -> None:
    repo = ge.root / "repo"
    (repo / ".github/workflows").mkdir(parents=True)
    (repo / ".github/workflows/bad.yml").write_text("jobs: [\n")
    r = lock(ge, path=SYSTEM_PATH, cwd=repo)
    assert b"guard: warning: .github/workflows/bad.yml: line" in r.stderr


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("a | b && c || d; e & f", ["a", "b", "c", "d", "e", "f"]),
        ("X=1 Y=$(date) make -j2", ["date", "make"]),
        ("env A=1 -u B node x.js", ["env", "node"]),
        ("timeout 10 npm test", ["timeout", "npm"]),
        ("command -v git || apt-get install -y git", ["command", "apt-get"]),
        ("nice -n 5 xargs -I{} rsync {} dest", ["nice", "xargs", "rsync"]),
        ("if grep -q x f; then sed -i s/a/b/ f; fi > out", ["grep", "sed"]),
        ('case "$1" in a|b) curl -s u ;; *) wget u ;; esac', ["curl", "wget"]),
        ("[[ -n $x ]] && jq . f 2>&1 >/dev/null", ["jq"]),
        ("echo 'a; not-a-cmd' \"b | nope\"", ["echo"]),
        ("tar -c . \\\n  | gzip > x", ["tar", "gzip"]),
        ("x=`hostname`; (cd d && ls)", ["hostname", "cd", "ls"]),
        ("# a comment; rm -rf /\ntrue # rm", ["true"]),
        ("cat <<-X | sort\n\tnot-a-cmd\n\tX\nuniq", ["cat", "sort", "uniq"]),
    ],
)
def test_command_word_tokenizer(text: str, want: list[str]) -> None:
    f = Found()
    f.add_text(text, "t")
    assert sorted(set(f.tools) | set(f.skipped)) == sorted(want)


def test_make_recipes_keep_only_recipe_lines() -> None:
    text = "CC := gcc\nall: x\n\t@$(CC) -c a.c && ci-tool $$HOME\n\t-rm -f x \\\n\t  && ci-two\n"
    f = Found()
    f.add_text(make_recipes(text), "Makefile")
    assert set(f.tools) == {"ci-tool", "rm", "ci-two"}
