"""`guard-bash`: a drop-in bash for CI. Real guard-bash processes run real bash with the hook
loaded through BASH_ENV; real pip installs a locally built wheel into a real venv; real make
runs recipes through `SHELL := guard-bash`. No network."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from guard.ci_shell import Refused, check_bash_args, check_bash_env
from tests.conftest import GuardEnv, guard_exe, need
from tests.core import SYSTEM_PATH, seed_os_index
from tests.fixtures import LSJACK, build_wheel

GUARD_BASH = Path(sys.executable).parent / "guard-bash"
BASE_PYTHON = os.path.realpath(getattr(sys, "_base_executable", sys.executable))

pytestmark = pytest.mark.skipif(
    not GUARD_BASH.exists(), reason="guard-bash console script not installed beside python"
)

# A CI job in miniature, as `shell: guard-bash -eo pipefail {0}` would run it: set up a venv,
# install the project's dependencies into it, put its bin first on PATH, build, list.
CI_SCRIPT = textwrap.dedent(
    """\
    echo "== setup"
    python3 -m venv --without-pip .venv
    echo "== install dependencies"
    for whl in deps/*.whl; do
        [ -e "$whl" ] || continue
        python3 -m pip --python .venv/bin/python install --quiet --no-index --no-deps "$whl"
    done
    export PATH="$PWD/.venv/bin:$PATH"
    echo "== build"
    mkdir -p dist
    printf 'artifact\\n' > dist/app.txt
    echo "== list artifacts"
    ls dist
    echo "== done"
    """
)


@pytest.fixture
def ge(guard_env: GuardEnv) -> GuardEnv:
    seed_os_index(guard_env)
    return guard_env


@pytest.fixture(scope="module")
def lsjack_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(LSJACK, tmp_path_factory.mktemp("wheels"))


def env_for(ge: GuardEnv, path: str, **extra: str) -> dict[str, str]:
    e = ge.env(PATH=path)
    for k in list(e):
        if k.startswith(("PIP_", "PYTHON", "VIRTUAL_ENV")) or k in ("SHELLOPTS", "POSIXLY_CORRECT"):
            del e[k]
    e.update(PIP_NO_INDEX="1", PIP_NO_CACHE_DIR="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    e.update(PIP_ROOT_USER_ACTION="ignore", PIP_NO_WARN_SCRIPT_LOCATION="1")
    e.update(extra)
    return e


def gbash(
    ge: GuardEnv, *args: str, path: str = SYSTEM_PATH, cwd: Path | None = None, **extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(GUARD_BASH), *args],
        env=env_for(ge, path, **extra),
        cwd=cwd or ge.root,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )


def plant_ls(ge: GuardEnv, marker: Path) -> Path:
    """An `ls` in a directory that will come first on PATH: it leaves a marker if it runs."""
    d = ge.bindir("planted")
    ge.plant(d, "ls", f"#!/bin/sh\necho planted > '{marker}'\n")
    return d


def make_repo(ge: GuardEnv, name: str, wheel: Path | None, lock: bool = True) -> tuple[Path, str]:
    """A checkout with ci.sh, deps/ (holding ``wheel`` when given) and a guard.lock made by
    `guard lock` (discovery) on this "runner", whose Python comes from a tool cache the way
    actions/setup-python provides it: not an OS package, so only the lock makes it trusted."""
    repo = ge.root / name
    (repo / "deps").mkdir(parents=True)
    (repo / "ci.sh").write_text(CI_SCRIPT)
    if wheel is not None:
        shutil.copy(wheel, repo / "deps" / wheel.name)
    toolcache = ge.bindir("toolcache")
    if not (toolcache / "python3").exists():
        (toolcache / "python3").symlink_to(BASE_PYTHON)
    path = f"{toolcache}:{SYSTEM_PATH}"
    if lock:
        r = subprocess.run(
            [*guard_exe(), "lock"], env=env_for(ge, path), cwd=repo, capture_output=True
        )
        assert r.returncode == 0, r.stderr
        tools = yaml.safe_load((repo / "guard.lock").read_bytes())["tools"]
        assert {"python3", "mkdir", "ls"} <= set(tools), tools
    return repo, path


def run_ci(ge: GuardEnv, shell: list[str], repo: Path, path: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*shell, "-e", "-o", "pipefail", "ci.sh"],
        env=env_for(ge, path),
        cwd=repo,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )


# --- the multi-step CI job -----------------------------------------------------------------


def test_ci_job_stops_at_the_tool_a_dependency_jacked(ge: GuardEnv, lsjack_wheel: Path) -> None:
    # Unguarded, the jack is real: pip's `ls` wrapper runs instead of /usr/bin/ls.
    repo, path = make_repo(ge, "plain", lsjack_wheel)
    r = run_ci(ge, ["/bin/bash"], repo, path)
    assert "lsjack ran instead of ls" in r.stderr, r.stderr
    assert r.returncode == 3
    # Under guard-bash the same job stops at that step with 126, naming the package.
    repo, path = make_repo(ge, "guarded", lsjack_wheel)
    r = run_ci(ge, [str(GUARD_BASH)], repo, path)
    assert r.returncode == 126, r.stdout + r.stderr
    assert r.stdout == "== setup\n== install dependencies\n== build\n== list artifacts\n"
    assert "lsjack ran instead of ls" not in r.stderr
    line = next(x for x in r.stderr.splitlines() if x.startswith("guard: blocked"))
    assert f"ls → {repo}/.venv/bin/ls (shadowing) [pip:lsjack 2.3 " in line
    assert "(entry point ls = lsjack.main:run)]: untrusted file shadows trusted" in line
    # guard.lock is the trust source here, so the fix is to re-lock, not `guard trust`.
    assert line.endswith("; to allow: guard lock ls on the runner, review, commit guard.lock")
    assert (repo / ".venv" / "bin" / "ls").exists()  # it was installed; it just did not run


def test_ci_job_without_the_package_passes_with_output_unchanged(ge: GuardEnv) -> None:
    repo, path = make_repo(ge, "plain", None)
    plain = run_ci(ge, ["/bin/bash"], repo, path)
    assert plain.returncode == 0, plain.stderr
    repo, path = make_repo(ge, "guarded", None)
    guarded = run_ci(ge, [str(GUARD_BASH)], repo, path)
    assert guarded.returncode == 0, guarded.stderr
    assert guarded.stdout == plain.stdout
    assert guarded.stdout.endswith("== list artifacts\napp.txt\n== done\n")
    assert guarded.stderr == plain.stderr == ""


def test_the_lock_is_what_trusts_the_tool_cache_python(ge: GuardEnv) -> None:
    repo, path = make_repo(ge, "nolock", None, lock=False)
    check = [*guard_exe(), "check", str(ge.root / "toolcache" / "python3")]
    if subprocess.run(check, env=env_for(ge, path), capture_output=True).returncode == 0:
        pytest.skip("this Python is an OS-package file: trusted without a lock")
    r = run_ci(ge, [str(GUARD_BASH)], repo, path)
    assert r.returncode == 126
    assert r.stdout == "== setup\n"
    # untrusted: it shadows the OS python3 here (or is merely untrusted where there is none)
    assert r.stderr.startswith(f"guard: blocked python3 → {ge.root}/toolcache/python3 (")
    assert r.stderr.endswith(f"; to allow: guard trust {ge.root}/toolcache/python3\n")
    assert not (repo / ".venv").exists()


def test_rewriting_guard_lock_mid_job_changes_nothing(ge: GuardEnv, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    planted = plant_ls(ge, marker)
    repo, path = make_repo(ge, "repo", None)
    # A lock that would trust the planted ls, as a step might write it (even `guard lock`).
    r = subprocess.run(
        [*guard_exe(), "lock", "ls", "--output", "evil.lock"],
        env=env_for(ge, f"{planted}:{path}"),
        cwd=repo,
        capture_output=True,
    )
    assert r.returncode == 0, r.stderr
    script = 'cp evil.lock guard.lock\nexport PATH="$PLANTED:$PATH"\nls\necho after\n'
    (repo / "step.sh").write_text(script)
    r = gbash(ge, "step.sh", path=path, cwd=repo, PLANTED=str(planted))
    assert r.returncode == 126, r.stderr
    assert "guard: blocked ls" in r.stderr and "after" not in r.stdout
    assert not marker.exists()
    # ...while a new guard-bash started after the change does read the new lock.
    r = gbash(ge, "-c", "ls; echo after", path=f"{planted}:{path}", cwd=repo)
    assert r.returncode == 0 and r.stdout == "after\n" and marker.exists()


# --- make, -c, exit codes, children -----------------------------------------------------------


def test_make_with_shell_guard_bash(ge: GuardEnv, tmp_path: Path) -> None:
    need("make")
    marker = tmp_path / "ran"
    planted = plant_ls(ge, marker)
    tools = ge.bindir("tools")
    (tools / "guard-bash").symlink_to(GUARD_BASH)
    proj = ge.root / "proj"
    proj.mkdir()
    (proj / "Makefile").write_text(
        "SHELL := guard-bash\n.SHELLFLAGS := -eo pipefail -c\n"
        "build:\n\t@echo compiling\n\t@ls -d /\n\t@echo linked\n"
        "mode:\n\t@echo $$GUARD_MODE\n"
    )
    ok = gbash_make(ge, proj, f"{tools}:{SYSTEM_PATH}", "build", "mode")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == "compiling\n/\nlinked\nblock\n"
    bad = gbash_make(ge, proj, f"{tools}:{planted}:{SYSTEM_PATH}", "build")
    assert bad.returncode == 2
    assert bad.stdout == "compiling\n"
    assert f"guard: blocked ls → {planted}/ls (shadowing)" in bad.stderr
    assert "Error 126" in bad.stderr
    assert not marker.exists()


def gbash_make(ge: GuardEnv, proj: Path, path: str, *targets: str):
    return subprocess.run(
        ["make", "--no-print-directory", *targets],
        env=env_for(ge, path),
        cwd=proj,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_dash_c_runs_and_exit_codes_pass_through(ge: GuardEnv) -> None:
    r = gbash(ge, "-c", 'echo "$0:$1:$2"; ls -d /; exit 7', "name", "a b", "c")
    assert (r.returncode, r.stdout, r.stderr) == (7, "name:a b:c\n/\n", "")
    r = gbash(ge, "-c", "ls /nonexistent-guard-test")
    assert r.returncode == 2 and "nonexistent-guard-test" in r.stderr
    r = gbash(ge, "-e", "-o", "pipefail", "-c", "false | true; echo not reached")
    assert (r.returncode, r.stdout) == (1, "")
    r = gbash(ge, "-c", "kill -TERM $$")
    assert r.returncode == -15  # bash itself, not a wrapper process, was killed
    # bash's own options stay as given: loading the hook turns -x/-v off only meanwhile.
    r = gbash(ge, "-xv", "-c", "case $- in *x*v*|*v*x*) echo both-on;; esac")
    assert r.returncode == 0 and r.stdout == "both-on\n"


def test_script_with_arguments_and_stdin(ge: GuardEnv) -> None:
    s = ge.root / "s.sh"
    s.write_text('printf "%s|" "$@"; echo; cat\n')
    r = subprocess.run(
        [str(GUARD_BASH), str(s), "x", "y z"],
        input="from stdin\n",
        env=env_for(ge, SYSTEM_PATH),
        capture_output=True,
        text=True,
    )
    assert (r.returncode, r.stdout) == (0, "x|y z|\nfrom stdin\n"), r.stderr
    # A script on stdin (GitLab-style heredoc) is checked too.
    marker = ge.root / "ran"
    planted = plant_ls(ge, marker)
    r = subprocess.run(
        [str(GUARD_BASH), "-s"],
        input="echo one\nls\necho two\n",
        env=env_for(ge, f"{planted}:{SYSTEM_PATH}"),
        capture_output=True,
        text=True,
    )
    assert (r.returncode, r.stdout) == (126, "one\n") and not marker.exists()


def test_child_bash_is_guarded_and_cannot_opt_out(ge: GuardEnv, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    planted = plant_ls(ge, marker)
    child = ge.root / "child.sh"
    child.write_text('echo "child $GUARD_MODE"\nls\necho child-after\n')
    parent = ge.root / "parent.sh"
    parent.write_text(
        f'bash {child}; echo "child exit $?"\n'
        f'env GUARD_MODE=warn bash {child}; echo "warn child exit $?"\n'
        'export GUARD_MODE=monitor; echo "parent $GUARD_MODE"\n'
        'unset BASH_ENV; bash -c ls; echo "unset child exit $?"\n'
    )
    r = gbash(ge, str(parent), path=f"{planted}:{SYSTEM_PATH}")
    assert r.stdout == (
        "child block\nchild exit 126\n"
        "child block\nwarn child exit 126\n"
        "parent block\nunset child exit 126\n"
    ), r.stderr
    assert r.stderr.count("guard: blocked ls") == 3
    assert "GUARD_MODE: readonly variable" in r.stderr
    assert "BASH_ENV: cannot unset: readonly variable" in r.stderr
    assert not marker.exists()


def test_guard_mode_from_the_environment_is_ignored(ge: GuardEnv, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    planted = plant_ls(ge, marker)
    for mode in ("warn", "monitor"):
        r = gbash(ge, "-c", "ls; echo after", path=f"{planted}:{SYSTEM_PATH}", GUARD_MODE=mode)
        assert (r.returncode, r.stdout) == (126, "")
    assert not marker.exists()


def test_guard_failure_fails_closed(ge: GuardEnv) -> None:
    # guard cannot answer mid-job (here: the allowlist became unreadable): the job stops.
    script = (
        "echo before\n"
        "printf 'version: 1\\nentries: [oops\\n' > \"$XDG_CONFIG_HOME/guard/allowlist.yaml\"\n"
        "ls -d /\necho after\n"
    )
    ge.guard_config_dir.mkdir()
    r = gbash(ge, "-c", script)
    assert (r.returncode, r.stdout) == (126, "before\n"), r.stderr
    assert "guard: cannot check commands" in r.stderr and "refusing to run" in r.stderr
    # ...and guard-bash itself refuses to start bash then.
    r = gbash(ge, "-c", "echo ran")
    assert (r.returncode, r.stdout) == (126, "")
    assert r.stderr.startswith("guard-bash: error: ") and "nothing was run" in r.stderr


# --- what guard-bash refuses --------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["-p", "-c", "ls"],
        ["-ep", "-c", "ls"],
        ["--posix", "-c", "ls"],
        ["-posix", "-c", "ls"],
        ["-o", "posix", "-c", "ls"],
        ["-eo", "privileged", "-c", "ls"],
        ["-l", "-c", "ls"],
        ["--login", "-c", "ls"],
        ["-i", "-c", "ls"],
    ],
)
def test_modes_that_skip_bash_env_are_refused(ge: GuardEnv, args: list[str]) -> None:
    marker = ge.root / "ran"
    planted = plant_ls(ge, marker)
    r = gbash(ge, *args, path=f"{planted}:{SYSTEM_PATH}")
    assert r.returncode == 126
    assert r.stderr.startswith("guard-bash: refusing to run: ")
    assert not marker.exists()


@pytest.mark.parametrize(
    "var", [("POSIXLY_CORRECT", "1"), ("SHELLOPTS", "errexit:posix"), ("SHELLOPTS", "privileged")]
)
def test_environment_that_skips_bash_env_is_refused(ge: GuardEnv, var: tuple[str, str]) -> None:
    marker = ge.root / "ran"
    planted = plant_ls(ge, marker)
    r = gbash(ge, "-c", "ls", path=f"{planted}:{SYSTEM_PATH}", **dict([var]))
    assert r.returncode == 126 and "refusing to run" in r.stderr
    assert not marker.exists()


def test_argument_reading_matches_bash() -> None:
    ok = [
        ["--noprofile", "--norc", "-eo", "pipefail", "script.sh"],
        ["-c", "x", "-p"],  # after -c's operand: positional parameters
        ["script.sh", "-p", "-i"],
        ["-o", "errexit", "+p", "-c", "x"],
        ["--", "-p"],  # a script named -p
        ["-O", "extglob", "-c", "x"],
    ]
    for a in ok:
        check_bash_args(a, tty=False)
    check_bash_args(["-c", "x"], tty=True)  # -c: not interactive, even on a terminal
    for a in (["-s", "arg"], [], ["-e"]):
        with pytest.raises(Refused, match="interactive"):
            check_bash_args(a, tty=True)
    with pytest.raises(Refused):
        check_bash_args(["--rcfile", "f", "-p", "-c", "x"], tty=False)
    check_bash_env({"SHELLOPTS": "errexit:pipefail"})


def test_malformed_lock_runs_nothing(ge: GuardEnv) -> None:
    (ge.root / "guard.lock").write_text("version: 1\ntools: [\n")
    r = gbash(ge, "-c", "echo ran")
    assert r.returncode == 126 and r.stdout == ""
    assert r.stderr.startswith("guard-bash: error: ") and "guard.lock" in r.stderr
    r = gbash(ge, "-c", "echo ran", GUARD_LOCK="missing.lock")
    assert r.returncode == 126 and r.stdout == "" and "missing.lock" in r.stderr


def test_lock_without_os_trust_stops_even_bash(ge: GuardEnv) -> None:
    (ge.root / "guard.lock").write_text("version: 1\ntrust_os_packages: false\ntools: {}\n")
    r = gbash(ge, "-c", "echo ran")
    assert r.returncode == 126 and r.stdout == ""
    assert r.stderr.startswith("guard: blocked /bin/bash") and "(untrusted)" in r.stderr
    # Pin bash (and what the job runs) in the lock and it starts; OS files are still not trusted.
    r = subprocess.run(
        [*guard_exe(), "lock", "bash", "echo"],
        env=env_for(ge, "/bin"),
        cwd=ge.root,
        capture_output=True,
    )
    assert r.returncode == 0, r.stderr
    doc = (ge.root / "guard.lock").read_text()
    assert "trust_os_packages: false" in doc  # guard lock keeps it
    r = gbash(ge, "-c", "/bin/echo ran; ls -d /", path="/bin")
    assert r.returncode == 126
    assert r.stdout == "ran\n" and "guard: blocked ls → /bin/ls (untrusted)" in r.stderr


# --- guard-zsh ----------------------------------------------------------------------------------

GUARD_ZSH = Path(sys.executable).parent / "guard-zsh"


def gzsh(ge: GuardEnv, *args: str, path: str = SYSTEM_PATH, **extra: str):
    need("zsh")
    return subprocess.run(
        [str(GUARD_ZSH), *args],
        env=env_for(ge, path, **extra),
        cwd=ge.root,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )


def test_guard_zsh_checks_commands_and_child_zsh(ge: GuardEnv, tmp_path: Path) -> None:
    r = gzsh(ge, "-c", 'echo "$GUARD_MODE"; ls -d /; exit 5', GUARD_MODE="warn")
    assert (r.returncode, r.stdout, r.stderr) == (5, "block\n/\n", "")
    marker = tmp_path / "ran"
    planted = plant_ls(ge, marker)
    r = gzsh(
        ge,
        "-e",
        "-o",
        "pipefail",
        "-c",
        'echo a; zsh -c "echo child; ls"; echo b',
        path=f"{planted}:{SYSTEM_PATH}",
    )
    assert (r.returncode, r.stdout) == (126, "a\nchild\n")
    assert f"guard: blocked ls → {planted}/ls (shadowing)" in r.stderr
    r = gzsh(ge, "-c", "export GUARD_MODE=warn; ls", path=f"{planted}:{SYSTEM_PATH}")
    assert r.returncode != 0 and "read-only variable: GUARD_MODE" in r.stderr
    assert not marker.exists()


@pytest.mark.parametrize(
    "args", [["-f"], ["--no-rcs"], ["-o", "NO_RCS"], ["+o", "r_c_s"], ["-p"], ["--emulate", "sh"]]
)
def test_guard_zsh_refuses_what_could_skip_zshenv(ge: GuardEnv, args: list[str]) -> None:
    marker = ge.root / "ran"
    planted = plant_ls(ge, marker)
    r = gzsh(ge, *args, "-c", "ls", path=f"{planted}:{SYSTEM_PATH}")
    assert r.returncode == 126 and r.stderr.startswith("guard-zsh: refusing to run: ")
    assert not marker.exists()


def test_the_lock_replaces_the_user_allowlist(ge: GuardEnv) -> None:
    """A runner's own pins (or an earlier step's `guard trust`) do not widen a lock."""
    tools = ge.bindir("tools")
    ge.plant(tools, "mytool", "#!/bin/sh\necho mytool ran\n")
    other = ge.bindir("other")
    ge.plant(other, "mytool", "#!/bin/sh\necho other ran\n")
    env = env_for(ge, f"{tools}:{SYSTEM_PATH}")
    r = subprocess.run([*guard_exe(), "trust", "mytool"], env=env, capture_output=True)
    assert r.returncode == 0, r.stderr
    r = gbash(ge, "-c", "mytool", path=f"{tools}:{SYSTEM_PATH}")
    assert (r.returncode, r.stdout) == (0, "mytool ran\n"), r.stderr  # no lock: user's pins
    repo = ge.root / "repo"
    repo.mkdir()
    r = subprocess.run(
        [*guard_exe(), "lock", "mytool"],
        env=env_for(ge, f"{other}:{SYSTEM_PATH}"),
        cwd=repo,
        capture_output=True,
    )
    assert r.returncode == 0, r.stderr
    r = gbash(ge, "-c", "mytool", path=f"{tools}:{SYSTEM_PATH}", cwd=repo)
    assert (r.returncode, r.stdout) == (126, "")
    assert f"guard: blocked mytool → {tools}/mytool (untrusted)" in r.stderr
    # `guard untrust` under GUARD_LOCK still edits the user's own allowlist, not the lock.
    env["GUARD_LOCK"] = str(repo / "guard.lock")
    r = subprocess.run([*guard_exe(), "untrust", "mytool"], env=env, capture_output=True)
    assert r.returncode == 0, r.stderr
    assert f"{tools}/mytool" not in ge.allowlist.read_text()
