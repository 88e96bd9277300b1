"""The fish hook, driven through real fish 3.6 processes: `fish -c` / scripts (by-name
functions) and interactive fish on a pty, where Enter is really typed so the binding runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import GuardEnv, guard_exe
from tests.shell.ptyshell import PtyShell

FISH = shutil.which("fish")
pytestmark = pytest.mark.skipif(FISH is None, reason="fish is not installed")


def marker_script(marker: Path) -> str:
    return f"#!/bin/sh\ntouch '{marker}'\necho PLANTED-RAN\n"


@pytest.fixture(scope="module")
def warm_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """guard's dpkg index and verify cache, built once by the real guard for this module and
    copied into each sandbox (building them costs ~1 s per fresh cache)."""
    root = tmp_path_factory.mktemp("fish-warm")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "GUARD_"))}
    env.update(
        HOME=str(root),
        XDG_CONFIG_HOME=str(root / "c"),
        XDG_DATA_HOME=str(root / "d"),
        XDG_STATE_HOME=str(root / "s"),
        XDG_CACHE_HOME=str(root / "k"),
        PATH="/usr/bin:/bin",
    )
    subprocess.run(
        [*guard_exe(), "_query", "--shell", "fish", "--shadows"],
        env=env,
        capture_output=True,
        check=True,
    )
    return root / "k" / "guard"


class FishBox:
    """A sandboxed user whose fish config sources the rendered hook, with a planted `ls`."""

    def __init__(self, ge: GuardEnv, warm: Path | None = None) -> None:
        self.ge = ge
        if warm is not None:
            dst = ge.cache / "guard"
            dst.mkdir(parents=True, exist_ok=True)
            for f in warm.iterdir():
                if f.is_file() and not f.name.startswith("fish-names"):
                    shutil.copy2(f, dst / f.name)
        self.bad = ge.bindir("evil-bin")
        self.marker = ge.root / "MARKER"
        ge.plant(self.bad, "ls", marker_script(self.marker))
        self.path = f"{self.bad}:/usr/bin:/bin"
        out = subprocess.run(
            [*guard_exe(), "hook", "--path", "fish"],
            env=ge.env(PATH=self.path),
            capture_output=True,
            text=True,
            check=True,
        )
        self.hook = out.stdout.strip()
        confd = ge.config / "fish" / "conf.d"
        confd.mkdir(parents=True)
        (confd / "guard.fish").write_text(f"source '{self.hook}'\n")

    def env(self, **extra: str) -> dict[str, str]:
        e = self.ge.env(PATH=self.path, TERM="xterm", fish_greeting="")
        e.update(extra)
        return e

    def fish_c(self, script: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [FISH, "-c", script],
            env=self.env(**extra),
            capture_output=True,
            text=True,
            cwd=self.ge.root,
            timeout=60,
        )

    def interactive(self, **extra: str) -> PtyShell:
        sh = PtyShell([FISH, "-i"], self.env(**extra), cwd=str(self.ge.root), ctty=True)
        sh.run("set -g fish_greeting")
        # Ctrl-G empties the buffer (a blocked line is kept there for editing)
        for m in ("default", "insert"):
            sh.run(f"bind -M {m} \\cg 'commandline -r \"\"; commandline -f repaint'")
        return sh

    def guard(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*guard_exe(), *args], env=self.env(), capture_output=True, text=True)


@pytest.fixture
def box(guard_env: GuardEnv, warm_cache: Path) -> FishBox:
    return FishBox(guard_env, warm_cache)


def blocked(sh: PtyShell, line: str) -> str:
    """Type ``line`` + Enter; expect guard's message; cancel the kept line; return output."""
    sh.send(line + "\r")
    out = PtyShell.clean(sh.read_until(b"guard: blocked"))
    out += PtyShell.clean(sh.read_until(b"to allow"))
    sh.send("\x07")  # the blocked line stays in the buffer: Ctrl-G (bound above) empties it
    return out + sh.run("")


