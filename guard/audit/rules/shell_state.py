"""Shell state: what the running shell will do with a name before PATH is consulted.

Functions and aliases take precedence over PATH, and the hash table remembers a path that
PATH may no longer lead to. The hook (or a user) writes the shell's state to a JSON file and
passes it with ``guard audit --shell-state FILE``. Format (docs/audit.md)::

    {"version": 1, "shell": "bash",
     "functions": ["ls", "git"],                    # names (a mapping name -> body also works)
     "aliases": {"ll": "ls -l", "sudo": "/tmp/x/sudo"},
     "hashed": {"git": "/usr/bin/git"}}             # name -> path the shell remembered
"""

from __future__ import annotations

import json
import os
import stat

from guard.audit.findings import Finding, Rule
from guard.audit.fixes import q
from guard.audit.scan import Scan
from guard.errors import GuardError
from guard.textsafe import safe

FUNCTION = Rule(
    "shell.function",
    "A shell function is named like a command",
    "medium",
    "A function runs instead of the command of the same name on PATH. Make sure you wrote it "
    "(`type NAME` shows it); rc files of tools and plugins define such functions too.",
)
ALIAS = Rule(
    "shell.alias",
    "An alias named like a command runs something else",
    "medium",
    "The alias replaces the command with another program. Harmless when you set it up "
    "(vim='nvim'); an attacker who can append to an rc file uses the same trick for sudo.",
)
HASH_OFF_PATH = Rule(
    "shell.hash-off-path",
    "The shell's command hash table points outside PATH",
    "high",
    "The shell remembered a path for the name that no PATH directory leads to (`hash -p`, a "
    "PATH changed after the lookup). Typing the name runs that file. Clear it with `hash -r`.",
)

RULES = [FUNCTION, ALIAS, HASH_OFF_PATH]

MAX_BYTES = 4 << 20
_SKIP_WORDS = ("command", "builtin", "exec", "nocorrect", "noglob", "-")


def load(path: str) -> dict:
    """Read and validate a shell-state file; every problem is a GuardError (exit 2)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        raise GuardError(f"--shell-state {safe(path)}: {e.strerror}") from None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise GuardError(f"--shell-state {safe(path)}: not a regular file")
        data = f.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise GuardError(f"--shell-state {safe(path)}: larger than {MAX_BYTES} bytes")
    try:
        doc = json.loads(data.decode("utf-8", "surrogateescape"))
    except ValueError as e:
        raise GuardError(f"--shell-state {safe(path)}: not valid JSON ({safe(str(e))})") from None
    return validate(doc, safe(path))


def validate(doc: object, where: str = "shell state") -> dict:
    if not isinstance(doc, dict):
        raise GuardError(f"{where}: expected a JSON object")
    if doc.get("version", 1) != 1:
        raise GuardError(f"{where}: unsupported version {safe(repr(doc.get('version')))}")
    funcs = doc.get("functions", [])
    if isinstance(funcs, dict):
        funcs = list(funcs)
    if not isinstance(funcs, list) or not all(isinstance(f, str) for f in funcs):
        raise GuardError(f"{where}: 'functions' must be a list of names")
    out = {"shell": str(doc.get("shell", "")), "functions": funcs}
    for key in ("aliases", "hashed"):
        v = doc.get(key, {})
        if not isinstance(v, dict) or not all(
            isinstance(k, str) and isinstance(x, str) for k, x in v.items()
        ):
            raise GuardError(f"{where}: {key!r} must map names to strings")
        out[key] = v
    return out


def _is_command(scan: Scan, name: str) -> str | None:
    """The PATH file (or "well-known command") that ``name`` stands for, else None."""
    if "/" in name:
        return None
    w = scan.winner(name)
    if w is not None:
        return w.invoked
    return "a well-known command" if name in scan.well_known else None


def _first_word(expansion: str) -> str | None:
    for w in expansion.split():
        w = w.lstrip("\\")
        if w in _SKIP_WORDS or ("=" in w and not w.startswith("=")):
            continue
        return w
    return None


def check(scan: Scan) -> list[Finding]:
    st = scan.shell_state
    if not st:
        return []
    out: list[Finding] = []
    for name in sorted(set(st["functions"])):
        target = _is_command(scan, name)
        if target is None:
            continue
        out.append(
            Finding(
                FUNCTION.id,
                FUNCTION.severity,
                f"shell function {safe(name)!r} runs instead of {safe(target)}",
                [target] if target.startswith("/") else [],
                fix=f"check it with `type {q(name)}`; remove it with `unset -f {q(name)}` and "
                f"from the rc file that defines it",
                name=name,
            )
        )
    for name, expansion in sorted(st["aliases"].items()):
        target = _is_command(scan, name)
        first = _first_word(expansion)
        if target is None or first is None or first == name:
            continue
        v = scan.verdict(first)
        sev = ALIAS.severity if v.allowed or v.reason == "not-found" else "high"
        out.append(
            Finding(
                ALIAS.id,
                sev,
                f"alias {safe(name)!r} runs {safe(expansion)!r} instead of {safe(target)}; "
                f"{safe(first)} is {v.reason}",
                ([target] if target.startswith("/") else []) + ([v.path] if v.path else []),
                fix=f"check it with `alias {q(name)}`; remove it with `unalias {q(name)}` and "
                f"from the rc file that defines it",
                name=name,
            )
        )
    dirs: set[str] = set()
    for d in scan.path_dirs:
        dirs.add(d.path.rstrip("/") or "/")
        if d.real:
            dirs.add(d.real)
    for name, path in sorted(st["hashed"].items()):
        if not path.startswith("/"):
            path = os.path.normpath(os.path.join(scan.cwd, path))
        parent = os.path.dirname(path)
        if parent in dirs or os.path.realpath(parent) in dirs:
            continue
        v = scan.verdict(path)
        out.append(
            Finding(
                HASH_OFF_PATH.id,
                HASH_OFF_PATH.severity,
                f"{safe(name)!r} is hashed to {safe(path)}, which is in no PATH directory; "
                f"that file is {v.reason}",
                [path],
                fix="run `hash -r` (zsh: `rehash`) and find out what set it (`hash -p`)",
                name=name,
            )
        )
    return out
