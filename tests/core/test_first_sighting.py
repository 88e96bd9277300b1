"""The hook's query on a first sighting: started isolated and without ``site``, hashing with
the cheaper SHA-256 for small files, parsing no YAML and opening no package DB for a pinned
file — and still the same verdicts (benchmarks/bench_first.py measures the speed)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import guard
from guard._cli import main
from guard.allowlist import Pin, load_allowlist, update_allowlist
from guard.decide import Context, decide
from guard.hashing import SMALL_FILE, _builtin, _openssl, digest_file
from guard.hookfiles import guard_command, import_dirs
from guard.hookquery import query
from guard.model import Reason
from guard.paths import locations
from tests.conftest import GuardEnv
from tests.core import SYSTEM_PATH, script, seed_os_index

LS = "/usr/bin/ls"
needs_dpkg_ls = pytest.mark.skipif(
    not (os.path.isfile("/var/lib/dpkg/status") and os.path.isfile(LS)),
    reason="needs a Debian-family system with coreutils' /usr/bin/ls",
)
QUERY = ["_query", "--shell", "bash", "--want-mode", "--"]


@pytest.fixture
def ge(guard_env: GuardEnv) -> GuardEnv:
    seed_os_index(guard_env)
    return guard_env


def pinned_tool(ge: GuardEnv, size: int = 1000) -> Path:
    """A pinned binary (no #! line, so no interpreter to check as well)."""
    body = Path("/usr/bin/true").read_bytes() + os.urandom(size)
    tool = script(ge.bindir("bin"), "tool", body)
    assert main(["trust", str(tool)]) == 0
    return tool


# -- the command the hooks run ----------------------------------------------------------------


def test_hook_command_is_absolute_isolated_and_skips_site() -> None:
    cmd = guard_command()
    assert cmd[0] == sys.executable and os.path.isabs(cmd[0])
    assert cmd[1:3] == ["-I", "-S"] and cmd[3] == "-c"
    dirs = import_dirs()
    assert dirs is not None and all(os.path.isabs(d) for d in dirs)
    assert dirs[0] == os.path.dirname(os.path.dirname(os.path.abspath(guard.__file__)))
    assert f"sys.path+={dirs!r};" in cmd[4]


def test_hook_command_ignores_a_hostile_environment_and_cwd(ge: GuardEnv) -> None:
    """PYTHONPATH, PYTHONSTARTUP, PYTHONHOME, a user site and the current directory all offer
    a planted `guard` package or start-up code; none of it may run, and the answer is right."""
    tool = pinned_tool(ge)
    evil = ge.bindir("evil")
    marker = ge.root / "MARKER"
    plant = f"open({str(marker)!r}, 'a').write(__name__ + '\\n')\n"
    for rel in (
        "guard/__init__.py",
        "guard/_cli.py",
        "sitecustomize.py",
        "usercustomize.py",
        "startup.py",
        "hashlib.py",
        "xxhash.py",
        "lib/python3/site-packages/usercustomize.py",
    ):
        p = evil / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(plant)
    env = ge.env(
        PATH=f"{tool.parent}:{SYSTEM_PATH}",
        PYTHONPATH=str(evil),
        PYTHONSTARTUP=str(evil / "startup.py"),
        PYTHONHOME=str(evil),  # honoured, the interpreter would not even start
        PYTHONUSERBASE=str(evil),
    )
    r = subprocess.run(
        [*guard_command(), *QUERY, "tool"], env=env, cwd=evil, capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    assert "__guard_put tool ok " in r.stdout
    assert not marker.exists(), marker.read_text()


def test_pth_files_in_the_venv_never_run(ge: GuardEnv, tmp_path: Path) -> None:
    """A venv whose site-packages holds guard through a .pth path line (as editable installs
    do) and a planted .pth with code: the rendered command finds guard without `site`, so the
    planted code never runs, while the same interpreter with `site` runs it."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = str(venv / "bin" / "python")
    purelib = subprocess.run(
        [py, "-c", "import sysconfig;print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    dirs = import_dirs()
    assert dirs is not None
    (Path(purelib) / "guard-dev.pth").write_text("".join(d + "\n" for d in dirs))
    marker = ge.root / "PTH-RAN"
    (Path(purelib) / "zz-evil.pth").write_text(f"import os; open({str(marker)!r}, 'w').close()\n")
    rendered = subprocess.run(
        [
            py,
            "-c",
            "import json;from guard.hookfiles import guard_command as g;print(json.dumps(g()))",
        ],
        env=ge.env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    cmd = json.loads(rendered)
    assert cmd[0] == py and "-S" in cmd
    marker.unlink()  # rendering ran with site: the .pth did run there
    tool = pinned_tool(ge)
    env = ge.env(PATH=f"{tool.parent}:{SYSTEM_PATH}")
    r = subprocess.run([*cmd, *QUERY, "tool"], env=env, capture_output=True, text=True)
    assert r.returncode == 0 and "__guard_put tool ok " in r.stdout, r.stderr
    assert not marker.exists()
    subprocess.run([py, "-I", "-c", "pass"], env=env, check=True)  # the control: with site
    assert marker.exists()


def test_rendering_in_a_directory_with_a_yaml_package_does_not_bake_it_in(tmp_path: Path) -> None:
    """`python -m guard hook bash` puts the current directory on sys.path; a yaml/ there must
    not become part of every later query."""
    evil = tmp_path / "here"
    (evil / "yaml").mkdir(parents=True)
    (evil / "yaml" / "__init__.py").write_text("raise SystemExit('planted yaml imported')\n")
    r = subprocess.run(
        [sys.executable, "-m", "guard", "hook", "bash"], cwd=evil, capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    first = r.stdout.split("\n", 1)[0]
    assert "'-S'" in first and str(evil) not in first


def test_a_list_that_would_find_another_yaml_falls_back(tmp_path: Path) -> None:
    """guard's directory goes first in the list; if a yaml/ sits there that the running guard
    does not use (site-packages comes first for it), naming that directory would change what
    is imported: the command keeps site instead."""
    pkg = Path(guard.__file__).parent
    side = tmp_path / "side"
    (side / "yaml").mkdir(parents=True)
    (side / "yaml" / "__init__.py").write_text("raise SystemExit('wrong yaml')\n")
    (side / "guard").symlink_to(pkg, target_is_directory=True)
    code = (
        f"import sys,json;sys.path.append({str(side)!r});"
        "import guard.hookfiles as h;print(json.dumps([h.__file__, h.guard_command()]))"
    )
    # -I: no current directory on sys.path; site stays on, so yaml is found in site-packages
    r = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    where, cmd = json.loads(r.stdout)
    if not where.startswith(str(side)):
        pytest.skip("guard is found earlier on sys.path (installed into site-packages)")
    assert "-S" not in cmd and cmd[1:3] == ["-I", "-c"]


def test_guard_from_a_zip_keeps_site(tmp_path: Path) -> None:
    """Where guard is not a package in a plain directory, no path can be named: the command
    falls back to `-I` with site, which still finds it."""
    pkg = Path(guard.__file__).parent
    z = tmp_path / "guard.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for f in pkg.rglob("*.py"):
            zf.write(f, f"guard/{f.relative_to(pkg)}")
    code = (
        f"import sys,json;sys.path.insert(0,{str(z)!r});import guard.hookfiles as h;"
        f"assert h.__file__.startswith({str(z)!r});print(json.dumps(h.guard_command()))"
    )
    r = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    cmd = json.loads(r.stdout)
    assert cmd == [
        sys.executable,
        "-I",
        "-c",
        "import sys;from guard._cli import main;sys.exit(main())",
    ]


# -- hashing ----------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 4095, SMALL_FILE - 1, SMALL_FILE, SMALL_FILE + 1])
def test_builtin_and_openssl_digests_agree(size: int) -> None:
    data = os.urandom(size)
    got = []
    for make in (_builtin, _openssl):
        pair = make(True)
        assert pair is not None
        sha, md5 = pair
        sha.update(data)
        md5.update(data)
        got.append((sha.hexdigest(), md5.hexdigest()))
    assert got[0] == got[1] == (hashlib.sha256(data).hexdigest(), hashlib.md5(data).hexdigest())


@pytest.mark.parametrize("size", [10, SMALL_FILE, SMALL_FILE + 1, 3 << 20])
def test_fresh_process_loads_openssl_only_for_big_files(tmp_path: Path, size: int) -> None:
    """The observable side of the speed rule: a small file is hashed without loading OpenSSL
    (~2.5 ms), a big one with it (~5x faster per byte); both give hashlib's digests."""
    p = tmp_path / "f"
    data = os.urandom(size)
    p.write_bytes(data)
    code = (
        f"import sys;sys.path+={import_dirs()!r};from guard.hashing import digest_file;"
        f"d=digest_file({str(p)!r}, want_md5=True);"
        "print(d.sha256, d.md5, '_hashlib' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out[:2] == [hashlib.sha256(data).hexdigest(), hashlib.md5(data).hexdigest()]
    assert out[2] == str(size > SMALL_FILE)
    assert digest_file(str(p)).sha256 == out[0]  # and this process (OpenSSL loaded) agrees


def test_a_process_hashing_many_small_files_loads_openssl(tmp_path: Path) -> None:
    """The built-in SHA-256 is for the first SMALL_FILE bytes of a process only: `trust
    --dir` or `init` over many small files must not hash all of them 5x slower."""
    files = []
    for i in range(3):
        p = tmp_path / f"f{i}"
        p.write_bytes(os.urandom(SMALL_FILE // 2 + 1))
        files.append(str(p))
    code = (
        f"import sys;sys.path+={import_dirs()!r};from guard.hashing import digest_file\n"
        f"for p in {files!r}: print(digest_file(p).sha256, '_hashlib' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert [line.split()[1] for line in out if line] == ["False", "True", "True"]
    for line, p in zip(out, files):
        assert line.split()[0] == hashlib.sha256(Path(p).read_bytes()).hexdigest()


# -- no YAML, no package DB for a pinned file's first sighting --------------------------------


def _modules_after_query(ge: GuardEnv, word: str, path: str) -> tuple[str, set[str]]:
    code = (
        f"import sys;sys.path+={import_dirs()!r};from guard.hookquery import query;"
        f"print(query('bash', [{word!r}], {{}}), end='\\0');print(*sorted(sys.modules))"
    )
    r = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code],
        env=ge.env(PATH=path),
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    reply, mods = r.stdout.split("\0")
    return reply, set(mods.split())


def test_trust_writes_the_allowlist_index(ge: GuardEnv) -> None:
    """`guard trust` leaves the index the next check needs, byte for byte what that check
    would build from the YAML, so the first sighting after it does not parse YAML."""
    odd = script(ge.bindir("bin"), b"odd-\xff-name")
    tool = pinned_tool(ge)
    assert main(["trust", str(odd), "--note", "a note: with 'quotes'"]) == 0
    loc = locations()
    index = Path(loc.index_file("allowlist"))
    written = index.read_bytes()
    index.unlink()
    al = load_allowlist(loc)
    assert index.read_bytes() == written
    assert set(al.pins) == {str(tool), str(odd)}
    os.utime(tool, ns=(1, 1))  # a first sighting: the verify cache misses
    reply, mods = _modules_after_query(ge, "tool", f"{tool.parent}:{SYSTEM_PATH}")
    assert reply.startswith("__guard_put tool ok ")
    assert "yaml" not in mods and "guard.yamlstore" in mods
    assert not any(m == "guard.provenance" or m.startswith("guard.provenance.") for m in mods)


@needs_dpkg_ls
def test_pinned_os_file_is_judged_by_its_pin_alone(ge: GuardEnv, monkeypatch) -> None:
    monkeypatch.setenv("PATH", "/usr/bin")
    assert main(["trust", LS]) == 0
    reply, mods = _modules_after_query(ge, "ls", "/usr/bin")
    assert reply.startswith("__guard_put ls ok ")
    assert "guard.provenance" not in mods
    # Reports still name the package of a pinned OS file.
    v = decide("ls", "/usr/bin", "/")
    assert v.reason == Reason.PINNED and v.provenance is not None
    assert v.provenance.package == "coreutils"
    ctx = Context()
    ctx.pinned_owner = False
    v = decide("ls", "/usr/bin", "/", ctx=ctx)
    assert v.reason == Reason.PINNED and v.provenance is None


@needs_dpkg_ls
def test_pin_that_does_not_match_still_gets_the_package_evidence(ge: GuardEnv, monkeypatch) -> None:
    """The deferred package lookup: a pinned OS file whose pin differs is MODIFIED, and the
    message still says the file is intact as dpkg recorded it (MD5, hashed after the fact)."""
    monkeypatch.setenv("PATH", "/usr/bin")
    update_allowlist(locations(), [Pin(LS, LS, "0" * 64)], [])
    for pinned_owner in (True, False):
        ctx = Context()
        ctx.pinned_owner = pinned_owner
        v = decide("ls", "/usr/bin", "/", ctx=ctx)
        ctx.close()
        assert v.reason == Reason.MODIFIED and not v.allowed
        assert v.provenance is not None and v.provenance.package == "coreutils"
        assert v.provenance.digest_ok is True
    reply = query("bash", ["ls"], {})
    assert "__guard_put ls block" in reply and "dpkg:coreutils" in reply