# --- non-interactive: fish -c and scripts ---------------------------------------------------


def test_fish_c_shadow_exits_126(box: FishBox) -> None:
    r = box.fish_c("echo before; ls /; echo after")
    assert r.returncode == 126
    assert "before" in r.stdout and "after" not in r.stdout
    assert "guard: blocked ls" in r.stderr and "shadowing" in r.stderr
    assert not box.marker.exists()


@pytest.mark.parametrize(
    "script",
    [
        "true; and ls",
        "echo x | ls",
        "begin; ls; end",
        "echo (ls)",
        "echo $(ls)",
        "function f; ls; end; f",
        "if true; ls; end",
        "set X ls; $X",
        "not ls",
    ],
)
def test_fish_c_positions(box: FishBox, script: str) -> None:
    r = box.fish_c(script)
    assert r.returncode == 126, (script, r.stderr)
    assert "guard: blocked ls" in r.stderr
    assert "PLANTED-RAN" not in r.stdout
    assert not box.marker.exists()


def test_fish_script_and_sourced_file(box: FishBox) -> None:
    lib = box.ge.root / "lib.fish"
    lib.write_text("function listing\n    ls /\nend\n")
    script = box.ge.root / "s.fish"
    script.write_text(f"source '{lib}'\necho start\nlisting\necho unreachable\n")
    r = subprocess.run([FISH, str(script)], env=box.env(), capture_output=True, text=True)
    assert r.returncode == 126 and "start" in r.stdout and "unreachable" not in r.stdout
    assert not box.marker.exists()


def test_fish_c_path_change_inside_script(box: FishBox) -> None:
    other = box.ge.bindir("later-bin")
    box.ge.plant(other, "cat", marker_script(box.marker))
    r = box.fish_c(f"cat /dev/null; and echo cat-ok; set -gx PATH {other} $PATH; cat /dev/null")
    assert "cat-ok" in r.stdout
    assert r.returncode == 126 and "guard: blocked cat" in r.stderr
    assert not box.marker.exists()


def test_fish_c_modified_pin_and_retargeted_symlink(box: FishBox) -> None:
    tools = box.ge.bindir("tools")
    real = box.ge.bindir("real")
    tool = box.ge.plant(tools, "mytool", "#!/bin/sh\necho tool-v1\n")
    a = box.ge.plant(real, "a", "#!/bin/sh\necho link-a\n")
    b = box.ge.plant(real, "b", f"#!/bin/sh\ntouch '{box.marker}'\n")
    (tools / "linked").symlink_to(a)
    path = f"{tools}:/usr/bin:/bin"
    for p in (str(tool), str(tools / "linked")):
        r = subprocess.run([*guard_exe(), "trust", p], env=box.env(PATH=path), capture_output=True)
        assert r.returncode == 0, r.stderr
    ok = box.fish_c("mytool; linked", PATH=path)
    assert ok.returncode == 0 and "tool-v1" in ok.stdout and "link-a" in ok.stdout, ok.stderr
    time.sleep(1.1)  # a different second: path mtime has whole seconds (the hook uses >=)
    tool.write_text(f"#!/bin/sh\ntouch '{box.marker}'\n")
    r = box.fish_c("mytool", PATH=path)
    assert r.returncode == 126 and "modified" in r.stderr, r.stderr
    (tools / "linked").unlink()
    (tools / "linked").symlink_to(b)
    r = box.fish_c("linked", PATH=path)
    assert r.returncode == 126 and "guard: blocked linked" in r.stderr, r.stderr
    assert not box.marker.exists()


def test_fish_c_guard_unavailable_fails_closed(box: FishBox) -> None:
    broken = box.ge.root / "broken.fish"
    broken.write_text(
        "set -g __guard_bin /nonexistent/python\n" + Path(box.hook).read_text().split("\n", 1)[1]
    )
    (box.ge.config / "fish" / "conf.d" / "guard.fish").write_text(f"source '{broken}'\n")
    # a fresh PATH so no cached name list exists for it
    path = f"{box.ge.bindir('fresh')}:{box.path}"
    r = box.fish_c("echo ran", PATH=path)
    assert r.returncode == 126 and "ran" not in r.stdout and "cannot check" in r.stderr
    r = box.fish_c("echo ran", PATH=path, GUARD_MODE="warn")
    assert r.returncode == 0 and "ran" in r.stdout and "cannot check" in r.stderr


