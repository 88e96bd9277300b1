"""The zsh hook against a real zsh 5.9: planted programs never run, benign ones run unchanged.

Non-interactive cases run `zsh -c` with the hook sourced from $ZDOTDIR/.zshenv; interactive
ones drive `zsh -i` through a pty with $ZDOTDIR/.zshrc sourcing it. Every planted program
touches a marker file; the assertion is that the marker never appears.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import GuardEnv, guard_exe
from tests.shell.ptyshell import PtyShell

ZSH = shutil.which("zsh")
pytestmark = pytest.mark.skipif(ZSH is None, reason="zsh is not installed")
SYS = "/usr/bin:/bin"


class Z:
    """One test's sandbox inside the module's GuardEnv (shared XDG dirs, so the OS-package
    index is built once per module): a ZDOTDIR, a planted dir and a marker of its own."""

    def __init__(self, ge: GuardEnv, hook: Path, sub: Path) -> None:
        self.ge = ge
        self.root = sub
        self.plant_dir = ge.bindir(f"{sub.name}/plant")
        self.marker = sub / "MARKER"
        self.hook = hook
        self.zdot = ge.bindir(f"{sub.name}/zdot")
        (self.zdot / ".zshenv").write_text(f"source {self.hook}\n")

    def dir(self, name: str) -> Path:
        return self.ge.bindir(f"{self.root.name}/{name}")

    def plant(self, name: str, directory: Path | None = None) -> Path:
        return self.ge.plant(
            directory or self.plant_dir, name, f"#!/bin/sh\ntouch {self.marker}\necho PLANTED\n"
        )

    def env(self, path: str | None = None, **extra: str) -> dict[str, str]:
        return self.ge.env(PATH=path or f"{self.plant_dir}:{SYS}", ZDOTDIR=str(self.zdot), **extra)

    def run(self, script: str, path: str | None = None, **extra: str):
        return subprocess.run(
            [ZSH, "-c", script],
            env=self.env(path, **extra),
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def guard(self, *args: str, path: str | None = None) -> None:
        subprocess.run([*guard_exe(), *args], env=self.env(path), capture_output=True, check=True)


@pytest.fixture(scope="module")
def zbase(tmp_path_factory: pytest.TempPathFactory) -> tuple[GuardEnv, Path]:
    root = tmp_path_factory.mktemp("zsh")
    ge = GuardEnv.create(root)
    hook = subprocess.run(
        [*guard_exe(), "hook", "zsh"], env=ge.env(), capture_output=True, check=True
    ).stdout
    (root / "hook.zsh").write_bytes(hook)
    # Warm the OS-package index once, so each test's first query is fast.
    subprocess.run(
        [*guard_exe(), "check", "ls"], env=ge.env(PATH=SYS), capture_output=True, check=False
    )
    return ge, root / "hook.zsh"


@pytest.fixture
def z(zbase: tuple[GuardEnv, Path], tmp_path: Path) -> Z:
    ge, hook = zbase
    sub = ge.root / tmp_path.name
    sub.mkdir()
    return Z(ge, hook, sub)


def blocked(z: Z, r, name: str = "ls") -> None:
    assert not z.marker.exists(), "the planted program ran"
    assert r.returncode == 126, (r.returncode, r.stdout, r.stderr)
    assert "guard: blocked " in r.stderr and name in r.stderr
    assert "AFTER" not in r.stdout


# -- non-interactive: zsh -c with the hook in .zshenv -----------------------------------------


def test_shadow_in_earlier_path_dir_is_blocked(z: Z) -> None:
    z.plant("ls")
    r = z.run("ls /; echo AFTER")
    blocked(z, r)
    assert "(shadowing)" in r.stderr and "guard trust" in r.stderr


@pytest.mark.parametrize(
    "line",
    [
        "command ls",
        "exec ls",
        "env ls",
        "env -i PATH=$PATH A=1 ls",
        "env -u HOME -- ls",
        "nohup ls",
        "nice -n 5 ls",
        "nice ls",
        "time ls",
        "sudo -u bob ls",
        "doas -u bob ls",
        "echo / | xargs -0 -n1 ls",
        "timeout 5 ls",
        "timeout -s KILL 5 ls",
        "stdbuf -oL ls",
        "noglob ls",
        "builtin command ls",
        "nohup nice -n 3 env A=1 ls",
        "true; - ls",
    ],
)
def test_wrappers_are_looked_through(z: Z, line: str) -> None:
    z.plant("ls")
    blocked(z, z.run(f"{line}; echo AFTER"))


@pytest.mark.parametrize(
    "line",
    [
        "echo hi | ls",
        "true && ls",
        "false || ls",
        "! ls",
        "true && echo x | ls | cat",
        "{ echo a; ls }",
        "( ls )",
        "echo $(ls)",
        "x=$(ls)",
        "echo `ls`",
        'echo "a $(echo b; ls) c"',
        "cat <(ls)",
        "A=1 B=2 ls",
        ">/dev/null ls",
        "ls 2>&1 >/dev/null",
        "f() { ls }; f",
        "() { ls } arg",
        "eval ls",
        "if true; then ls; fi",
        "for i in 1; do ls; done",
        "while true; do ls; break; done",
        "case x in (x) ls ;; esac",
        "repeat 1 ls",
        "coproc ls; wait",
        "ls &; wait",
        "X=ls; $X",
        "X=ls; ${X}",
        'X=ls; "$X"',
        "a=(ls -l); $a",
        'a=(ls -l); "${a[@]}"',
        'set -- ls /; "$@"',
        "alias ll=ls; eval 'll /'",
        "\\ls",
        "'ls'",
        "=ls",
    ],
)
def test_every_command_position_is_checked(z: Z, line: str) -> None:
    z.plant("ls")
    blocked(z, z.run(f"{line}\necho AFTER"))


def test_sourced_file_and_function_are_checked(z: Z) -> None:
    z.plant("ls")
    lib = z.root / "lib.zsh"
    lib.write_text("helper() {\n  echo in-helper\n  ls /\n}\n")
    r = z.run(f"source {lib}; echo defined; helper; echo AFTER")
    blocked(z, r)
    assert "defined" in r.stdout and "in-helper" in r.stdout  # a definition runs nothing


def test_dollar_x_with_a_path(z: Z) -> None:
    evil = z.plant("evil", z.dir("elsewhere"))
    r = z.run(f"X={evil}; $X; echo AFTER")
    assert not z.marker.exists() and r.returncode == 126 and "AFTER" not in r.stdout
    assert "guard: " in r.stderr


def test_command_substitution_in_command_position_is_denied(z: Z) -> None:
    r = z.run("$(echo /bin/echo) hi; echo AFTER")
    assert r.returncode == 126 and "hi" not in r.stdout
    assert "guard: blocked dynamic command word" in r.stderr


@pytest.mark.parametrize(
    "line",
    [
        "PATH={off}:$PATH qx",
        "X={off}; PATH=$X:$PATH qx",
        "PATH=${{PATH}}:{off} qx",
        "PATH+=:{off} qx",
        "path=({off} $path) qx",
        "path+=({off}) qx",
        "path={off} qx",
        "env PATH={off}:/usr/bin:/bin qx",
        "env -i PATH={off} A=1 qx",
        "PATH={off}:$PATH command qx",
        "PATH={off}:$PATH nice -n 5 qx",
        "PATH={off}:$PATH env A=1 qx",
        "true && PATH={off} qx",
        "echo $(PATH={off} qx)",
    ],
)
def test_command_scoped_path_is_resolved_with_that_path(z: Z, line: str) -> None:
    """qx exists only in a directory that is not on the shell's PATH: zsh (or the wrapper)
    finds it through the command-scoped PATH, so the hook must look it up there too."""
    off = z.dir("off")
    z.plant("qx", off)
    blocked(z, z.run(line.format(off=off) + "; echo AFTER", path=SYS), "qx")


@pytest.mark.parametrize(
    "line", ["PATH=$(echo {off}):$PATH qx", "PATH=`echo {off}` qx", "PATH=${{X:-{off}}} qx"]
)
def test_command_scoped_path_that_is_not_static_is_denied(z: Z, line: str) -> None:
    off = z.dir("off")
    z.plant("qx", off)
    r = z.run(line.format(off=off) + "; echo AFTER", path=SYS)
    blocked(z, r, "qx")
    assert "command-scoped PATH cannot be known" in r.stderr
    r = z.run(line.format(off=off) + "; echo AFTER", path=SYS, GUARD_MODE="warn")
    # (`touch` may not be on that PATH: the planted program's echo shows it ran)
    assert "PLANTED\nAFTER" in r.stdout and "guard: warning: would block" in r.stderr


def test_command_scoped_path_benign(z: Z) -> None:
    """A scoped PATH of trusted dirs runs the real tool, output and status unchanged; `env -i`
    runs what GNU env finds with PATH unset (glibc's default /bin:/usr/bin), not the shadow."""
    z.plant("ls")  # in the shell's PATH only
    r = z.run(
        f"PATH={SYS} ls -d /; X=/usr/bin; PATH=$X:/bin ls -d /tmp; env -i ls -d /usr;"
        " env -u PATH ls -d /bin; PATH=/bin:/usr/bin ls /nonexistent; echo rc=$?"
    )
    assert not z.marker.exists() and "guard:" not in r.stderr, r.stderr
    assert r.stdout.startswith("/\n/tmp\n/usr\n/bin\n") and "rc=2" in r.stdout


def test_mode_from_config_applies_to_local_decisions(z: Z) -> None:
    """config.yaml `mode: warn` (no GUARD_MODE): the hook's own rule for a substitution in
    command position follows the mode guard reports (`_query --want-mode`)."""
    cfg = Path(z.env()["XDG_CONFIG_HOME"]) / "guard" / "config.yaml"
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text("mode: warn\n")
    try:
        env = z.env()
        env.pop("GUARD_MODE", None)
        r = subprocess.run(
            [ZSH, "-c", "$(echo /bin/echo) hi; echo AFTER"],
            env=env,
            cwd=z.root,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "hi\nAFTER" in r.stdout and "guard: warning: would block dynamic" in r.stderr
        env["GUARD_MODE"] = "block"  # GUARD_MODE still wins over the config
        r = subprocess.run(
            [ZSH, "-c", "$(echo /bin/echo) hi; echo AFTER"],
            env=env,
            cwd=z.root,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 126 and "hi" not in r.stdout
    finally:
        cfg.unlink()


@pytest.mark.parametrize(
    "line",
    [
        "trap ls EXIT; true",
        "trap 'echo x; ls' INT; kill -INT $$; true",
        "f() {{ trap ls EXIT }}; f; true",
        "TRAPEXIT() {{ ls }}; true",
        "function TRAPZERR {{ ls }}; false",
    ],
)
def test_trap_handlers_are_checked_when_set(z: Z, line: str) -> None:
    """zsh runs no DEBUG trap inside a trap handler: its commands are checked when the trap
    (or TRAPxxx function) is set, and setting it is blocked."""
    z.plant("ls")
    blocked(z, z.run(line.format() + "; echo AFTER"))


def test_hash_swap_is_checked(z: Z) -> None:
    evil = z.plant("ls", z.dir("notonpath"))
    r = z.run(f"ls / >/dev/null && echo FIRST; hash ls={evil}; ls; echo AFTER", path=SYS)
    assert "FIRST" in r.stdout  # the real ls ran and was cached
    blocked(z, r)


def test_modified_pinned_file_is_blocked(z: Z) -> None:
    tool = z.ge.plant(z.plant_dir, "tool", "#!/bin/sh\necho GOOD\n")
    z.guard("trust", str(tool))
    r = z.run(f"tool; printf '#!/bin/sh\\ntouch {z.marker}\\n' > {tool}; tool; echo AFTER")
    assert "GOOD" in r.stdout  # the pinned version ran, then was cached
    blocked(z, r, "tool")
    assert "(modified)" in r.stderr


def test_retargeted_symlink_is_blocked(z: Z) -> None:
    store = z.dir("store")
    good = z.ge.plant(store, "good", "#!/bin/sh\necho GOOD\n")
    bad = z.plant("bad", store)
    link = z.plant_dir / "tool"
    link.symlink_to(good)
    z.guard("trust", str(link))
    r = z.run(f"tool; ln -sfn {bad} {link}; tool; echo AFTER")
    assert "GOOD" in r.stdout
    blocked(z, r, "tool")


def test_shadow_planted_after_the_answer_was_cached(z: Z) -> None:
    """The cached ok for `ls` dies when a PATH dir ahead of /usr/bin changes. zsh itself keeps
    running the hashed /usr/bin/ls (that is allowed, and checked as such) until `rehash`."""
    planted = z.plant("x")
    r = z.run(
        f"ls / >/dev/null && echo FIRST; cp {planted} {z.plant_dir}/ls; ls / >/dev/null &&"
        " echo SECOND; rehash; ls; echo AFTER"
    )
    assert "FIRST" in r.stdout and "SECOND" in r.stdout
    blocked(z, r)


def test_warn_and_monitor_modes_run_the_command(z: Z) -> None:
    z.plant("ls")
    r = z.run("ls; echo AFTER", GUARD_MODE="warn")
    assert z.marker.exists() and "AFTER" in r.stdout and "guard: warning" in r.stderr
    z.marker.unlink()
    r = z.run("ls; echo AFTER", GUARD_MODE="monitor")
    assert z.marker.exists() and "AFTER" in r.stdout and "guard:" not in r.stderr


def test_guard_unavailable_fails_closed_non_interactive(z: Z) -> None:
    (z.zdot / ".zshenv").write_text(
        f"source {z.hook}\n__guard_bin=(/nonexistent/python -I -m guard)\n"
    )
    r = z.run("/bin/echo hi; echo AFTER")
    assert r.returncode == 126 and "hi" not in r.stdout and "cannot check" in r.stderr
    r = z.run("/bin/echo hi; echo AFTER", GUARD_MODE="warn")
    assert r.returncode == 0 and "hi" in r.stdout and "AFTER" in r.stdout


def test_builtins_and_functions_never_start_python(z: Z) -> None:
    log = z.root / "qlog"
    logq = z.ge.plant(z.dir("w"), "logq", f'#!/bin/sh\necho "$*" >> {log}\nexec "$@"\n')
    (z.zdot / ".zshenv").write_text(f"source {z.hook}\n__guard_bin=({logq} $__guard_bin)\n")
    r = z.run(
        "f() { echo f }; for i in {1..100}; do x=$i; echo $x >/dev/null; [[ -n $x ]]; f >/dev/null;"
        " /bin/true; ls / | wc -l >/dev/null; done; echo DONE"
    )
    assert r.returncode == 0 and "DONE" in r.stdout, r.stderr
    lines = log.read_text().splitlines()
    # One query for /bin/true and one for the pipeline (both words at once); the other
    # iterations reuse the cached answers. A PATH dir created in the same second as an answer
    # makes that answer uncacheable until the second is over, hence "at most" 2 more.
    assert 2 <= len(lines) <= 4, lines
    assert any(q.endswith("-- ls wc") for q in lines)
    assert not any(" -- f" in q or "echo" in q for q in lines)


BENIGN = r"""
set -u
cd "$WORK"
echo "hello world"
printf '%s-%d\n' abc 42
mkdir -p d/e && touch d/e/f && ls d/e
ls -la d | wc -l
cat /etc/hostname >/dev/null; echo "cat=$?"
grep -c root /etc/passwd
grep -q nosuchthing /etc/passwd; echo "grep=$?"
false; echo "false=$?"
true && echo and-ok
false || echo or-ok
echo a b c | tr a-z A-Z
echo "x y z" | awk '{print $2}'
echo foo | sed s/foo/bar/
seq 1 5 | sort -r | head -2 | tail -1
x=$(date +%Y >/dev/null; echo dated); echo $x
y=`basename /a/b/c`; echo $y
dirname /a/b/c
for i in 1 2 3; do expr $i + 1; done
i=0; while (( i < 3 )); do (( i++ )); done; echo "i=$i"
case abc in (a*) echo case-a ;; (*) echo other ;; esac
if [[ -d d ]]; then echo is-dir; else echo no-dir; fi
f() { echo "in f $1"; return 3 }; f arg; echo "f=$?"
( cd d && pwd | sed "s|$WORK||" )
{ echo g1; echo g2 } | cat
env A=1 sh -c 'echo $A'
command ls d
nice -n 1 echo niced
timeout 5 echo timed
echo 1 2 3 | xargs -n1 echo x
stdbuf -oL echo buffered
nohup echo nohupped 2>/dev/null
X=echo; $X dynamic
arr=(printf '%s\n' arr-ok); "${arr[@]}"
cmd=/bin/echo; $cmd abs-path
/usr/bin/env echo via-env
test -e d; echo "test=$?"
[ -e nope ]; echo "bracket=$?"
wc -c < /etc/hostname >/dev/null; echo wc=$?
cat <<EOF
heredoc $USER-ish
EOF
cat <<< "herestring"
print -r -- "${(U)x}"
typeset -A h; h[a]=1; echo ${(k)h}
sh -c 'exit 7'; echo "sh=$?"
ls nonexistent 2>/dev/null; echo "ls=$?"
md5sum /etc/hostname | cut -c1-0
sha256sum /dev/null | cut -d' ' -f1
stat -c %F d
id -u >/dev/null; echo id=$?
uname -s
head -c 3 /etc/passwd; echo
tail -n 1 /etc/passwd >/dev/null
cut -d: -f1 /etc/passwd | head -1
sort -u <(printf 'b\na\nb\n')
diff <(echo a) <(echo a); echo diff=$?
cmp /etc/hostname /etc/hostname; echo cmp=$?
find d -type f | sed "s|^|found |"
du -s d >/dev/null; echo du=$?
cp d/e/f d/e/g && mv d/e/g d/e/h && rm d/e/h && echo fileops
ln -s f d/e/l && readlink d/e/l && rm d/e/l
chmod 600 d/e/f && stat -c %a d/e/f
touch -d 2020-01-01 d/e/f && date -r d/e/f +%Y
tee d/t >/dev/null <<< teed; cat d/t
yes | head -2
printf 'a\tb\n' | expand | od -c | head -1 | wc -w
basename "$(pwd)" >/dev/null; echo pwd=$?
which sh >/dev/null; echo which=$?
whence -p sh >/dev/null; echo whence=$?
type ls >/dev/null; echo type=$?
command -v grep >/dev/null; echo commandv=$?
hash -r; rehash
unset x; echo ${x:-unset}
integer n=5; (( n *= 2 )); echo n=$n
local_fn() { local v=inner; echo $v }; local_fn
autoload -Uz is-at-least && is-at-least 5.0 && echo at-least
zmodload zsh/datetime && (( EPOCHSECONDS > 0 )) && echo epoch
setopt extendedglob; echo d/**/f(.N) ; unsetopt extendedglob
print -l -- one two | while read -r l; do echo "read $l"; done
exec 3>d/fd3; echo fd3 >&3; exec 3>&-; cat d/fd3
trap 'echo trapped' USR1; kill -USR1 $$; trap - USR1
sleep 0
getconf PAGESIZE >/dev/null; echo getconf=$?
od -An -tx1 -N2 /dev/zero
base64 <<< hi
rev <<< abc 2>/dev/null || echo rev-missing
nl <<< numbered | tr -s ' '
paste -d, <(echo 1) <(echo 2)
join <(echo 'a 1') <(echo 'a 2')
comm -12 <(echo x) <(echo x)
split -l 1 <(printf '1\n2\n') d/sp && ls d | grep -c sp
tac <<< t
fold -w 2 <<< abcd
printf '%05.1f\n' 3.14159
echo $(( 6 * 7 ))
echo ${#PATH} >/dev/null; echo pathlen
print -r -- ${${:-a/b/c}:t}
repeat 2 echo rep
select_fn() { return 0 }; select_fn && echo sel
noglob echo *
command echo commanded
builtin echo builtined
exec 4>/dev/null; exec 4>&-; echo exec-fd
echo done; (exit 5)
"""


def _benign(z: Z, with_hook: bool) -> subprocess.CompletedProcess:
    work = z.root / ("work-hook" if with_hook else "work-plain")
    work.mkdir()
    zdot = z.zdot if with_hook else z.dir("zdot-empty")
    env = {**z.env(path=SYS, WORK=str(work)), "ZDOTDIR": str(zdot)}
    return subprocess.run(
        [ZSH, "-c", BENIGN], env=env, cwd=work, capture_output=True, text=True, timeout=120
    )


def test_benign_commands_run_unchanged(z: Z) -> None:
    plain = _benign(z, with_hook=False)
    hooked = _benign(z, with_hook=True)
    assert plain.returncode == 5, plain.stderr
    assert hooked.stdout == plain.stdout
    assert hooked.returncode == plain.returncode
    assert "guard:" not in hooked.stderr
    assert hooked.stderr == plain.stderr
    assert len(BENIGN.strip().splitlines()) >= 100


# -- interactive: zsh -i on a pty --------------------------------------------------------------


def interactive(z: Z, rc_extra: str = "", pre: str = "", **extra: str) -> PtyShell:
    zdot = z.dir("zdot-i")
    (zdot / ".zshrc").write_text(f"PS1='%# '\nunsetopt beep\n{pre}\nsource {z.hook}\n{rc_extra}\n")
    env = {**z.env(TERM="dumb", **extra), "ZDOTDIR": str(zdot)}
    return PtyShell([ZSH, "-i"], env, cwd=str(z.root))


def test_interactive_block_keeps_the_prompt_and_sets_status(z: Z) -> None:
    z.plant("ls")
    with interactive(z) as sh:
        out = sh.run("ls; echo AFTER")
        assert "guard: blocked ls" in out and "AFTER" not in out.split("guard: blocked")[1]
        sh.send("ls\n")
        out = sh.run("echo status=$?")
        assert "status=126" in out
        out = sh.run("echo still-alive")
        assert "still-alive" in out
    assert not z.marker.exists()


def test_interactive_preserves_status_underscore_and_options(z: Z) -> None:
    with interactive(z, rc_extra="setopt ksh_arrays no_unset sh_word_split") as sh:
        out = sh.run("/bin/echo a b last; false; echo st=$? u=$_")
        assert "st=1 u=st=1" not in out and "st=1" in out
        out = sh.run('/bin/echo one two; echo "u=$_"')
        assert "u=two" in out
        out = sh.run('echo "opts=${options[ksharrays]}${options[nounset]}${options[shwordsplit]}"')
        assert "opts=ononon" in out
        out = sh.run("X='/bin/echo split'; $X ok")
        assert "split ok" in out and "guard:" not in out


def test_interactive_coexists_with_hooks_and_existing_debug_trap(z: Z) -> None:
    z.plant("ls")
    pre = (
        "autoload -Uz add-zsh-hook\n"
        "mine() { print -r -- PRECMD-RAN }\nadd-zsh-hook precmd mine\n"
        "pe() { print -r -- PREEXEC-RAN }\nadd-zsh-hook preexec pe\n"
        "trap 'typeset -g dbg=$((dbg+1))' DEBUG\n"
    )
    with interactive(z, pre=pre, rc_extra=f"source {z.hook}") as sh:  # sourced twice
        out = sh.run("/bin/echo hi")
        assert "PREEXEC-RAN" in out and "PRECMD-RAN" in out and "hi" in out
        out = sh.run("ls")
        assert out.count("guard: blocked ls") == 1
        out = sh.run("echo dbg=$(( dbg > 0 ))")
        assert "dbg=1" in out
    assert not z.marker.exists()


def test_interactive_unavailable_guard_warns_once_and_runs(z: Z) -> None:
    with interactive(z, rc_extra="__guard_bin=(/nonexistent/python)") as sh:
        out = sh.run("/bin/echo one; /usr/bin/printf 'two\\n'")
        assert "one" in out and "two" in out and out.count("cannot check commands") == 1


def test_interactive_ask_for_a_brand_new_command(z: Z) -> None:
    z.plant("newtool")
    with interactive(z) as sh:
        sh.send("newtool\n")
        sh.read_until(b"trust and run? [y/N]")
        sh.send("n")
        out = sh.run("echo next")
        assert "next" in out
        assert not z.marker.exists()
        sh.send("newtool\n")
        sh.read_until(b"trust and run? [y/N]")
        sh.send("y")
        out = sh.run("echo next2")
        assert "PLANTED" in out
    assert z.marker.exists()  # the user said yes: it was trusted and ran


def test_interactive_shadow_never_offers_trust(z: Z) -> None:
    z.plant("ls")
    with interactive(z) as sh:
        out = sh.run("ls")
        assert "guard: blocked ls" in out and "trust and run" not in out
    assert not z.marker.exists()


def test_hook_passes_zsh_n(z: Z) -> None:
    r = subprocess.run([ZSH, "-n", str(z.hook)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    src = Path(__file__).resolve().parents[2] / "shell" / "guard.zsh"
    assert subprocess.run([ZSH, "-n", str(src)]).returncode == 0
    assert os.access(src, os.R_OK)
