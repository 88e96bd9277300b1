"""The dpkg provenance source against this machine's real dpkg database (and, where a test must
change dpkg's state, a copy of it in a temp dir)."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from guard.provenance import OsPackageDB, load_os_db, to_provenance
from guard.provenance.dpkg import ADMINDIR, INDEX_NAME

STATUS = Path(ADMINDIR) / "status"
pytestmark = pytest.mark.skipif(
    not STATUS.is_file(), reason="no dpkg database on this machine (/var/lib/dpkg/status)"
)


def md5(path: str) -> str:
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


def dpkg_version(package: str) -> str:
    """What dpkg itself says, as an oracle independent of our status parser."""
    out = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", package],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout


@pytest.fixture
def cache_dir(guard_env) -> Path:
    """An empty cache dir in the sandbox: the first load builds the index."""
    return guard_env.cache / "guard"


@pytest.fixture(scope="module")
def built_index(tmp_path_factory) -> Path:
    """One real build per module; lookup-only tests start from a copy (a build is ~0.5 s)."""
    d = tmp_path_factory.mktemp("dpkg-index")
    OsPackageDB.load(d)
    return d / INDEX_NAME


@pytest.fixture
def warm_cache(cache_dir, built_index) -> Path:
    """The sandbox cache dir already holding a current index."""
    cache_dir.mkdir(mode=0o700)
    shutil.copy(built_index, cache_dir / INDEX_NAME)
    return cache_dir


def test_ls_is_owned_by_coreutils_with_its_md5(guard_env, cache_dir):
    real = os.path.realpath("/usr/bin/ls")
    db = OsPackageDB.load()  # default cache dir: the sandboxed XDG_CACHE_HOME
    owner = db.owner(real)
    assert owner is not None
    assert owner.package == "coreutils"
    assert owner.version == dpkg_version("coreutils")
    assert owner.algo == "md5"
    assert owner.digest == md5(real)
    assert Path(db.index_path) == cache_dir / INDEX_NAME
    assert (cache_dir / INDEX_NAME).is_file()
    assert stat.S_IMODE(cache_dir.stat().st_mode) == 0o700


def test_merged_usr_listing_resolves_to_real_path(guard_env, warm_cache):
    """coreutils lists /bin/ls on Debian 12; the file the shell runs is /usr/bin/ls."""
    if not os.path.islink("/bin"):
        pytest.skip("/bin is not a merged-/usr symlink here")
    listed = (Path(ADMINDIR) / "info" / "coreutils.list").read_text().splitlines()
    db = OsPackageDB.load(warm_cache)
    aliased = [p for p in listed if p.startswith("/bin/") and os.path.isfile(p)]
    if not aliased:
        pytest.skip("coreutils lists nothing under /bin on this release")
    for p in aliased:
        real = os.path.realpath(p)
        assert real != p
        owner = db.owner(real)
        assert owner is not None and owner.package == "coreutils", p
        assert owner.digest == md5(real), p


def test_most_of_usr_bin_is_owned_and_verifies(guard_env, warm_cache):
    """A whole-directory cross-check: a wrong alias mapping or owner shows up as digest
    mismatches or as files nobody owns."""
    db = OsPackageDB.load(warm_cache)
    files = [e.path for e in os.scandir("/usr/bin") if e.is_file(follow_symlinks=False)]
    verified, mismatched = [], []
    for f in files:
        owner = db.owner(f)
        if owner is not None and owner.digest is not None:
            (verified if owner.digest == md5(f) else mismatched).append(f)
    assert len(verified) >= 0.9 * len(files), (len(verified), len(files))
    assert len(mismatched) <= 0.01 * len(files), mismatched


def test_temp_file_and_directories_are_not_owned(guard_env, warm_cache):
    planted = guard_env.plant(guard_env.bindir("bin"), "ls", "#!/bin/sh\necho pwned\n")
    db = OsPackageDB.load(warm_cache)
    assert db.owner(os.path.realpath(planted)) is None
    assert db.owner("/usr/bin") is None  # listed by many packages, but a directory
    assert db.owner("/usr/bin/ls\n") is None
    assert db.owner("/usr/bin/\udcff-not-utf8") is None


def test_to_provenance_carries_package_version_and_check(guard_env, warm_cache):
    owner = OsPackageDB.load(warm_cache).owner(os.path.realpath("/usr/bin/ls"))
    assert owner is not None
    prov = to_provenance(owner, True)
    assert prov.kind == "dpkg"
    assert (prov.package, prov.version, prov.digest_ok) == ("coreutils", owner.version, True)
    assert prov.short() == f"dpkg:coreutils {owner.version}"
    assert prov.to_json()["detail"] == {"algo": "md5", "digest": owner.digest}
    assert to_provenance(owner, False).digest_ok is False


def test_load_os_db_picks_dpkg(guard_env, warm_cache):
    db = load_os_db(warm_cache)
    assert isinstance(db, OsPackageDB)
    assert db.source == "dpkg"
    assert db.owner(os.path.realpath("/usr/bin/ls")).package == "coreutils"


def test_second_load_is_served_from_cache(guard_env, cache_dir):
    first = OsPackageDB.load(cache_dir)
    index = cache_dir / INDEX_NAME
    before = index.stat()
    builds = OsPackageDB.builds
    second = OsPackageDB.load(cache_dir)
    after = index.stat()
    assert second.built is False
    assert OsPackageDB.builds == builds
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    real = os.path.realpath("/usr/bin/ls")
    assert second.owner(real) == first.owner(real)


@pytest.mark.parametrize(
    "damage",
    ["garbage", "truncated", "empty", "fifo", "directory"],
)
def test_damaged_cache_is_rebuilt(guard_env, warm_cache, damage):
    assert OsPackageDB.load(warm_cache).built is False
    index = warm_cache / INDEX_NAME
    if damage == "garbage":
        index.write_bytes(b"\x00\xffnot an index\n" * 100)
    elif damage == "truncated":
        data = index.read_bytes()
        index.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        index.write_bytes(b"")
    elif damage == "fifo":
        index.unlink()
        os.mkfifo(index)  # opening it for reading must not hang
    else:
        index.unlink()
        index.mkdir()
    db = OsPackageDB.load(warm_cache)
    assert db.built is True
    real = os.path.realpath("/usr/bin/ls")
    assert db.owner(real).digest == md5(real)
    if damage != "directory":  # a directory in the way cannot be replaced: memory only
        assert OsPackageDB.load(warm_cache).built is False


def test_unwritable_cache_still_answers(guard_env):
    blocker = guard_env.root / "not-a-dir"
    blocker.write_text("a file where the cache dir should be")
    db = OsPackageDB.load(blocker / "guard")
    assert db.built is True
    assert db.owner(os.path.realpath("/usr/bin/ls")).package == "coreutils"


def test_missing_admindir_raises(guard_env, cache_dir):
    with pytest.raises(FileNotFoundError):
        OsPackageDB.load(cache_dir, admindir=str(guard_env.root / "no-dpkg"))


# -- a fabricated admindir: dpkg's layout with our own packages, so state can change --------
def _copy_package(admindir: Path, name: str) -> None:
    for ext in ("list", "md5sums"):
        src = Path(ADMINDIR) / "info" / f"{name}.{ext}"
        if src.exists():
            shutil.copy(src, admindir / "info" / src.name)


def _replace(path: Path, data: str) -> None:
    """Write the way dpkg does: a new file renamed over the old one."""
    tmp = path.with_name(path.name + "-new")
    tmp.write_text(data)
    os.replace(tmp, path)


def _stanza(name: str, version: str) -> str:
    return (
        f"Package: {name}\nStatus: install ok installed\nArchitecture: all\n"
        f"Version: {version}\nDescription: guard test\n\n"
    )


@pytest.fixture
def admindir(guard_env) -> Path:
    d = guard_env.root / "dpkg"
    (d / "info").mkdir(parents=True)
    (d / "updates").mkdir()
    (d / "status").write_text(_stanza("coreutils", "9.9-guardtest"))
    _copy_package(d, "coreutils")
    return d


def _add_package(admindir: Path, name: str, files: dict[Path, bytes]) -> None:
    info = admindir / "info"
    (info / f"{name}.list").write_text("/.\n" + "".join(f"{p}\n" for p in files))
    sums = "".join(
        f"{hashlib.md5(b).hexdigest()}  {str(p).lstrip('/')}\n" for p, b in files.items()
    )
    (info / f"{name}.md5sums").write_text(sums)
    status = (admindir / "status").read_text()
    _replace(admindir / "status", status + _stanza(name, "1.0"))


def test_reindexes_when_dpkg_state_changes(guard_env, cache_dir, admindir):
    tool = guard_env.bindir("opt") / "tool"
    tool.write_bytes(b"#!/bin/sh\n")
    real_ls = os.path.realpath("/usr/bin/ls")

    db = OsPackageDB.load(cache_dir, admindir=str(admindir))
    assert db.built is True
    assert db.owner(real_ls).version == "9.9-guardtest"
    assert db.owner(str(tool)) is None
    assert OsPackageDB.load(cache_dir, admindir=str(admindir)).built is False

    _add_package(admindir, "guardtest-tool", {tool: tool.read_bytes()})
    db = OsPackageDB.load(cache_dir, admindir=str(admindir))
    assert db.built is True
    owner = db.owner(str(tool))
    assert owner is not None
    assert (owner.package, owner.version, owner.digest) == ("guardtest-tool", "1.0", md5(tool))

    status = (admindir / "status").read_text().replace("9.9-guardtest", "9.10-guardtest")
    _replace(admindir / "status", status)
    db = OsPackageDB.load(cache_dir, admindir=str(admindir))
    assert db.built is True
    assert db.owner(real_ls).version == "9.10-guardtest"


def test_diverted_file_is_owned_where_it_really_is(guard_env, cache_dir, admindir):
    """dpkg-divert --package guardtest-wrapper --rename /opt/x/tool /opt/x/tool.real:
    guardtest-tool's file lands at tool.real; tool itself is the wrapper's."""
    opt = guard_env.bindir("x")
    tool, moved = opt / "tool", opt / "tool.real"
    orig, wrapper = b"the packaged tool\n", b"#!/bin/sh\nexec tool.real\n"
    moved.write_bytes(orig)
    tool.write_bytes(wrapper)
    _add_package(admindir, "guardtest-tool", {tool: orig})
    _add_package(admindir, "guardtest-wrapper", {tool: wrapper})
    (admindir / "diversions").write_text(f"{tool}\n{moved}\nguardtest-wrapper\n")

    db = OsPackageDB.load(cache_dir, admindir=str(admindir))
    at_tool, at_moved = db.owner(str(tool)), db.owner(str(moved))
    assert at_tool is not None and at_moved is not None
    assert (at_tool.package, at_tool.digest) == ("guardtest-wrapper", md5(tool))
    assert (at_moved.package, at_moved.digest) == ("guardtest-tool", md5(moved))


def test_local_diversion_moves_every_package_file(guard_env, cache_dir, admindir):
    opt = guard_env.bindir("y")
    tool, moved = opt / "tool", opt / "tool.distrib"
    moved.write_bytes(b"packaged\n")
    _add_package(admindir, "guardtest-tool", {tool: b"packaged\n"})
    (admindir / "diversions").write_text(f"{tool}\n{moved}\n:\n")
    db = OsPackageDB.load(cache_dir, admindir=str(admindir))
    assert db.owner(str(tool)) is None  # whatever is there now is the admin's, not dpkg's
    assert db.owner(str(moved)).digest == md5(moved)


def test_listing_through_a_symlinked_dir_indexes_the_real_path(guard_env, cache_dir, admindir):
    """The merged-/usr situation, fabricated: the package lists <alias>/tool, the alias dir
    is a symlink, lookups come by the real path."""
    real_dir = guard_env.bindir("usr-bin")
    alias = guard_env.root / "bin"
    alias.symlink_to(real_dir.name)
    (real_dir / "tool").write_bytes(b"binary\n")
    _add_package(admindir, "guardtest-tool", {alias / "tool": b"binary\n"})
    db = OsPackageDB.load(cache_dir, admindir=str(admindir))
    owner = db.owner(str(real_dir / "tool"))
    assert owner is not None and owner.package == "guardtest-tool"
    assert owner.digest == md5(str(real_dir / "tool"))
    assert db.owner(str(alias / "tool")) is None  # lookups are by real path only
