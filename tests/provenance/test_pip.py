"""pip provenance against real installs: wheels built from tests/fixtures/wheelsrc, installed by
real pip into real venvs, with ``--user`` under a temp HOME, and in pipx / uv tool layouts."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from guard._cli import main
from guard.model import Provenance
from guard.provenance import pip as pipprov
from guard.provenance.lookup import provenance_of
from tests.conftest import GuardEnv, guard_exe
from tests.core import seed_os_index
from tests.fixtures import (
    EVIL_AWS,
    EVIL_AWS_1_1,
    HOMOGLYPH_AWS,
    LS_TWIN,
    LSJACK,
    build_wheel,
    make_venv,
    pip_install,
    quiet_env,
    run,
)

AWS_EP = "aws = evil_aws.cli:main"


@pytest.fixture(autouse=True)
def _sandbox(guard_env: GuardEnv) -> GuardEnv:
    """Every lookup writes its per-environment cache under the sandbox's XDG_CACHE_HOME."""
    return guard_env


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("wheels")
    specs = {"evil": EVIL_AWS, "evil11": EVIL_AWS_1_1, "lsjack": LSJACK, "twin": LS_TWIN}
    return {k: build_wheel(s, d) for k, s in specs.items()}


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory, wheels: dict[str, Path]) -> Path:
    """A venv with its own pip (and setuptools), into which that pip installs two jackers."""
    root = tmp_path_factory.mktemp("main")
    v = make_venv(root / "venv", with_pip=True)
    pip = str(v / "bin" / "pip")
    run([pip, "install", "--no-deps", str(wheels["evil"]), str(wheels["lsjack"])], quiet_env(root))
    return v


def prov(path: Path) -> Provenance:
    return provenance_of(str(path), os.path.realpath(path))


def site_packages(prefix: Path) -> Path:
    (sp,) = prefix.glob("lib/python*/site-packages")
    return sp


def test_console_script_names_dist_version_entry_point(venv: Path) -> None:
    p = prov(venv / "bin" / "aws")
    assert (p.kind, p.package, p.version, p.digest_ok) == ("pip", "evil-aws", "1.0", True)
    d = p.detail
    assert d["dist"] == "evil-aws" and d["version"] == "1.0"
    assert d["entry_point"] == AWS_EP and d["entry_point_group"] == "console_scripts"
    assert d["installer"] == "pip"
    assert d["record_ok"] is True
    assert d["env"] == os.path.realpath(venv) and d["env_kind"] == "venv"
    assert d["dist_info"] == str(
        site_packages(Path(os.path.realpath(venv))) / "evil_aws-1.0.dist-info"
    )
    shebang = (venv / "bin" / "aws").read_text().splitlines()[0]
    assert shebang == f"#!{d['interpreter']}" and d["interpreter"].startswith(f"{venv}/bin/python")
    assert p.short() == f"pip:evil-aws 1.0 (entry point {AWS_EP})"
    assert json.loads(json.dumps(p.to_json()))["detail"]["entry_point"] == AWS_EP


def test_homoglyph_console_script(venv: Path) -> None:
    assert HOMOGLYPH_AWS != "aws"
    p = prov(venv / "bin" / HOMOGLYPH_AWS)
    assert p.package == "evil-aws"
    assert p.detail["entry_point"] == f"{HOMOGLYPH_AWS} = evil_aws.cli:main"
    assert p.detail["record_ok"] is True


def test_ls_attributed_to_the_right_distribution(venv: Path) -> None:
    """Four distributions in the env (pip, setuptools, evil-aws, lsjack): only one lists ls."""
    names = sorted(n.name for n in site_packages(venv).glob("*.dist-info"))
    assert len(names) == 4, names
    p = prov(venv / "bin" / "ls")
    assert (p.package, p.version) == ("lsjack", "2.3")
    assert p.detail["entry_point"] == "ls = lsjack.main:run"


def test_gui_script(venv: Path) -> None:
    p = prov(venv / "bin" / "kubectl")
    assert p.detail["entry_point"] == "kubectl = evil_aws.cli:main"
    assert p.detail["entry_point_group"] == "gui_scripts"


def test_data_script_is_any_file_in_bin(venv: Path) -> None:
    """A wheel's .data/scripts file is not an entry point, but RECORD still lists it."""
    p = prov(venv / "bin" / "docker")
    assert (p.package, p.detail["entry_point"], p.detail["record_ok"]) == ("evil-aws", None, True)
    assert p.short() == "pip:evil-aws 1.0"


