"""provenance_of: the order of sources (OS package, pip, npm, Homebrew, unknown), Homebrew
kegs, the decision's use of provenance, and hostile metadata (FIFOs, loops, escapes, junk)."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from guard._cli import main
from guard.decide import decide
from guard.model import Provenance, Reason
from guard.provenance import load_os_db
from guard.provenance import pip as pipprov
from guard.provenance.lookup import provenance_of
from tests.conftest import GuardEnv
from tests.core import script, seed_os_index

LS = "/usr/bin/ls"
needs_dpkg_ls = pytest.mark.skipif(
    not (os.path.isfile("/var/lib/dpkg/status") and os.path.isfile(LS)),
    reason="needs a Debian-family system with coreutils' /usr/bin/ls",
)


def site(prefix: Path) -> Path:
    sp = prefix / "lib" / "python3.11" / "site-packages"
    sp.mkdir(parents=True, exist_ok=True)
    return sp


def dist_info(sp: Path, name: str, record: bytes, metadata: bytes | None = None) -> Path:
    """A dist-info as an attacker might write it by hand (the hostile-input tests)."""
    d = sp / name
    d.mkdir()
    (d / "RECORD").write_bytes(record)
    if metadata is not None:
        (d / "METADATA").write_bytes(metadata)
    return d


def keg(prefix: Path, formula: str, version: str, exe: str) -> Path:
    """A Homebrew keg and its link, laid out as `brew install` + `brew link` leave them."""
    k = prefix / "Cellar" / formula / version
    script(k / "bin", exe, b"#!/bin/sh\necho brewed\n")
    (k / "INSTALL_RECEIPT.json").write_text('{"homebrew_version": "4.2.0"}\n')
    (prefix / "bin").mkdir(parents=True, exist_ok=True)
    (prefix / "bin" / exe).symlink_to(f"../Cellar/{formula}/{version}/bin/{exe}")
    (prefix / "opt").mkdir(exist_ok=True)
    (prefix / "opt" / formula).symlink_to(f"../Cellar/{formula}/{version}")
    return k


@needs_dpkg_ls
def test_os_package_first(guard_env: GuardEnv) -> None:
    seed_os_index(guard_env)
    db = load_os_db(guard_env.cache / "guard")
    p = provenance_of(LS, os.path.realpath(LS), osdb=db)
    assert (p.kind, p.package, p.digest_ok) == ("dpkg", "coreutils", True)
    assert p.detail["algo"] == "md5"
    assert provenance_of(LS, os.path.realpath(LS)).kind == "unknown"  # no osdb: not asked


def test_homebrew_keg_through_its_links(guard_env: GuardEnv) -> None:
    brew = guard_env.root / "homebrew"
    keg(brew, "jq", "1.7.1", "jq")
    link = brew / "bin" / "jq"
    p = provenance_of(str(link), os.path.realpath(link))
    assert (p.kind, p.package, p.version, p.digest_ok) == ("homebrew", "jq", "1.7.1", None)
    assert p.detail == {
        "formula": "jq",
        "version": "1.7.1",
        "cellar": str(brew / "Cellar"),
        "receipt": True,
    }
    assert p.short() == "homebrew:jq 1.7.1"
    via_opt = brew / "opt" / "jq" / "bin" / "jq"
    assert provenance_of(str(via_opt), os.path.realpath(via_opt)).package == "jq"


def test_unknown(guard_env: GuardEnv) -> None:
    s = script(guard_env.bindir("bin"), "aws")
    p = provenance_of(str(s), str(s))
    assert (p.kind, p.package, p.short(), p.to_json()["kind"]) == (
        "unknown",
        None,
        "unknown",
        "unknown",
    )


def test_never_raises_on_odd_paths(guard_env: GuardEnv) -> None:
    b = guard_env.bindir("bin")
    (b / "loop").symlink_to("loop")
    assert provenance_of(str(b / "loop"), None).kind == "unknown"
    assert provenance_of(str(b / "missing"), None).kind == "unknown"
    assert provenance_of(str(b), str(b)).kind == "unknown"  # a directory
    assert provenance_of("/", "/").kind == "unknown"


def test_fifo_script_and_fifo_record_do_not_hang(guard_env: GuardEnv) -> None:
    """A FIFO where a script or a RECORD should be must not block the lookup (a FIFO opened
    for reading blocks until a writer comes; the watchdog fails the test instead of hanging)."""
    prefix = guard_env.root / "venv"
    sp = site(prefix)
    (prefix / "bin").mkdir()
    os.mkfifo(prefix / "bin" / "aws")
    dist_info(sp, "evil-1.0.dist-info", b"../../../bin/aws,sha256=AAAA,10\n")
    (sp / "other-2.0.dist-info").mkdir()
    os.mkfifo(sp / "other-2.0.dist-info" / "RECORD")
    result: list[Provenance] = []
    t = threading.Thread(
        target=lambda: result.append(
            provenance_of(str(prefix / "bin" / "aws"), str(prefix / "bin" / "aws"))
        ),
        daemon=True,
    )
    t.start()
    t.join(30)
    assert result, "provenance_of hung on a FIFO"
    (p,) = result
    assert (p.package, p.detail["record_ok"]) == ("evil", None)


def test_hostile_metadata_is_escaped_and_json_safe(guard_env: GuardEnv) -> None:
    """Raw bytes in a file name, escapes in METADATA: the lookup still answers, short() shows
    no raw control character, and to_json() encodes."""
    prefix = guard_env.root / "venv"
    sp = site(prefix)
    name = b"\xff\xfeaws"
    exe = os.path.join(os.fsencode(prefix / "bin"), name)
    os.makedirs(os.path.dirname(exe))
    with open(exe, "wb") as f:
        f.write(b"#!/bin/sh\n")
    dist_info(
        sp,
        "evil-1.0.dist-info",
        b"../../../bin/" + name + b",,\n",
        b"Metadata-Version: 2.1\nName: evil\x1b[2J\xe2\x80\xaeowned\nVersion: 1.0\n\n",
    )
    p = provenance_of(os.fsdecode(exe), os.fsdecode(exe))
    assert p.kind == "pip" and p.version == "1.0"
    assert "\x1b" not in p.short() and "\u202e" not in p.short()
    assert "\\x1b" in p.short() and "\\u202e" in p.short()
    json.dumps(p.to_json())


def test_record_cannot_claim_a_file_outside_its_environment(guard_env: GuardEnv) -> None:
    """A script elsewhere whose shebang points into an attacker's venv: that venv's RECORD
    naming the script (by a ``../`` path out of the venv) does not make it the owner."""
    venv = guard_env.root / "venv"
    script(venv / "bin", "python", b"#!/bin/sh\n")
    victim = script(guard_env.bindir("tools"), "tool", f"#!{venv}/bin/python\n".encode())
    rel = os.path.relpath(victim, site(venv))
    dist_info(site(venv), "evil-1.0.dist-info", f"{rel},,\n".encode())
    assert pipprov.shebang_interpreter(str(victim)) == str(venv / "bin" / "python")
    assert provenance_of(str(victim), str(victim)).kind == "unknown"


def test_undecodable_names_still_encode(guard_env: GuardEnv) -> None:
    """Raw bytes in a dist-info dir name, a lone surrogate in package.json: to_json() output
    encodes as UTF-8 (what `guard check --json` and the event log write)."""
    prefix = guard_env.root / "venv"
    script(prefix / "bin", "aws", b"#!/bin/sh\n")
    os.mkdir(os.path.join(os.fsencode(site(prefix)), b"ev\xffil-1.0.dist-info"))
    rec = os.path.join(os.fsencode(site(prefix)), b"ev\xffil-1.0.dist-info", b"RECORD")
    Path(os.fsdecode(rec)).write_bytes(b"../../../bin/aws,,\n")
    p = provenance_of(str(prefix / "bin" / "aws"), str(prefix / "bin" / "aws"))
    assert p.package == "ev\\xffil"
    nm = guard_env.root / "proj" / "node_modules" / "x"
    script(nm, "cli.js", b"#!/usr/bin/env node\n")
    (nm / "package.json").write_text('{"name": "\\ud800x", "version": "1", "bin": "cli.js"}')
    q = provenance_of(str(nm / "cli.js"), str(nm / "cli.js"))
    assert q.package == "\\ud800x"
    for v in (p, q):
        json.dumps(v.to_json(), ensure_ascii=False).encode("utf-8")
        v.short().encode("utf-8")


def test_junk_record_rows_and_unstorable_names(guard_env: GuardEnv) -> None:
    """Garbage rows are skipped; a dist-info name with a newline is not cached (it could not
    be stored safely) yet is found on every lookup."""
    prefix = guard_env.root / "venv"
    sp = site(prefix)
    script(prefix / "bin", "aws", b"#!/bin/sh\n")
    junk = b'\x00\xff,,,\n"unterminated\n,\n../\n' * 50
    dist_info(sp, "junk-0.dist-info", junk)
    dist_info(sp, "odd\nname-1.0.dist-info", b"../../../bin/aws,,\n")
    for _ in range(2):
        pipprov._SITES.clear()
        p = provenance_of(str(prefix / "bin" / "aws"), str(prefix / "bin" / "aws"))
        assert (p.kind, p.package, p.version) == ("pip", "odd\nname", "1.0")
        assert "\n" not in p.short()


def test_untrusted_interpreter_names_its_source(
    guard_env: GuardEnv, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    """A pinned script's `#!/usr/bin/env node` finds a planted node: the deny names the
    package that planted it."""
    seed_os_index(guard_env)
    if not os.path.isfile("/usr/bin/env"):
        pytest.skip("no /usr/bin/env")
    brew = guard_env.root / "homebrew"
    keg(brew, "node", "21.0.0", "node")
    tool = script(guard_env.bindir("tools"), "tool", b"#!/usr/bin/env node\nconsole.log(1)\n")
    path = f"{brew / 'bin'}:{tool.parent}:/usr/bin:/bin"
    monkeypatch.setenv("PATH", path)
    assert main(["trust", str(tool)]) == 0
    v = decide("tool", path, "/")
    assert v.reason == Reason.INTERPRETER
    assert "[homebrew:node 21.0.0]" in v.message


def test_which_shows_provenance_of_every_candidate(
    guard_env: GuardEnv, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    brew = guard_env.root / "homebrew"
    keg(brew, "jq", "1.7.1", "jq")
    other = script(guard_env.bindir("other"), "jq")
    monkeypatch.setenv("PATH", f"{brew / 'bin'}:{other.parent}")
    assert main(["trust", str(brew / "bin" / "jq")]) == 0
    capsys.readouterr()
    assert main(["which", "jq"]) == 0  # the winner is pinned: which still names its source
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"* {brew / 'bin' / 'jq'}") and out[0].endswith(
        "pinned [homebrew:jq 1.7.1]"
    )
    assert out[1] == f"  {other}  untrusted"
    assert main(["which", "-j", "jq"]) == 0
    rows = json.loads(capsys.readouterr().out)["candidates"]
    assert rows[0]["provenance"]["detail"]["formula"] == "jq"
    assert rows[1]["provenance"] == {
        "kind": "unknown",
        "package": None,
        "version": None,
        "digest_ok": None,
    }