def test_fish_c_warn_and_monitor_modes(box: FishBox) -> None:
    r = box.fish_c("ls / >/dev/null; echo st=$status", GUARD_MODE="warn")
    assert "st=0" in r.stdout and "would block ls" in r.stderr
    r = box.fish_c("ls / >/dev/null; echo st=$status", GUARD_MODE="monitor")
    assert "st=0" in r.stdout and "guard" not in r.stderr


def test_fish_c_name_list_cached_no_python(box: FishBox) -> None:
    """Second start with the same PATH reads the cached name list: the hook still blocks even
    when guard itself is gone, proving no Python ran for the list."""
    time.sleep(1.1)  # the stamp must fall in a later second than the sandbox's new dirs
    assert box.fish_c("true").returncode == 0
    broken = box.ge.root / "nopython.fish"
    broken.write_text(
        "set -g __guard_bin /nonexistent/python\n" + Path(box.hook).read_text().split("\n", 1)[1]
    )
    (box.ge.config / "fish" / "conf.d" / "guard.fish").write_text(f"source '{broken}'\n")
    r = box.fish_c("echo started; true")
    assert r.returncode == 0 and "started" in r.stdout and "cannot check" not in r.stderr
    # and the by-name function is still there (it needs guard to allow, so it fails closed)
    r = box.fish_c("ls /")
    assert r.returncode == 126 and not box.marker.exists()


def test_benign_script_unchanged(box: FishBox) -> None:
    """~100 ordinary commands: same output and statuses with and without the hook."""
    lines = []
    for i in range(12):
        lines += [
            f"echo line{i}",
            "cat /etc/hostname",
            "printf '%s\\n' a b | sort -r",
            "string upper abc",
            f"test {i} -gt 5; echo st=$status",
            "false; echo st=$status",
            "/bin/true; echo st=$status",
            "command -v cat",
            "env A=1 sh -c 'echo $A'",
        ]
    script = "\n".join(lines) + "\n"
    env_plain = box.env(PATH="/usr/bin:/bin")
    bare = subprocess.run(
        [FISH, "--no-config", "-c", script], env=env_plain, capture_output=True, text=True
    )
    hooked = box.fish_c(script, PATH="/usr/bin:/bin")
    assert hooked.returncode == bare.returncode == 0
    assert hooked.stdout == bare.stdout and len(lines) >= 100
    assert "guard" not in hooked.stderr


# --- the fish quoter ------------------------------------------------------------------------


def test_quote_fish_round_trip_hostile_names(box: FishBox) -> None:
    """A file name with a newline, ESC, a non-UTF-8 byte, % and quotes comes back byte for
    byte through `guard _query --shell fish` evaluated by fish."""
    names = [
        b"new\nline",
        b"esc\x1b[31m",
        b"bad\xffbyte",
        b"%self",
        b"q'uo\"te $x (y)",
        b"\xe2\x86\x92arrow",
        b"~tilde",
        b"-dash",
    ]
    d = box.ge.bindir("weird")
    for n in names:
        p = os.path.join(os.fsencode(str(d)), n)
        with open(p, "wb") as f:
            f.write(b"#!/bin/sh\n")
        os.chmod(p, 0o755)
    env = box.env(PATH=f"{d}:/usr/bin:/bin")
    env_b = {k.encode(): v.encode() for k, v in env.items()}
    args = [os.fsencode(a) for a in guard_exe()] + [b"_query", b"--shell", b"fish", b"--"] + names
    reply = subprocess.run(args, env=env_b, capture_output=True, check=True).stdout
    for line in reply.splitlines():
        assert all(c >= 0x20 for c in line), line  # nothing raw reaches a terminal
    fish_prog = (
        b"function __guard_put; printf '%s' $argv[1] | od -An -tx1 | string join ''; end\n" + reply
    )
    out = subprocess.run(
        [FISH, "--no-config", "-c", fish_prog], env=env_b, capture_output=True
    ).stdout.decode()
    got = [bytes.fromhex(h.replace(" ", "")) for h in out.split("\n") if h.strip()]
    assert got == names


