"""The rpm provenance source against a real rpm database: a package built with rpmbuild and
registered (``--justdb``, no files written) in a temp dbpath. Skipped without rpm tooling."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from guard.provenance import to_provenance
from guard.provenance.rpm import INDEX_NAME, RPM_PROGRAMS, RpmPackageDB

RPM = next((p for p in RPM_PROGRAMS if os.access(p, os.X_OK)), None)
RPMBUILD = "/usr/bin/rpmbuild"
pytestmark = pytest.mark.skipif(
    RPM is None or not os.access(RPMBUILD, os.X_OK), reason="rpm and rpmbuild are not installed"
)

SPEC = """\
Name: guardtest
Version: 1.0
Release: 1
Epoch: 2
Summary: guard test package
License: MIT
BuildArch: noarch
%description
guard test package
%install
mkdir -p %{buildroot}/opt/guardtest/bin %{buildroot}/etc
printf 'hello\\n' > %{buildroot}/opt/guardtest/bin/hello
printf 'conf\\n' > %{buildroot}/etc/guardtest.conf
ln -s hello %{buildroot}/opt/guardtest/bin/hi
%files
%dir /opt/guardtest
/opt/guardtest/bin
%config /etc/guardtest.conf
"""


@pytest.fixture
def rpmdb(guard_env) -> Path:
    top, db = guard_env.root / "rpmtop", guard_env.root / "rpmdb"
    top.mkdir()
    (top / "t.spec").write_text(SPEC)
    env = guard_env.env()
    run = {"env": env, "check": True, "capture_output": True, "stdin": subprocess.DEVNULL}
    subprocess.run(
        [RPMBUILD, "-bb", "--define", f"_topdir {top}", "--define", "_build_id_links none"]
        + [str(top / "t.spec")],
        **run,
    )
    (pkg,) = (top / "RPMS" / "noarch").glob("*.rpm")
    subprocess.run([RPM, "--dbpath", str(db), "--initdb"], **run)
    subprocess.run([RPM, "--dbpath", str(db), "-i", "--justdb", "--nodeps", str(pkg)], **run)
    return db


def test_rpm_owner_version_and_sha256(guard_env, rpmdb):
    cache = guard_env.cache / "guard"
    db = RpmPackageDB.load(cache, dbpath=str(rpmdb))
    assert db.built is True
    assert (cache / INDEX_NAME).is_file()
    owner = db.owner("/opt/guardtest/bin/hello")
    assert owner is not None
    assert (owner.package, owner.version, owner.algo) == ("guardtest", "2:1.0-1", "sha256")
    assert owner.digest == hashlib.sha256(b"hello\n").hexdigest()
    assert owner.source == "rpm"
    assert to_provenance(owner, True).short() == "rpm:guardtest 2:1.0-1"
    conf = db.owner("/etc/guardtest.conf")
    assert conf is not None and conf.digest is None  # %config: admins edit it
    link = db.owner("/opt/guardtest/bin/hi")
    assert link is not None and link.digest is None
    assert db.owner("/opt/guardtest/bin") is None  # a directory
    assert db.owner("/opt/guardtest/bin/other") is None
    assert RpmPackageDB.load(cache, dbpath=str(rpmdb)).built is False


def test_rpm_reindexes_after_a_transaction(guard_env, rpmdb):
    cache = guard_env.cache / "guard"
    assert RpmPackageDB.load(cache, dbpath=str(rpmdb)).owner("/opt/guardtest/bin/hello")
    subprocess.run(
        [RPM, "--dbpath", str(rpmdb), "-e", "--justdb", "--nodeps", "guardtest"],
        env=guard_env.env(),
        check=True,
        capture_output=True,
        stdin=subprocess.DEVNULL,
    )
    db = RpmPackageDB.load(cache, dbpath=str(rpmdb))
    assert db.built is True
    assert db.owner("/opt/guardtest/bin/hello") is None
