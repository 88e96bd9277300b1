"""Entry-point collisions and look-alike names from real installs: wheels built from local
source trees and installed by real pip into a venv and with --user, and a local npm package
folder installed by real npm. Each finding names the package, version and entry point."""

from __future__ import annotations

import os
from pathlib import Path

from tests.audit import SYS, audit, found
from tests.conftest import GuardEnv, need
from tests.fixtures import (
    HOMOGLYPH_AWS,
    WheelSpec,
    build_wheel,
    make_venv,
    npm_folder,
    npm_project,
    pip_install,
    quiet_env,
    run,
)

AWS_EP = "aws = evil_aws.cli:main"


def test_venv_console_scripts_named_like_well_known_commands(
    guard_env: GuardEnv, evil_venv: Path
) -> None:
    rc, doc, _ = audit(guard_env, SYS, "--env", str(evil_venv))
    (aws,) = found(doc, "collision.entry-point", "aws")
    assert aws["severity"] == "high"
    path = str(evil_venv / "bin" / "aws")
    assert aws["paths"] == [path]
    prov = aws["provenance"][path]
    assert (prov["kind"], prov["package"], prov["version"]) == ("pip", "evil-aws", "1.0")
    assert prov["detail"]["entry_point"] == AWS_EP
    assert "evil-aws 1.0" in aws["message"] and AWS_EP in aws["message"]
    assert "not on PATH now" in aws["message"]
    assert "-m pip uninstall evil-aws" in aws["fix"]
    (ls,) = found(doc, "collision.entry-point", "ls")
    assert ls["provenance"][str(evil_venv / "bin" / "ls")]["package"] == "lsjack"
    assert "ls = lsjack.main:run" in ls["message"]
    # gui_scripts and a wheel's .data/scripts land in bin/ too.
    assert found(doc, "collision.entry-point", "kubectl")
    assert found(doc, "collision.entry-point", "docker")
    # The venv's own python is not a pip distribution's file: no collision for it.
    assert found(doc, "collision.entry-point", "python") == []
    assert rc == 1


def test_homoglyph_console_script_is_a_confusable(guard_env: GuardEnv, evil_venv: Path) -> None:
    _, doc, _ = audit(guard_env, SYS, "--env", str(evil_venv))
    (hit,) = found(doc, "confusable.skeleton", HOMOGLYPH_AWS)
    path = str(evil_venv / "bin" / HOMOGLYPH_AWS)
    assert hit["paths"] == [path] and "'aws'" in hit["message"]
    assert "U+0430 CYRILLIC SMALL LETTER A" in hit["message"]
    assert hit["provenance"][path]["package"] == "evil-aws"


def test_collision_on_path_wins_now(guard_env: GuardEnv, evil_venv: Path) -> None:
    rc, doc, _ = audit(guard_env, f"{evil_venv / 'bin'}:{SYS}")
    (aws,) = found(doc, "collision.entry-point", "aws")
    assert "it wins on PATH now" in aws["message"] and rc == 1


def test_text_output_names_the_package(guard_env: GuardEnv, evil_venv: Path) -> None:
    rc, out, _ = audit(guard_env, SYS, "--env", str(evil_venv), "--min-severity", "high", fmt=None)
    text = out.decode()
    assert "collision.entry-point  aws" in text
    assert f"pip:evil-aws 1.0 (entry point {AWS_EP})" in text
    assert rc == 1


def test_pip_user_install(guard_env: GuardEnv, wheels: dict[str, Path]) -> None:
    pip_install(Path("/unused"), wheels["evil"], home=guard_env.home, user=True)
    local_bin = guard_env.home / ".local" / "bin"
    assert (local_bin / "aws").is_file()
    rc, doc, _ = audit(guard_env, f"{local_bin}:{SYS}")
    (aws,) = found(doc, "collision.entry-point", "aws")
    prov = aws["provenance"][str(local_bin / "aws")]
    assert (prov["kind"], prov["package"], prov["detail"]["entry_point"]) == (
        "pip",
        "evil-aws",
        AWS_EP,
    )
    assert "it wins on PATH now" in aws["message"] and rc == 1


def test_the_real_provider_is_not_a_collision(guard_env: GuardEnv, tmp_path: Path) -> None:
    """awscli's own `aws` (commands.txt lists pip:awscli as its provider) is fine; the user can
    list more providers in their own commands.txt."""
    spec = WheelSpec("AWSCLI", "2.0", "evil_aws", console_scripts={"aws": "evil_aws.cli:main"})
    other = WheelSpec("lsjack", "2.3", "lsjack", console_scripts={"ls": "lsjack.main:run"})
    v = make_venv(tmp_path / "v")
    pip_install(
        v / "bin" / "python",
        build_wheel(spec, tmp_path),
        build_wheel(other, tmp_path),
        home=tmp_path,
    )
    _, doc, _ = audit(guard_env, SYS, "--env", str(v))
    assert found(doc, "collision.entry-point", "aws") == []
    assert found(doc, "collision.entry-point", "ls")
    cfg = guard_env.guard_config_dir
    cfg.mkdir(mode=0o700, parents=True, exist_ok=True)
    (cfg / "commands.txt").write_text("# mine\nls pip:lsjack\nguardtest-extra\n")
    _, doc, _ = audit(guard_env, SYS, "--env", str(v))
    assert found(doc, "collision.entry-point", "ls") == []


def test_npm_bin_named_curl(guard_env: GuardEnv, tmp_path: Path) -> None:
    npm = need("npm")
    folder = npm_folder(tmp_path, "evil-curl")
    project = npm_project(tmp_path / "project")
    run([npm, "install", str(folder)], quiet_env(tmp_path), cwd=project)
    curl = project / "node_modules" / ".bin" / "curl"
    assert os.path.islink(curl)
    rc, doc, _ = audit(guard_env, SYS, "--env", str(project))
    (hit,) = found(doc, "collision.npm-bin", "curl")
    prov = hit["provenance"][str(curl)]
    assert (prov["kind"], prov["package"], prov["version"]) == ("npm", "evil-curl", "1.0.3")
    assert "evil-curl 1.0.3" in hit["message"] and hit["severity"] == "high"
    assert f"cd {project} && npm uninstall evil-curl" in hit["fix"]
    assert rc == 1
    # node_modules itself works as --env too.
    _, doc2, _ = audit(guard_env, SYS, "--env", str(project / "node_modules"))
    assert found(doc2, "collision.npm-bin", "curl")


def test_env_that_is_not_a_directory_is_an_error(guard_env: GuardEnv, tmp_path: Path) -> None:
    rc, out, err = audit(guard_env, SYS, "--env", str(tmp_path / "nope"), fmt="--json")
    assert rc == 2 and b"not a directory" in err and b"Traceback" not in err
    empty = tmp_path / "empty"
    empty.mkdir()
    rc, _, err = audit(guard_env, SYS, "--env", str(empty))
    assert rc == 2 and b"no bin/" in err
