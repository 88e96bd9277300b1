"""Run one command line in a real bash/zsh/fish, with or without the guard hook, inside a
sandbox whose PATH starts with *recording shims*: tiny untrusted programs that append their own
name to a log. What ran is read from the log; what guard checked is read from events.jsonl
(one JSON line per warn/deny, with the command word under "word").

Used by the property tests in test_property_parsers.py; black-box, no hook internals."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import GuardEnv, guard_exe

SYS = "/usr/bin:/bin"
# Shim names exist nowhere on /usr/bin:/bin, so each is untrusted and never shadows anything.
SHIMS = ("qa", "qb", "qc")
FAILING_SHIM = "qd"  # exits 3, so lists and `$?` see a failing external
# Shims in a second directory that is NOT on PATH: reachable only through a PATH assignment.
OFFPATH_SHIMS = ("qx",)
_GUARD_LINE = re.compile(r"^guard: (warning|blocked|cannot)")
_GUARD_MSG = re.compile(
    r"guard: (?:warning: would block|blocked) [^\n]*?; to allow: guard trust \S+[ \n]?"
)
# A writer whose reader already exited dies of SIGPIPE or reports it: a race between pipeline
# members (the hook changes timings), not a difference in what ran.
_SIGPIPE = re.compile(r"terminated by signal 13|Broken pipe|write error")


@dataclass
class Run:
    """One shell process: its output, and what ran versus what guard warned about."""

    line: str
    rc: int
    stdout: str
    stderr: str
    executed: list[str]  # shim names in the order they ran (the log)
    warned: list[str]  # basenames of the words guard answered warn/block/ask for

    def plain(self, text: str) -> str:
        """``text`` without guard's own messages (the only output the hook may add). A message
        may sit inside other output: it goes to the command's stderr, so `cmd 2>&1` inside
        `$( )` captures it (and fish's `echo (…)` joins it to the next line with a space)."""
        text = _GUARD_MSG.sub("", text)
        return "".join(ln for ln in text.splitlines(keepends=True) if not _GUARD_LINE.match(ln))

    def stderr_plain(self) -> str:
        """stderr without guard's lines and without SIGPIPE reports (timing-dependent)."""
        return "".join(
            ln
            for ln in self.plain(self.stderr).splitlines(keepends=True)
            if not _SIGPIPE.search(ln)
        )


class Sandbox:
    """A sandboxed user for one shell: shims, a rendered hook, start-up files that load it."""

    def __init__(self, ge: GuardEnv, shell: str) -> None:
        self.ge = ge
        self.shell = shell
        self.exe = shutil.which(shell) or shell
        self.bin = ge.bindir("bin")
        self.offbin = ge.bindir("offbin")
        self.log = ge.root / "ran.log"
        self.events = ge.state / "guard" / "events.jsonl"
        for name in SHIMS + (FAILING_SHIM,):
            self._shim(self.bin, name, 3 if name == FAILING_SHIM else 0)
        for name in OFFPATH_SHIMS:
            self._shim(self.offbin, name, 0)
        self.path = f"{self.bin}:{SYS}"
        # a sourced file whose command must be checked too
        (ge.root / "lib.sh").write_text("qb lib\n")
        (ge.root / "lib.fish").write_text("qb lib\n")
        hook = subprocess.run(
            [*guard_exe(), "hook", shell],
            env=ge.env(PATH=self.path),
            capture_output=True,
            check=True,
        ).stdout
        self.hook = ge.root / f"hook.{shell}"
        self.hook.write_bytes(hook)
        # bash -c reads $BASH_ENV; zsh -c reads $ZDOTDIR/.zshenv; fish reads conf.d.
        (ge.root / "bash_env").write_text(f"source '{self.hook}'\n")
        self.zdot = ge.bindir("zdot")
        (self.zdot / ".zshenv").write_text(f"source '{self.hook}'\n")
        self.zdot_bare = ge.bindir("zdot-bare")
        confd = ge.config / "fish" / "conf.d"
        confd.mkdir(parents=True, exist_ok=True)
        (confd / "guard.fish").write_text(f"source '{self.hook}'\n")
        self.config_bare = ge.bindir("xdg-config-bare")
        # Warm guard's OS-package index once, so the first example is not a 2 s outlier.
        subprocess.run(
            [*guard_exe(), "check", "ls"], env=ge.env(PATH=SYS), capture_output=True, check=False
        )

    def _shim(self, directory: Path, name: str, status: int) -> None:
        # The log path is absolute inside the shim: `env -i` must not lose it.
        self.ge.plant(
            directory,
            name,
            f"#!/bin/sh\necho {name} >> '{self.log}'\necho \"{name}:$*\"\nexit {status}\n",
        )

    def env(self, hook: bool, mode: str) -> dict[str, str]:
        e = self.ge.env(PATH=self.path, GUARD_MODE=mode, TERM="dumb", fish_greeting="")
        if self.shell == "bash" and hook:
            e["BASH_ENV"] = str(self.ge.root / "bash_env")
        if self.shell == "zsh":
            e["ZDOTDIR"] = str(self.zdot if hook else self.zdot_bare)
        if self.shell == "fish" and not hook:
            e["XDG_CONFIG_HOME"] = str(self.config_bare)
        return e

    def reset(self) -> None:
        """Forget what ran and what was checked."""
        for f in (self.log, self.events):
            with contextlib.suppress(FileNotFoundError):
                f.unlink()

    def collect(self, line: str, rc: int, stdout: str, stderr: str) -> Run:
        """What ran (the shims' log) and what guard warned about (events.jsonl) since reset()."""
        executed = self.log.read_text().split() if self.log.exists() else []
        warned = []
        if self.events.exists():
            for ln in self.events.read_text().splitlines():
                warned.append(os.path.basename(json.loads(ln).get("word", "")))
        return Run(line, rc, stdout, stderr, executed, warned)

    def run(self, line: str, hook: bool, mode: str = "warn") -> Run:
        """Run ``line`` with ``<shell> -c`` (non-interactive, stdin /dev/null)."""
        self.reset()
        r = subprocess.run(
            [self.exe, "-c", line],
            env=self.env(hook, mode),
            cwd=self.ge.root,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=60,
        )
        return self.collect(line, r.returncode, r.stdout, r.stderr)
