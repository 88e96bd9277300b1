"""The bash hook against a real bash: planted programs never run, benign ones run unchanged.

Non-interactive cases run `bash -c` (and scripts) with BASH_ENV pointing at a file that
sources the rendered hook; interactive ones drive `bash -i` through a pty with an explicit
`--rcfile` in the sandbox HOME. Every planted program touches a marker file; the assertion is
that the marker never appears.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Optional

import pytest

from tests.conftest import GuardEnv, guard_exe
from tests.shell.ptyshell import PtyShell

BASH = shutil.which("bash")
pytestmark = pytest.mark.skipif(BASH is None, reason="bash is not installed")
SYS = "/usr/bin:/bin"
_HOOK: dict = {}


class B:
    """One sandbox: a rendered hook, a BASH_ENV file, a planted dir and a marker."""

    def __init__(self, ge: GuardEnv) -> None:
        self.ge = ge
        self.plant_dir = ge.bindir("plant")
        self.marker = ge.root / "MARKER"
        hook = _HOOK.get("text")
        if hook is None:  # rendered once per session by the real CLI; it depends on no env
            hook = _HOOK["text"] = subprocess.run(
                [*guard_exe(), "hook", "bash"], env=ge.env(), capture_output=True, check=True
            ).stdout
        self.hook = ge.root / "hook.bash"
        self.hook.write_bytes(hook)
        self.bash_env = ge.root / "bash_env"
        self.bash_env.write_text(f"source {self.hook}\n")
        self.rc = ge.home / ".guard-test-bashrc"
        self.rc.write_text(f"PS1='P> '\nsource {self.hook}\n")

    def plant(self, name: str, directory: Optional[Path] = None) -> Path:
        return self.ge.plant(
            directory or self.plant_dir, name, f"#!/bin/sh\ntouch {self.marker}\necho PLANTED\n"
        )

    def env(self, path: Optional[str] = None, hook: bool = True, **extra: str) -> dict:
        e = self.ge.env(PATH=path or f"{self.plant_dir}:{SYS}", **extra)
        if hook:
            e["BASH_ENV"] = str(self.bash_env)
        return e

    def run(self, script: str, path: Optional[str] = None, hook: bool = True, **extra: str):
        return subprocess.run(
            [BASH, "-c", script],
            env=self.env(path, hook, **extra),
            cwd=self.ge.root,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def guard(self, *args: str, path: Optional[str] = None) -> None:
        subprocess.run(
            [*guard_exe(), *args], env=self.env(path, hook=False), capture_output=True, check=True
        )

    def interactive(self, path: Optional[str] = None, **extra: str) -> PtyShell:
        # The pty is the controlling terminal: `ask` reads the answer from /dev/tty.
        return PtyShell(
            [BASH, "--noprofile", "--rcfile", str(self.rc), "-i"],
            env=self.env(path, hook=False, TERM="dumb", **extra),
            cwd=str(self.ge.root),
            ctty=True,
        )


@pytest.fixture
def b(guard_env: GuardEnv) -> B:
    return B(guard_env)


def blocked(b: B, r, name: str = "ls") -> None:
    assert not b.marker.exists(), "the planted program ran"
    assert r.returncode == 126, (r.returncode, r.stdout, r.stderr)
    assert f"guard: blocked {name}" in r.stderr, r.stderr
    assert "AFTER" not in r.stdout


# -- non-interactive: bash -c with the hook in BASH_ENV --------------------------------------

FORMS = [
    "ls",
    "ls /; echo AFTER",
    "echo a | ls | cat; echo AFTER",
    "true && ls; echo AFTER",
    "false || ls; echo AFTER",
    "! ls; echo AFTER",
    "{ ls; }; echo AFTER",
    "if ls; then echo AFTER; fi",
    "while ls; do break; done; echo AFTER",
    "time ls",
    "FOO=1 ls; echo AFTER",
    'X="a b" ls; echo AFTER',
    "X='a b' ls; echo AFTER",
    "i=$((1+1)) ls; echo AFTER",
    "ls $((1+1)); echo AFTER",
    "ls '(x)'; echo AFTER",
    'x=$((2)); y="$x"; ls "$((x))"; echo AFTER',
    "ls >/dev/null 2>&1; echo AFTER",
    "\\ls",
    "'ls'",
    '"l"s',
    "f() { ls; }; f; echo AFTER",
    "eval ls; echo AFTER",
    # dynamic command words
    "X=ls; $X; echo AFTER",
    "X=ls; ${X}; echo AFTER",
    'X=ls; "$X"; echo AFTER',
    "X='ls -l'; $X; echo AFTER",
    "X=; ${X:-ls}; echo AFTER",
    'set -- ls -l; "$@"; echo AFTER',
    'run() { "$@"; }; run ls; echo AFTER',
    'run() { "$1" x; }; run ls; echo AFTER',
    # wrappers
    "command ls; echo AFTER",
    "command -p ls; echo AFTER",
    "exec ls",
    "exec -a x ls",
    "env ls; echo AFTER",
    "env -i PATH=$PATH A=1 ls; echo AFTER",
    "env -u HOME -- ls; echo AFTER",
    "env -S 'ls -l'; echo AFTER",
    "nohup ls; echo AFTER",
    "nice ls; echo AFTER",
    "nice -n 5 ls; echo AFTER",
    "timeout 5 ls; echo AFTER",
    "timeout -s KILL -k 1 5 ls; echo AFTER",
    "stdbuf -o0 ls; echo AFTER",
    "stdbuf -o 0 -e L ls; echo AFTER",
    "xargs ls </dev/null; echo AFTER",
    "xargs -0 -n1 ls </dev/null; echo AFTER",
    "xargs -I{} ls {} </dev/null; echo AFTER",
    "sudo ls; echo AFTER",
    "sudo -u bob ls; echo AFTER",
    "sudo -E -u bob VAR=1 ls; echo AFTER",
    "doas -u bob ls; echo AFTER",
    "/usr/bin/time -f %e ls; echo AFTER",
    'nice -n 5 env -i PATH="$PATH" timeout 5 ls; echo AFTER',
]


@pytest.mark.parametrize("script", FORMS)
def test_planted_shadow_never_runs(b: B, script: str) -> None:
    b.plant("ls")
    blocked(b, b.run(script))


# A command-scoped PATH: the shell's PATH has no planted dir; the command's own PATH has.
SCOPED = [
    "PATH={plant}:/usr/bin:/bin ls; echo AFTER",
    "P={plant}; PATH=$P:/usr/bin:/bin ls; echo AFTER",
    'P={plant}; PATH="${{P}}":$PATH ls; echo AFTER',
    "PATH='{plant}':$PATH command ls; echo AFTER",
    "PATH={plant}:$PATH nice -n 5 ls; echo AFTER",
    "env PATH={plant}:/usr/bin ls; echo AFTER",
    "env -i PATH={plant} ls; echo AFTER",
    "PATH={plant} env ls; echo AFTER",
    "A=1 PATH={plant}:$PATH B=2 env A=2 ls; echo AFTER",
    "x=$(PATH={plant}:$PATH ls); echo AFTER",
]


@pytest.mark.parametrize("script", SCOPED)
def test_command_scoped_path_is_used(b: B, script: str) -> None:
    b.plant("ls")
    blocked(b, b.run(script.format(plant=b.plant_dir), path=SYS))


def test_command_scoped_path_benign_and_unset(b: B) -> None:
    """The real tool in a scoped PATH runs; `env -i`/`env -u PATH` search glibc's default
    (/bin:/usr/bin), not the shell's PATH with its planted ls."""
    b.plant("ls")
    r = b.run(
        "PATH=/usr/bin:/bin ls -d /; env -i ls -d /; env -u PATH ls -d /; env - ls -d /; "
        "builtin echo b; command -v cat; echo AFTER"
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout == "/\n/\n/\n/\nb\n/usr/bin/cat\nAFTER\n", r.stdout
    assert not b.marker.exists() and r.stderr == ""


def test_dynamic_command_scoped_path(b: B) -> None:
    b.plant("ls")
    script = f"PATH=$(echo {b.plant_dir}):$PATH ls; echo AFTER"
    r = b.run(script, path=SYS)
    assert r.returncode == 126 and "command-scoped PATH" in r.stderr, r.stderr
    assert not b.marker.exists() and "AFTER" not in r.stdout
    r = b.run(script, path=SYS, GUARD_MODE="warn")
    assert r.returncode == 0 and "AFTER" in r.stdout and "command-scoped PATH" in r.stderr
    # a builtin does not look PATH up
    r = b.run(f"PATH=$(echo {b.plant_dir}) echo hi; echo AFTER", path=SYS)
    assert r.returncode == 0 and r.stdout == "hi\nAFTER\n", r.stderr


TRAPS = [
    "trap ls EXIT; echo AFTER",
    "trap 'ls' ERR; false; echo AFTER",
    "trap -- 'rm -f /nonexistent; ls -l' EXIT; echo AFTER",
    "trap 'true && ls' INT TERM; echo AFTER",
    "trap 'if true; then ls; fi' EXIT; echo AFTER",
    "trap 'echo $(ls)' EXIT; echo AFTER",
    "builtin trap ls EXIT; echo AFTER",
    "command trap ls EXIT; echo AFTER",
    "f() { trap ls RETURN; }; f; echo AFTER",
]


@pytest.mark.parametrize("script", TRAPS)
def test_trap_handler_is_checked_when_set(b: B, script: str) -> None:
    """bash runs no DEBUG trap inside a trap handler: the handler is checked by `trap`."""
    b.plant("ls")
    blocked(b, b.run(script))


def test_trap_dynamic_and_benign(b: B) -> None:
    b.plant("ls")
    for script in ('X=ls; trap "$X" EXIT; echo AFTER', "X=ls; trap '$X' EXIT; echo AFTER"):
        r = b.run(script)
        assert r.returncode == 126 and "AFTER" not in r.stdout, (script, r.stderr)
        assert not b.marker.exists()
    r = b.run("trap 'echo \"bye $?\"; cat /dev/null' EXIT; trap - INT; trap -p INT; echo hi")
    assert r.returncode == 0 and r.stdout == "hi\nbye 0\n", (r.stdout, r.stderr)
    r = b.run("trap ls EXIT; echo AFTER", GUARD_MODE="warn")
    assert b.marker.exists() and "AFTER" in r.stdout and "guard: warning" in r.stderr


def test_mode_from_config_yaml(b: B) -> None:
    """The hook's own decisions (a substitution in command position) follow the mode guard
    reports (config.yaml here), not only GUARD_MODE."""
    cfg = b.ge.config / "guard" / "config.yaml"
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text("mode: warn\n")
    cfg.chmod(0o600)
    r = b.run("cat /dev/null; $(echo true); echo AFTER")
    assert r.returncode == 0 and "AFTER" in r.stdout, r.stderr
    assert "command substitution" in r.stderr
    r = b.run("$(echo true); echo AFTER")
    assert r.returncode == 0 and "AFTER" in r.stdout, r.stderr
    r = b.run("$(echo true); echo AFTER", GUARD_MODE="block")
    assert r.returncode == 126 and "AFTER" not in r.stdout


def test_command_substitution_in_command_position_denied(b: B) -> None:
    r = b.run("$(echo ls) /; echo AFTER")
    assert r.returncode == 126 and "command substitution" in r.stderr
    r = b.run("`echo true`; echo AFTER")
    assert r.returncode == 126 and "AFTER" not in r.stdout


@pytest.mark.parametrize(
    "script",
    [
        'x=$(ls); echo "AFTER $? [$x]"',
        'echo "$(ls)"; echo AFTER',
        "f() { local x=$(ls -l | cat); echo AFTER; }; f",
        "cat <(ls); echo AFTER",
        "echo `ls`; echo AFTER",
        "x=$(FOO=1 env -i PATH=$PATH ls); echo AFTER",
    ],
)
def test_substitution_first_command_stops_the_script(b: B, script: str) -> None:
    """The first command of $( ), ` `, <( ) is checked in the parent: the script exits 126."""
    b.plant("ls")
    blocked(b, b.run(script))


@pytest.mark.parametrize(
    "script",
    ["(ls); echo AFTER $?", 'x=$(true; ls); echo "AFTER $?"', "(true; ls) | cat; echo AFTER $?"],
)
def test_subshell_body_is_covered(b: B, script: str) -> None:
    """Deeper in a subshell the inherited trap (functrace) blocks: it exits that subshell with
    126 and the parent goes on, as after any failed command there."""
    b.plant("ls")
    r = b.run(script)
    assert not b.marker.exists()
    assert "guard: blocked ls" in r.stderr
    assert "AFTER" in r.stdout
    if script.startswith("("):
        assert "AFTER 126" in r.stdout or "AFTER 0" in r.stdout


def test_quoted_substitution_text_is_not_a_command(b: B) -> None:
    b.plant("ls")
    r = b.run("echo '$(ls)' '`ls`'; echo AFTER")
    assert r.returncode == 0 and r.stdout == "$(ls) `ls`\nAFTER\n", r.stderr


def test_sourced_file_and_script(b: B) -> None:
    b.plant("ls")
    src = b.ge.root / "lib.sh"
    src.write_text("ls\necho AFTER\n")
    blocked(b, b.run(f". {src}; echo AFTER"))
    script = b.ge.root / "script.sh"
    script.write_text("#!/bin/bash\necho START\nls\necho AFTER\n")
    r = subprocess.run(
        [BASH, str(script)], env=b.env(), cwd=b.ge.root, capture_output=True, text=True
    )
    assert "START" in r.stdout
    blocked(b, r)


def test_hash_table_swap_is_checked(b: B) -> None:
    evil = b.plant("evil")
    r = b.run(f"cat /dev/null; hash -p {evil} cat; cat /dev/null; echo AFTER")
    blocked(b, r, "cat")
    r = b.run(f"BASH_CMDS[cat]={evil}; cat /dev/null; echo AFTER")
    blocked(b, r, "cat")


def test_shadow_planted_during_the_session_is_seen(b: B) -> None:
    """The cached ok for `ls` dies when an earlier PATH dir changes (the -nt signal). While
    bash's hash table still names /usr/bin/ls, bash runs that one, and guard agrees."""
    early = b.ge.bindir("early")
    body = f"#!/bin/sh\\ntouch {b.marker}\\n"
    plant = f"printf '{body}' > {early}/ls; chmod +x {early}/ls; "
    path = f"{early}:{b.plant_dir}:{SYS}"
    r = b.run(f"ls / >/dev/null; ls / >/dev/null; {plant} ls -d /; echo AFTER", path=path)
    assert r.returncode == 0 and r.stdout == "/\nAFTER\n" and not b.marker.exists()
    (early / "ls").unlink()
    r = b.run(f"ls / >/dev/null; echo FIRST; {plant} hash -r; ls /; echo AFTER", path=path)
    assert "FIRST" in r.stdout
    blocked(b, r)


def test_modified_pinned_file(b: B) -> None:
    tool = b.ge.plant(b.plant_dir, "mytool", "#!/bin/sh\necho GOOD\n")
    b.guard("trust", str(tool))
    r = b.run("mytool; mytool")
    assert r.returncode == 0 and r.stdout == "GOOD\nGOOD\n", r.stderr
    r = b.run(f"mytool; printf '#!/bin/sh\\ntouch {b.marker}\\n' > {tool}; mytool; echo AFTER")
    assert r.stdout.startswith("GOOD")
    blocked(b, r, "mytool")


def test_retargeted_symlink(b: B) -> None:
    good = b.ge.plant(b.ge.bindir("real"), "good", "#!/bin/sh\necho GOOD\n")
    bad = b.plant("bad")
    link = b.ge.bindir("links") / "tool"
    link.symlink_to(good)
    b.guard("trust", str(good))
    path = f"{link.parent}:{SYS}"
    r = b.run("tool; tool", path=path)
    assert r.returncode == 0 and r.stdout == "GOOD\nGOOD\n", r.stderr
    r = b.run(f"tool; ln -sfn {bad} {link}; tool; echo AFTER", path=path)
    assert r.stdout.startswith("GOOD")
    blocked(b, r, "tool")


def test_relative_path_command(b: B) -> None:
    b.plant("ls", b.ge.root)
    blocked(b, b.run("./ls; echo AFTER"), "./ls")


def test_warn_and_monitor_modes_run_it(b: B) -> None:
    b.plant("ls")
    r = b.run("ls; echo AFTER", GUARD_MODE="warn")
    assert b.marker.exists() and "AFTER" in r.stdout and "guard: warning" in r.stderr
    b.marker.unlink()
    r = b.run("ls; echo AFTER", GUARD_MODE="monitor")
    assert b.marker.exists() and "AFTER" in r.stdout and "guard" not in r.stderr


def broken_hook(b: B) -> str:
    """The rendered hook with guard's command replaced by one that cannot start."""
    body = b.hook.read_text().split("\n", 1)[1]
    return "__guard_bin=(/nonexistent/python -I -m guard)\n" + body


def test_guard_broken_fails_closed_unless_warn(b: B) -> None:
    b.plant("ls")
    broken = b.ge.root / "broken.bash"
    broken.write_text(broken_hook(b))
    b.bash_env.write_text(f"source {broken}\n")
    r = b.run("cat /dev/null; echo AFTER")
    assert r.returncode == 126 and "AFTER" not in r.stdout
    assert "guard: cannot check commands" in r.stderr
    r = b.run("cat /dev/null; echo AFTER; cat /dev/null; echo AGAIN", GUARD_MODE="warn")
    assert r.returncode == 0 and "AFTER" in r.stdout and "AGAIN" in r.stdout
    assert r.stderr.count("guard: cannot check commands") == 1


def test_chains_existing_debug_trap_and_is_idempotent(b: B) -> None:
    log = b.ge.root / "trap.log"
    # As `eval "$(guard hook bash)"` does it. (A file that is `source`d without functrace
    # cannot see an earlier DEBUG trap: bash hides it; see docs/shell-bash.md.)
    b.bash_env.write_text(
        f"trap 'echo \"T:$BASH_COMMAND\" >> {log}' DEBUG\n"
        f'eval "$(cat {b.hook})"\neval "$(cat {b.hook})"\n'
    )
    r = b.run("echo one; cat /dev/null; trap -p DEBUG")
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("__guard_trap") == 1
    lines = log.read_text().splitlines()
    assert lines.count("T:echo one") == 1 and lines.count("T:cat /dev/null") == 1
    b.plant("ls")
    blocked(b, b.run("ls; echo AFTER"))


def test_status_lastarg_and_options_preserved(b: B) -> None:
    script = (
        "trap 'echo \"ERR:$BASH_COMMAND\"' ERR; "
        'false; echo "s=$?"; echo a b; echo "u=$_"; (exit 7); echo "s=$?"; '
        'cat /dev/null zzz 2>/dev/null; echo "s=$? u=$_"; '
        "shopt -s nullglob; set -f; set -o | grep -E '^(noglob|nounset|errexit)'; "
        'shopt -p nullglob; true | false | cat /dev/null; echo "${PIPESTATUS[*]}"; '
        'f() { return 3; }; f; x=$(exit 2); echo "s=$?"'
    )
    with_hook = b.run(script)
    without = b.run(script, hook=False)
    assert with_hook.stdout == without.stdout, (with_hook.stdout, without.stdout)
    assert with_hook.returncode == without.returncode
    assert "s=1\n" in with_hook.stdout and "u=b\n" in with_hook.stdout


def test_nounset_errexit_scripts_still_work(b: B) -> None:
    r = b.run('set -euo pipefail; x=1; echo "$x" | cat; f() { ls / >/dev/null; }; f; echo OK')
    assert r.returncode == 0 and r.stdout == "1\nOK\n", r.stderr


BENIGN = r"""
cd "$WORK"
printf 'b\na\nc\na\n' > in.txt
echo hello world
printf '%s-%s\n' x y
cat in.txt
sort in.txt
sort -u in.txt | wc -l
uniq -c in.txt
grep -c a in.txt
grep -q zzz in.txt
grep zzz in.txt
head -n 2 in.txt
tail -n 1 in.txt
tr a-z A-Z < in.txt
cut -c1 in.txt
sed 's/a/A/' in.txt
awk '{print NR": "$0}' in.txt
wc -c < in.txt
ls in.txt
ls nonexistent
cp in.txt copy.txt
mv copy.txt moved.txt
cmp in.txt moved.txt
rm moved.txt
mkdir -p d/e
rmdir d/e d
touch t.txt
test -f t.txt
[ -d . ]
[[ -n x ]]
basename /a/b/c.txt .txt
dirname /a/b/c.txt
expr 2 + 3
seq 3
seq 1 2 7 | paste -sd+ | bc 2>/dev/null || true
printf '3\n1\n2\n' | sort -n | tail -1
x=$(echo inner); echo "$x"
y=`echo bt`; echo "$y"
echo "$(cat in.txt | head -1)"
(cd /; pwd)
{ echo g1; echo g2; } | cat
f() { echo "fn $1"; return 3; }
f arg
g() { "$@"; }
g echo via-args
g printf '%s\n' p
h() { local n; n=$(wc -l < in.txt); echo "lines $n"; }
h
for i in 1 2 3; do echo "i=$i"; done
n=0; while [ $n -lt 3 ]; do n=$((n+1)); done; echo "n=$n"
case foo in f*) echo matched;; esac
true && echo and-true
false || echo or-false
false && echo never
! false
echo a | grep a | wc -l
env | grep -c '^HOME='
env A=1 sh -c 'echo "A=$A"'
env -i PATH="$PATH" sh -c 'echo clean'
command -v ls
command ls in.txt
type -t cd
nice -n 1 echo niced
timeout 5 echo timed
nohup echo nohupped 2>/dev/null
stdbuf -o0 echo buffered
printf 'a\nb\n' | xargs -n1 echo x
printf 'a\0b\0' | xargs -0 echo y
/bin/echo absolute
/usr/bin/printf 'abs %s\n' printf
sh -c 'exit 4'
bash -c 'echo nested'
X=echo; $X dynamic
Y='printf %s\n'; $Y split
set -- echo positional; "$@"
set --
arr=(1 2 3); echo "${#arr[@]}"
declare -A m=([k]=v); echo "${m[k]}"
read -r line < in.txt; echo "$line"
cat <<EOF
heredoc $((1+2))
EOF
cat <<< "herestring"
diff <(echo a) <(echo a)
exec 3>out.txt; echo fd >&3; exec 3>&-; cat out.txt
echo err >&2
od -An -c <<< ab
md5sum in.txt
sha256sum in.txt | cut -c1-8
date -d @0 -u +%Y
id -u >/dev/null
uname -s
true
false
echo "$?"
rm -f in.txt t.txt out.txt
"""


def test_benign_session_unchanged(b: B) -> None:
    """~100 ordinary commands: same output and statuses with and without the hook."""
    lines = [ln for ln in BENIGN.strip().splitlines()]
    # Report every line's status so a changed exit status shows up in stdout too.
    script = "\n".join(
        ln
        if ln.startswith(("cat <<", "heredoc", "EOF", "f()", "g()", "h()"))
        else f'{ln}; echo "rc=$?"'
        for ln in lines
    )
    outs = []
    for hook in (True, False):
        work = b.ge.root / ("w1" if hook else "w0")
        work.mkdir()
        r = subprocess.run(
            [BASH, "-c", script],
            env=b.env(f"{b.ge.bindir('empty')}:{SYS}", hook=hook, WORK=str(work)),
            cwd=b.ge.root,
            capture_output=True,
            text=True,
            timeout=120,
        )
        outs.append(r)
    guarded, plain = outs
    assert "guard:" not in guarded.stderr, guarded.stderr
    assert guarded.stdout == plain.stdout
    assert guarded.stderr == plain.stderr
    assert guarded.returncode == plain.returncode
    assert guarded.stdout.count("rc=") >= 85


# -- interactive: bash -i on a pty, rc file in the sandbox HOME -------------------------------


def test_interactive_block_keeps_the_shell(b: B) -> None:
    b.plant("ls")
    second = b.ge.root / "SECOND"
    with b.interactive() as sh:
        out = sh.run("ls /")
        assert "guard: blocked ls" in out
        out = sh.run(f"ls / && touch {second}; echo SAME''LINE")
        assert "guard: blocked ls" in out and "SAMELINE" not in out
        out = sh.run("echo alive $((40+2))")
        assert "alive 42" in out
        for line in ("f() { command ls; }; f", "(ls)", 'x=$(ls); echo "[$x]"', "eval ls"):
            assert "guard: blocked ls" in sh.run(line), line
    assert not b.marker.exists() and not second.exists()


def test_interactive_benign_and_status(b: B) -> None:
    with b.interactive() as sh:
        out = sh.run('printf \'x\\n\' | cat; false; echo "st=$?"; echo a b; echo "u=$_"')
        assert "x\n" in out and "st=1" in out and "u=b" in out
        out = sh.run("shopt extdebug; trap -p DEBUG")
        assert "extdebug" in out and "on" in out and "__guard_trap" in out


@pytest.mark.parametrize("array", [False, True])
def test_prompt_command_string_or_array_kept(b: B, array: bool) -> None:
    log = b.ge.root / "pc.log"
    pc = "PROMPT_COMMAND=(mine)" if array else "PROMPT_COMMAND='mine'"
    b.rc.write_text(
        f"PS1='P> '\nmine() {{ echo tick >> {log}; }}\n{pc}\nsource {b.hook}\nsource {b.hook}\n"
    )
    b.plant("ls")
    with b.interactive() as sh:
        sh.run("echo one")
        out = sh.run("declare -p PROMPT_COMMAND")
        assert ("declare -a" in out) == array
        assert out.count("__guard_prompt") == 1 and "mine" in out
        assert "guard: blocked ls" in sh.run("ls")
    assert log.read_text().count("tick") >= 2
    assert not b.marker.exists()


def test_takes_the_trap_back_from_a_later_tool(b: B) -> None:
    """A tool that installs its own DEBUG trap after us (the way bash-preexec does at its
    first prompt: it saves `trap -p DEBUG`, replaces the trap and calls the old one only
    once per command line) is chained at the next prompt; both keep working."""
    log = b.ge.root / "pre.log"
    b.rc.write_text(
        f"""PS1='P> '
source {b.hook}
__t_install() {{
  local prior=$(trap -p DEBUG); prior=${{prior#trap -- \\'}}; prior=${{prior%\\' DEBUG}}
  eval "__t_prior() {{ $prior; }}"
  trap '__t_hook "$_"' DEBUG
}}
__t_hook() {{
  echo "pre:$BASH_COMMAND" >> {log}; [[ -n $__t_once ]] && return 0; __t_once=1; __t_prior
}}
__t_install
"""
    )
    b.plant("ls")
    with b.interactive() as sh:
        sh.run("echo first")
        out = sh.run("true; ls /")
        assert "guard: blocked ls" in out
        out = sh.run("trap -p DEBUG")
        assert "__guard_trap" in out
    assert not b.marker.exists()
    assert "pre:echo first" in log.read_text()
    assert "pre:true" in log.read_text()


def test_interactive_guard_broken_warns_once_and_runs(b: B) -> None:
    broken = b.ge.root / "broken.bash"
    broken.write_text(broken_hook(b))
    b.rc.write_text(f"PS1='P> '\nsource {broken}\n")
    with b.interactive() as sh:
        out = sh.run("cat /dev/null; cat /dev/null; echo ran")
        assert out.count("guard: cannot check commands") == 1 and "ran" in out
        out = sh.run("head -c0 /dev/null; echo again")
        assert out.count("guard: cannot check commands") == 1 and "again" in out


@pytest.mark.parametrize("answer", ["n", "y"])
def test_interactive_ask_for_a_new_command(b: B, answer: str) -> None:
    newdir = b.ge.bindir("new")
    b.plant("brandnew", newdir)
    with b.interactive(path=f"{newdir}:{SYS}") as sh:
        sh.send("brandnew\n")
        shown = sh.clean(sh.read_until(b"[y/N]"))
        assert "guard: untrusted brandnew" in shown
        sh.send(answer + "\n")
        out = sh.run("echo next")
        assert "next" in out
    assert b.marker.exists() == (answer == "y")
    if answer == "y":  # trusted now: a new shell runs it without asking
        b.marker.unlink()
        r = b.run("brandnew; echo AFTER", path=f"{newdir}:{SYS}")
        assert r.returncode == 0 and "AFTER" in r.stdout and b.marker.exists(), r.stderr


def test_takes_the_trap_back_from_starship_style_init(b: B) -> None:
    """starship without bash-preexec wraps the existing trap's first word in its own
    function and swallows its status; the hook takes the trap back by the first prompt."""
    b.rc.write_text(
        f"""PS1='P> '
source {b.hook}
starship_preexec() {{ :; }}
dbg_trap="$(trap -p DEBUG | cut -d' ' -f3 | tr -d \\')"
starship_preexec_all() {{
  local PREV_LAST_ARG=$1; $dbg_trap; starship_preexec; : "$PREV_LAST_ARG"
}}
trap 'starship_preexec_all "$_"' DEBUG
"""
    )
    b.plant("ls")
    with b.interactive() as sh:
        assert "guard: blocked ls" in sh.run("ls /")
        out = sh.run("trap -p DEBUG; declare -p __guard_chain")
        assert "'__guard_trap" in out and "starship_preexec_all" in out
        assert "alive" in sh.run("echo alive")
    assert not b.marker.exists()


# -- the child and the text cache (shell/guard-lib.bash) --------------------------------------


def _trusted_tool(b: B, name: str = "mytool") -> Path:
    d = b.ge.bindir("tools")
    tool = b.ge.plant(d, name, "#!/bin/sh\necho GOOD\n")
    b.guard("trust", str(tool))
    return tool


@pytest.mark.parametrize(
    "line",
    [
        'x=$(mytool); echo "$x"',
        "env mytool",
        "nice -n 1 mytool",
        'echo "$(mytool)"',
        "X=mytool; $X",
        'X=mytool; "${X}"',
        "X='mytool -v'; $X",
    ],
)
def test_cached_text_is_checked_again_after_a_plant(b: B, line: str) -> None:
    """A command text allowed whole (no child next time) is allowed only while every file
    it was allowed on still holds: a shadow planted in an earlier PATH dir blocks it."""
    tool = _trusted_tool(b)
    early = b.ge.bindir("early")
    path = f"{early}:{tool.parent}:{SYS}"
    plant = f"printf '#!/bin/sh\\ntouch {b.marker}\\n' > {early}/mytool; chmod +x {early}/mytool"
    r = b.run(f"for i in 1 2 3; do {line}; done; {plant}; hash -r; {line}; echo AFTER", path=path)
    assert r.stdout.count("GOOD") == 3, (r.stdout, r.stderr)
    blocked(b, r, "mytool")


def test_function_then_file_of_the_same_name(b: B) -> None:
    """A function passes without a check (its commands are checked as they run); once it is
    unset the same text runs a file, which is checked."""
    b.plant("ls")
    r = b.run("ls() { echo FN; }; ls x; ls x; unset -f ls; ls x; echo AFTER")
    assert r.stdout.startswith("FN\nFN\n"), r.stdout
    blocked(b, r)


def test_cached_text_survives_a_path_change(b: B) -> None:
    """PATH is part of every cached answer: after a change the same text is checked again."""
    tool = _trusted_tool(b)
    r = b.run(
        f"mytool; env mytool; PATH={b.plant_dir}:$PATH; env mytool; echo AFTER",
        path=f"{tool.parent}:{SYS}",
    )
    assert r.returncode == 0 and r.stdout == "GOOD\nGOOD\nGOOD\nAFTER\n", r.stderr
    b.plant("mytool")
    r = b.run(
        f"mytool; env mytool; PATH={b.plant_dir}:$PATH; env mytool; echo AFTER",
        path=f"{tool.parent}:{SYS}",
    )
    assert r.stdout == "GOOD\nGOOD\n", r.stdout
    blocked(b, r, "mytool")


def test_xtrace_shows_the_users_commands_not_the_hooks(b: B) -> None:
    tool = _trusted_tool(b)
    r = b.run("set -x; mytool; env mytool; x=$(mytool); set +x", path=f"{tool.parent}:{SYS}")
    assert r.returncode == 0 and r.stdout == "GOOD\nGOOD\n", r.stderr
    assert "+ mytool" in r.stderr and "+ env mytool" in r.stderr
    # The trap and its dispatch may show; the checking itself (parser, query) never does.
    for internal in ("__guard_slow", "__guard_words", "__guard_query", "__guard_check", "local "):
        assert internal not in r.stderr, r.stderr
    assert len(r.stderr.splitlines()) < 40, r.stderr


def test_user_aliases_and_shell_options_do_not_reach_the_check(b: B) -> None:
    """The child evaluates the checking code at each miss, after the user's rc has defined
    aliases and set options: none of them may change what it does."""
    b.plant("ls")
    r = b.run(
        "shopt -s expand_aliases nocasematch failglob; alias local='echo HIJACK;' "
        "printf='echo HIJACK'; set -E -o errtrace; trap 'echo ERRTRAP' ERR; "
        "shopt -s inherit_errexit; set -e; ls; echo AFTER"
    )
    assert "HIJACK" not in r.stdout and "ERRTRAP" not in r.stdout, r.stdout
    blocked(b, r)


def test_a_failing_child_fails_closed(b: B) -> None:
    """No verdict from the child (here: the checking code is gone) is a failure: a script
    stops with 126 before the command runs; an interactive shell would run it with a warning."""
    b.plant("ls")
    r = b.run("__guard_lib='exit 3'; ls; echo AFTER")
    assert not b.marker.exists()
    assert r.returncode == 126 and "AFTER" not in r.stdout
    assert "guard: the hook could not check ls" in r.stderr, r.stderr