# --- interactive: the Enter binding ---------------------------------------------------------


def test_interactive_block_keeps_shell_and_line(box: FishBox) -> None:
    with box.interactive() as sh:
        sh.send("ls /\r")
        out = PtyShell.clean(sh.read_until(b"to allow: guard trust"))
        assert "guard: blocked ls" in out
        # the line is still in the buffer: add to it and run it as a different command
        sh.send("\x01echo kept: \r")
        assert "kept: ls /" in sh.run("")
        assert "hostname-ok" in sh.run("cat /etc/hostname >/dev/null; and echo hostname-ok")
    assert not box.marker.exists()


POSITIONS = [
    "ls",
    "true; ls",
    "true && ls",
    "false || ls",
    "true; and ls",
    "false; or ls",
    "not ls",
    "! ls",
    "echo x | ls",
    "echo x &| ls",
    "begin; ls; end",
    "echo (ls)",
    "echo $(ls)",
    'echo "a$(ls)b"',
    "echo a(echo b; ls)c",
    "if true; ls; end",
    "while false; ls; end",
    "for i in 1; ls; end",
    "A=1 ls",
    "ls >/dev/null",
    "env ls",
    "env -i A=1 ls",
    "env -u HOME ls",
    "command ls",
    "exec ls",
    "builtin echo x; ls",
    "nohup ls",
    "nice -n 5 ls",
    "timeout 5 ls",
    "timeout -s KILL 5 ls",
    "stdbuf -oL ls",
    "stdbuf -o L ls",
    "xargs -0 -n1 ls",
    "sudo -u bob ls",
    "doas ls",
    "time ls",
    "sudo env nice ls",
    "set X ls; $X",
    "set X ls; {$X}",
    "set Y /tmp; $X",
    "'ls'",
    "l\\s",
    '"ls" -l',
    "switch a; case a; ls; end",
    "echo a\nls",
]


def test_interactive_every_command_position(box: FishBox) -> None:
    with box.interactive() as sh:
        sh.run("set -g X ls")
        for line in POSITIONS:
            typed = line.replace("\n", "\r")
            out = blocked(sh, typed)
            assert "guard: blocked ls" in out, (line, out)
        assert "PLANTED-RAN" not in sh.run("echo done")
    assert not box.marker.exists()


def test_interactive_substitution_as_command_word(box: FishBox) -> None:
    """fish 3.6 itself rejects ( ) / $( ) as a command word; nothing runs either way."""
    with box.interactive() as sh:
        sh.send("(echo ls) /\r")
        out = PtyShell.clean(sh.read_until(b"not allowed"))
        sh.send("\x07")
        out += sh.run("")
        assert "PLANTED-RAN" not in out
    assert not box.marker.exists()


def test_interactive_benign_lines(box: FishBox) -> None:
    with box.interactive() as sh:
        out = sh.run("cat /etc/hostname | wc -l; echo st=$status")
        assert "1" in out and "st=0" in out
        assert "st=1" in sh.run("false; echo st=$status")
        assert "st=1" in sh.run("false\recho st=$status")
        assert "a b" in sh.run("echo 'a b' | cat")
        assert "HI" in sh.run("string upper hi")
        assert "guard" not in sh.run("env A=1 sh -c 'echo $A'; command -v cat; nice true")