def test_the_venvs_own_pip(venv: Path) -> None:
    p = prov(venv / "bin" / "pip")
    assert p.package == "pip" and p.detail["entry_point"].startswith("pip = pip._internal")


def test_venv_interpreter_is_not_a_distribution_file(venv: Path) -> None:
    assert prov(venv / "bin" / "python").kind == "unknown"


def test_edited_wrapper_is_drift(
    guard_env: GuardEnv, wheels: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    venv = make_venv(guard_env.root / "v")
    pip_install(venv / "bin" / "python", wheels["evil"], home=guard_env.home)
    aws = venv / "bin" / "aws"
    assert prov(aws).detail["record_ok"] is True
    body = aws.read_bytes()
    aws.write_bytes(body.replace(b"evil_aws.cli", b"evil_aws.clj"))  # same size, other bytes
    p = prov(aws)
    assert p.package == "evil-aws" and p.detail["entry_point"] == AWS_EP
    assert p.detail["record_ok"] is False and p.digest_ok is False
    assert "changed since install: RECORD sha256 differs" in p.short()
    aws.write_bytes(body + b"# edited\n")  # a different size is drift without hashing
    assert prov(aws).detail["record_ok"] is False
    monkeypatch.setenv("PATH", f"{venv}/bin:/usr/bin:/bin")
    assert main(["check", "aws"]) == 1
    assert "changed since install: RECORD sha256 differs" in capsys.readouterr().out
    # A file that is gone (a pin outliving it): RECORD still says who installed it.
    (venv / "bin" / "kubectl").unlink()
    p = provenance_of(str(venv / "bin" / "kubectl"), None)
    assert (p.package, p.detail["entry_point"], p.detail["record_ok"]) == (
        "evil-aws",
        "kubectl = evil_aws.cli:main",
        None,
    )


def test_pip_user_install(guard_env: GuardEnv, wheels: dict[str, Path]) -> None:
    pip_install(Path(), wheels["evil"], home=guard_env.home, user=True)
    aws = guard_env.home / ".local" / "bin" / "aws"
    assert aws.is_file()
    p = prov(aws)
    assert (p.package, p.detail["entry_point"], p.detail["record_ok"]) == ("evil-aws", AWS_EP, True)
    assert p.detail["env"] == os.path.realpath(guard_env.home / ".local")
    assert p.detail["env_kind"] == "user"


@pytest.mark.parametrize(
    ("tool_dir", "kind"),
    [(".local/pipx/venvs", "pipx"), (".local/share/uv/tools", "uv-tool")],
)
def test_pipx_and_uv_tool_layouts(
    guard_env: GuardEnv, wheels: dict[str, Path], tool_dir: str, kind: str
) -> None:
    """pipx and uv make one venv per tool and symlink its scripts into ~/.local/bin."""
    venv = make_venv(guard_env.home / tool_dir / "evil-aws")
    pip_install(venv / "bin" / "python", wheels["evil"], home=guard_env.home)
    link = guard_env.home / ".local" / "bin" / "aws"
    link.parent.mkdir(parents=True)
    link.symlink_to(venv / "bin" / "aws")
    p = provenance_of(str(link), os.path.realpath(link))
    assert (p.package, p.detail["entry_point"], p.detail["record_ok"]) == ("evil-aws", AWS_EP, True)
    assert p.detail["env"] == os.path.realpath(venv) and p.detail["env_kind"] == kind


def test_copied_wrapper_found_through_its_trampoline_shebang(
    guard_env: GuardEnv, wheels: dict[str, Path]
) -> None:
    """A venv path with a space gets pip's /bin/sh trampoline instead of a #! line; a copy of
    the wrapper elsewhere is traced to that venv through it."""
    venv = make_venv(guard_env.root / "my envs" / "v")
    pip_install(venv / "bin" / "python", wheels["evil"], home=guard_env.home)
    wrapper = venv / "bin" / "aws"
    assert wrapper.read_bytes().startswith(b"#!/bin/sh\n'''exec' ")
    assert pipprov.shebang_interpreter(str(wrapper)) == str(venv / "bin" / "python")
    assert prov(wrapper).detail["entry_point"] == AWS_EP
    copy = guard_env.bindir("copied") / "aws"
    shutil.copy2(wrapper, copy)
    p = prov(copy)
    assert (p.package, p.detail["entry_point"], p.detail["record_ok"]) == ("evil-aws", AWS_EP, True)
    assert p.detail["copy_of"] == os.path.realpath(wrapper)


def test_reinstalls_seen_through_memo_and_cache(
    guard_env: GuardEnv, wheels: dict[str, Path]
) -> None:
    """An upgrade, and a second distribution overwriting another's script (pip allows it; the
    digest says whose file it is now), seen by the in-process memo and by the on-disk cache;
    a damaged cache file costs a re-read, not a wrong answer."""
    venv = make_venv(guard_env.root / "v")
    py = venv / "bin" / "python"
    aws, ls = venv / "bin" / "aws", venv / "bin" / "ls"
    pip_install(py, wheels["evil"], wheels["lsjack"], home=guard_env.home)
    assert (prov(aws).version, prov(ls).package) == ("1.0", "lsjack")
    (cache,) = (guard_env.cache / "guard" / "pip").glob("*.v1")
    assert b"evil_aws-1.0.dist-info\0" in cache.read_bytes()
    assert b"../../../bin/aws\0" in cache.read_bytes()
    pip_install(py, wheels["evil11"], wheels["twin"], home=guard_env.home)  # 1.0 uninstalled
    assert prov(aws).version == "1.1"  # the in-process memo noticed
    p = prov(ls)
    assert (p.package, p.detail["entry_point"], p.detail["record_ok"]) == (
        "ls-twin",
        "ls = lsjack.main:twin",
        True,
    )
    assert p.detail["also_listed_by"] == ["lsjack-2.3.dist-info"]
    pipprov._SITES.clear()
    assert prov(aws).version == "1.1"  # so did the on-disk cache
    assert b"evil_aws-1.1.dist-info\0" in cache.read_bytes()
    assert b"evil_aws-1.0.dist-info" not in cache.read_bytes()
    cache.write_bytes(b"\x00garbage\n" * 100)
    pipprov._SITES.clear()
    p = prov(aws)
    assert (p.version, p.detail["record_ok"]) == ("1.1", True)
    assert prov(ls).package == "ls-twin"
    # The rewritten cache is what a later process reads while the RECORDs are unchanged:
    # tamper with its digest for aws and the lookup reports drift it could only get from it.
    row = b"../../../bin/aws\0sha256="
    assert row in cache.read_bytes()
    cache.write_bytes(cache.read_bytes().replace(row, row + b"X"))
    pipprov._SITES.clear()
    assert prov(aws).detail["record_ok"] is False


def test_guard_check_names_the_package(
    guard_env: GuardEnv, venv: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    seed_os_index(guard_env)
    monkeypatch.setenv("PATH", f"{venv}/bin:/usr/bin:/bin")
    assert main(["check", "aws"]) == 1
    out = capsys.readouterr().out
    assert f"(untrusted) [pip:evil-aws 1.0 (entry point {AWS_EP})]" in out
    assert main(["check", "aws", "--json"]) == 1
    v = json.loads(capsys.readouterr().out)
    assert v["provenance"]["kind"] == "pip"
    assert v["provenance"]["detail"]["entry_point"] == AWS_EP
    assert v["provenance"]["detail"]["env"] == os.path.realpath(venv)
    if os.path.isfile("/usr/bin/ls"):
        assert main(["check", "ls"]) == 1
        out = capsys.readouterr().out
        assert "(shadowing) [pip:lsjack 2.3 (entry point ls = lsjack.main:run)]" in out
        assert "/usr/bin/ls" in out


def test_guard_check_process_homoglyph(guard_env: GuardEnv, venv: Path) -> None:
    r = subprocess.run(
        [*guard_exe(), "check", HOMOGLYPH_AWS],
        env=guard_env.env(PATH=f"{venv}/bin:/usr/bin:/bin"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 1, r.stderr
    assert f"[pip:evil-aws 1.0 (entry point {HOMOGLYPH_AWS} = evil_aws.cli:main)]" in r.stdout


def test_allowed_check_does_not_look_up_provenance(
    guard_env: GuardEnv, venv: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    """The allow path stays cheap: a pinned file gets no pip lookup (no cache written)."""
    monkeypatch.setenv("PATH", f"{venv}/bin:/usr/bin:/bin")
    pipprov._SITES.clear()
    kubectl = str(venv / "bin" / "kubectl")
    assert main(["trust", kubectl, str(venv / "bin" / "python3")]) == 0
    assert main(["list", "--json"]) == 0
    pins = {p["path"]: p for p in json.loads(capsys.readouterr().out)}
    assert pins[kubectl]["provenance"]["detail"]["entry_point"] == "kubectl = evil_aws.cli:main"
    shutil.rmtree(guard_env.cache / "guard" / "pip")  # written while pinning (untrusted then)
    pipprov._SITES.clear()
    assert main(["check", "kubectl", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["provenance"] is None
    assert not (guard_env.cache / "guard" / "pip").exists()