def test_interactive_multiline_vi_and_abbr(box: FishBox) -> None:
    with box.interactive() as sh:
        # an incomplete block: Enter inserts a newline, the final Enter checks all of it
        sh.send("begin\r")
        sh.send("echo one\r")
        sh.send("ls\r")
        sh.send("end\r")
        out = PtyShell.clean(sh.read_until(b"guard: blocked"))
        sh.send("\x07")
        out += sh.run("")
        assert "one" not in out.split("guard: blocked")[0].split("end")[-1]
        sh.run("abbr -a zz ls")
        assert "guard: blocked ls" in blocked(sh, "zz")
        sh.run("fish_vi_key_bindings")
        assert "guard: blocked ls" in blocked(sh, "ls")
        sh.send("\x1b")  # normal mode: Enter is bound there too
        time.sleep(0.2)
        sh.send("ils /\x1b")
        time.sleep(0.2)
        sh.send("\r")
        assert "guard: blocked ls" in PtyShell.clean(sh.read_until(b"to allow"))
        sh.send("\x07")
        sh.run("")
    assert not box.marker.exists()


def test_interactive_function_from_sourced_file(box: FishBox) -> None:
    lib = box.ge.root / "lib.fish"
    lib.write_text("function listing\n    ls /\nend\n")
    with box.interactive() as sh:
        out = sh.run(f"source {lib}; listing; echo st=$status")
        assert "guard: blocked ls" in out and "st=126" in out
    assert not box.marker.exists()


def test_interactive_cache_and_invalidation(box: FishBox) -> None:
    time.sleep(1.1)  # cached answers need a stamp in a later second than the new sandbox dirs
    with box.interactive() as sh:
        assert "hostname-ok" in sh.run("cat /etc/hostname >/dev/null; and echo hostname-ok")
        # guard gone: a cached word still runs silently (no Python), a new word warns
        sh.run("set -g __guard_saved $__guard_bin; set -g __guard_bin /nonexistent/py")
        out = sh.run("cat /etc/hostname >/dev/null; and echo again-ok")
        assert "again-ok" in out and "cannot check" not in out
        out = sh.run("head -c0 /etc/hostname; and echo head-ok")
        assert "head-ok" in out and "cannot check" in out
        sh.run("set -g __guard_bin $__guard_saved")
        # plant a shadow for the cached word: the watched PATH dir changed, so it is blocked
        box.ge.plant(box.bad, "cat", marker_script(box.marker))
        out = blocked(sh, "cat /etc/hostname")
        assert "guard: blocked cat" in out
    assert not box.marker.exists()


def test_double_source_harmless(box: FishBox) -> None:
    r = box.fish_c(
        f"source '{box.hook}'; source '{box.hook}'; cat /etc/hostname >/dev/null; echo st=$status"
    )
    assert "st=0" in r.stdout and r.returncode == 0, r.stderr


def test_fish_syntax_check() -> None:
    hook = Path(__file__).resolve().parents[2] / "shell" / "guard.fish"
    r = subprocess.run([FISH, "-n", str(hook)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


# --- command-scoped PATH, eval, the effective mode, GUARD_LOCK ------------------------------


def blocked_local(sh: PtyShell, line: str, what: bytes) -> str:
    """Like blocked(), for a block the hook decides itself (no `to allow` hint)."""
    sh.send(line + "\r")
    out = PtyShell.clean(sh.read_until(what))
    sh.send("\x07")
    return out + sh.run("")


@pytest.mark.parametrize(
    "script",
    [
        "PATH=/usr/bin:/bin true; ls /",
        "begin; set -lx PATH /usr/bin /bin; true; end; ls /",
        "PATH=/usr/bin:/bin true | ls /",
        "ls / | PATH=/usr/bin:/bin true",  # used to make fish 3.6 abort (io.cpp:190)
        "function f; PATH=/usr/bin:/bin true; end; echo x | f; ls /",
    ],
)
def test_fish_c_scoped_path_keeps_protection(box: FishBox, script: str) -> None:
    """A command-scoped PATH fires `--on-variable PATH` but nothing when the scope ends: the
    by-name functions for the PATH in force afterwards must still be there."""
    r = box.fish_c(script)
    assert "failed assertion" not in r.stderr and r.returncode == 126, (script, r.stderr)
    assert "guard: blocked ls" in r.stderr
    assert "PLANTED-RAN" not in r.stdout
    assert not box.marker.exists()


def test_fish_c_scoped_path_benign(box: FishBox) -> None:
    r = box.fish_c(
        "PATH=/usr/bin:/bin cat /etc/hostname >/dev/null; echo a=$status;"
        " echo x | PATH=/bin cat; begin; set -lx PATH /bin; true; end; echo b=$status"
        " (PATH=/usr/bin:/bin command -v cat)",
        PATH="/usr/bin:/bin",
    )
    assert r.returncode == 0 and "guard" not in r.stderr, r.stderr
    assert r.stdout.split() == ["a=0", "x", "b=0", "/usr/bin/cat"]


def test_interactive_scoped_path_and_eval(box: FishBox) -> None:
    """At Enter a word is resolved in the PATH it will really be looked up in (`head` is fine
    in $PATH, a shadow in the scoped one), and a literal eval string is scanned like the line."""
    other = box.ge.bindir("scoped-bin")
    box.ge.plant(other, "head", marker_script(box.marker))  # shadows /usr/bin/head
    with box.interactive() as sh:
        sh.run("set -g E 'command ls'")
        for line in [
            f"PATH={other}:$PATH head",
            f"PATH={other}:$PATH command head",
            f"env PATH={other}:/usr/bin:/bin head",
            f"env -i A=1 PATH={other}:/usr/bin:/bin nice head",
            f"begin; set -lx PATH {other} $PATH; head; end",
            f"begin; set -lx PATH {other} $PATH; true; end; head",
            f"set -gx PATH $PATH; set -p PATH {other}; head",
            f"fish_add_path -g {other}; head",
            f"PATH={other}:/usr/bin:/bin begin; head; end",
        ]:
            assert "guard: blocked head" in blocked(sh, line), line
        for line in [
            "eval 'command ls'",
            "eval command ls /",
            "eval $E",
            'eval "$E /"',
            "true; and eval 'begin; env ls; end'",
        ]:
            assert "guard: blocked ls" in blocked(sh, line), line
        # what cannot be known before the line runs: blocked in block mode
        assert "PATH not known" in blocked_local(sh, f"PATH=(echo {other}) head", b"not known")
        out = blocked_local(sh, "set F 'command ls'; eval $F", b"not known")
        assert "guard: blocked eval of a string" in out
        out = blocked_local(sh, "eval (echo command ls)", b"not known")
        assert "guard: blocked eval of a string" in out
        out = blocked_local(sh, f"set -lx PATH (echo {other}); head", b"not known")
        assert "PATH not known" in out
        # benign forms still run
        out = sh.run("PATH=/usr/bin:/bin cat /etc/hostname >/dev/null; and eval 'echo ev-ok'")
        assert "ev-ok" in out and "guard" not in out
        assert "st=0" in sh.run("env PATH=/usr/bin:/bin true; echo st=$status")
    assert not box.marker.exists()


def test_interactive_typed_path_change_reaches_functions(box: FishBox) -> None:
    """A typed line that changes PATH and then calls a function: the by-name functions for the
    new PATH are added while the line runs (the Enter scan cannot see into the function)."""
    other = box.ge.bindir("later-bin")
    box.ge.plant(other, "head", marker_script(box.marker))  # shadows /usr/bin/head
    with box.interactive() as sh:
        sh.run("function callhd; head; end")
        out = sh.run(f"set -gx PATH {other} $PATH; callhd; echo st=$status")
        assert "guard: blocked head" in out and "st=126" in out
    assert not box.marker.exists()


def test_effective_mode_reaches_the_hook(box: FishBox) -> None:
    """config.yaml's mode (not only GUARD_MODE) governs the hook's own decisions."""
    (box.ge.config / "guard").mkdir(parents=True, exist_ok=True)
    (box.ge.config / "guard" / "config.yaml").write_text("mode: warn\n")
    # the protocol: --want-mode puts the effective mode first, and only when asked
    r = box.guard("_query", "--shell", "fish", "--want-mode", "--", "true")
    assert r.returncode == 0 and r.stdout.splitlines()[0] == "__guard_mode warn", r.stdout
    r = box.guard("_query", "--shell", "fish", "--", "true")
    assert "__guard_mode" not in r.stdout
    r = box.guard("_query", "--shell", "fish", "--shadows", "--want-mode")
    assert r.stdout.splitlines()[0] == "__guard_mode warn"
    with box.interactive() as sh:
        out = sh.run("env (echo true); and echo ran-ok")
        assert "would block command substitution" in out and "ran-ok" in out
    # non-interactive, guard gone: the cached name list remembers the mode (warn: runs)
    time.sleep(1.1)  # the list's stamp must be in a later second than the sandbox's dirs
    assert box.fish_c("true").returncode == 0
    broken = box.ge.root / "nopython.fish"
    broken.write_text(
        "set -g __guard_bin /nonexistent/python\n" + Path(box.hook).read_text().split("\n", 1)[1]
    )
    (box.ge.config / "fish" / "conf.d" / "guard.fish").write_text(f"source '{broken}'\n")
    r = box.fish_c("cat /etc/hostname >/dev/null; ls / >/dev/null; echo st=$status")
    assert r.returncode == 0 and "st=0" in r.stdout and "running unchecked" in r.stderr
    # a different GUARD_MODE than the list was made under: not trusted, GUARD_MODE rules
    box.marker.unlink()
    r = box.fish_c("ls /", GUARD_MODE="block")
    assert r.returncode == 126 and "refusing to run" in r.stderr
    assert not box.marker.exists()


def test_fish_c_name_list_follows_guard_lock(box: FishBox) -> None:
    """The name list depends on GUARD_LOCK: cached per lock, and refreshed when the lock file
    is rewritten in place."""
    tools = box.ge.bindir("locked-tools")
    box.ge.plant(tools, "mytool", marker_script(box.marker))
    path = f"{tools}:/usr/bin:/bin"
    lock = box.ge.root / "guard.lock"
    r = subprocess.run(
        [*guard_exe(), "lock", "--output", str(lock), "mytool"],
        env=box.env(PATH=path),
        capture_output=True,
        text=True,
        cwd=box.ge.root,
    )
    assert r.returncode == 0 and lock.exists(), r.stderr
    time.sleep(1.1)  # whole-second mtimes: stamps must be later than the new dirs and lock
    r = box.fish_c("mytool; echo st=$status", PATH=path, GUARD_LOCK=str(lock))
    assert "st=0" in r.stdout and box.marker.exists(), r.stderr  # pinned by the lock
    box.marker.unlink()
    # without the lock, the list made under it must not be reused
    r = box.fish_c("mytool", PATH=path)
    assert r.returncode == 126 and "guard: blocked mytool" in r.stderr
    assert not box.marker.exists()
    # the lock rewritten in place without the pin: the list made under the lock is stale
    time.sleep(1.1)
    with open(lock, "w") as f:
        f.write("version: 1\ntools: {}\n")
    r = box.fish_c("mytool", PATH=path, GUARD_LOCK=str(lock))
    assert r.returncode == 126 and "guard: blocked mytool" in r.stderr, r.stderr
    assert not box.marker.exists()


# --- remembered command lines (__guard_remember) --------------------------------------------


def remembered(sh: PtyShell) -> int:
    """How many whole lines the hook remembers (so a test knows the replay path is in use)."""
    out = sh.run("echo lines=(count $__guard_lv)")
    return int(out.split("lines=")[-1].split()[0])


def test_remembered_line_rechecked_after_shadow_and_pin_change(box: FishBox) -> None:
    tools = box.ge.bindir("tools")
    early = box.ge.bindir("early")
    tool = box.ge.plant(tools, "mytool", "#!/bin/sh\necho tool-v1\n")
    path = f"{early}:{tools}:/usr/bin:/bin"
    r = subprocess.run(
        [*guard_exe(), "trust", str(tool)], env=box.env(PATH=path), capture_output=True
    )
    assert r.returncode == 0, r.stderr
    time.sleep(1.1)  # stamps in a later second than the planted files and dirs
    line = "mytool | cat >/dev/null; and mytool"
    with box.interactive(PATH=path) as sh:
        assert "tool-v1" in sh.run(line)
        assert remembered(sh) == 1
        # guard gone: the remembered line still runs silently (answered in the shell)
        sh.run("set -g __guard_saved $__guard_bin; set -g __guard_bin /nonexistent/py")
        out = sh.run(line)
        assert "tool-v1" in out and "cannot check" not in out
        sh.run("set -g __guard_bin $__guard_saved")
        # the pinned file is modified: the same text is checked again and blocked
        tool.write_text(f"#!/bin/sh\ntouch '{box.marker}'\necho PLANTED-RAN\n")
        out = blocked(sh, line)
        assert "guard: blocked mytool" in out and "modified" in out, out
        tool.write_text("#!/bin/sh\necho tool-v1\n")
        assert box.guard("trust", str(tool)).returncode == 0
        time.sleep(1.1)
        assert "tool-v1" in sh.run(line)
        assert "tool-v1" in sh.run(line)
        # a shadow planted in an earlier PATH dir
        box.ge.plant(early, "mytool", marker_script(box.marker))
        out = blocked(sh, line)
        assert "guard: blocked mytool" in out, out
        assert "PLANTED-RAN" not in sh.run("echo done")
    assert not box.marker.exists()


def test_remembered_line_cleared_by_path_change(box: FishBox) -> None:
    early = box.ge.bindir("early")
    box.ge.plant(early, "cat", marker_script(box.marker))  # a shadow, not yet on PATH
    time.sleep(1.1)
    line = "cat /etc/hostname | wc -l"
    with box.interactive() as sh:
        assert "1" in sh.run(line)
        sh.run(line)
        assert remembered(sh) == 1
        sh.run(f"set -gx PATH {early} $PATH")
        out = blocked(sh, line)
        assert "guard: blocked cat" in out, out
        assert remembered(sh) == 0
    assert not box.marker.exists()


def test_line_with_function_or_builtin_or_expansion_not_remembered(box: FishBox) -> None:
    late = box.ge.bindir("late")
    time.sleep(1.1)
    with box.interactive(PATH=f"{box.path}:{late}") as sh:
        # a function found nowhere on PATH: erased later, the same text would run a file
        sh.run("function zzfn; echo FN-RAN; end")
        assert "FN-RAN" in sh.run("zzfn")
        assert "FN-RAN" in sh.run("zzfn")
        for line in (
            "cat /etc/hostname; echo x",
            "set -g C cat; $C /etc/hostname",
            "sort </dev/null; true",
        ):
            sh.run(line)
            sh.run(line)
        assert remembered(sh) == 0
        sh.run("functions -e zzfn")
        box.ge.plant(late, "zzfn", marker_script(box.marker))
        sh.send("zzfn\r")  # a brand-new untrusted file: guard asks (interactive block mode)
        out = PtyShell.clean(sh.read_until(b"trust and run? [y/N]"))
        sh.send("n\r")
        time.sleep(0.3)
        sh.send("\x07")
        out += sh.run("")
        assert "guard: untrusted zzfn" in out and "PLANTED-RAN" not in out, out
        # an abbreviation defined for a word of a remembered line: checked again
        assert "1" in sh.run("cat /etc/hostname | wc -l")
        sh.run("cat /etc/hostname | wc -l")
        assert remembered(sh) == 1
        sh.run("abbr -a cat ls")
        assert "guard: blocked ls" in blocked(sh, "cat /etc/hostname | wc -l")
    assert not box.marker.exists()
