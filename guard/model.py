"""The data every surface shares: reason codes, the verdict, a resolved candidate.

Reason codes and the JSON shape of ``Verdict.to_json()`` are a stable, documented surface
(docs/cli.md). Add codes; never rename one.

These are plain classes with ``__slots__`` rather than dataclasses or enums on purpose: this
module is on the path of every `guard check` and hook query, whose budget is 30 ms including
Python's start, and ``dataclasses`` alone costs ~8 ms to import (it pulls in ``inspect``).
"""

from __future__ import annotations

from guard.textsafe import json_safe, quote_posix, safe

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~4 ms per check

if TYPE_CHECKING:
    from typing import Any


class Reason:
    """Stable reason codes (strings)."""

    PINNED = "pinned"  # allow: allowlist pins this path and the content matches
    OS_PACKAGE = "os-package"  # allow: owned by an OS package and matches its digest
    UNTRUSTED = "untrusted"  # deny: neither pinned nor package-managed
    MODIFIED = "modified"  # deny: pinned (or package-owned), but content or real path changed
    SHADOWING = "shadowing"  # deny: untrusted winner, a trusted same-name file later on PATH
    INTERPRETER = "interpreter"  # deny: trusted file, untrusted shebang interpreter
    NOT_FOUND = "not-found"  # deny: nothing to run (the shell will say so too)
    UNREADABLE = "unreadable"  # deny: cannot be verified (FIFO, device, unreadable, too big…)

    ALL = (PINNED, OS_PACKAGE, UNTRUSTED, MODIFIED, SHADOWING, INTERPRETER, NOT_FOUND, UNREADABLE)
    ALLOWING = (PINNED, OS_PACKAGE)


class Mode:
    BLOCK = "block"
    WARN = "warn"
    MONITOR = "monitor"

    ALL = (BLOCK, WARN, MONITOR)


class Provenance:
    """Where an executable came from, with the evidence that says so."""

    __slots__ = ("kind", "package", "version", "digest_ok", "detail")

    def __init__(
        self,
        kind: str,
        package: str | None = None,
        version: str | None = None,
        digest_ok: bool | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        self.kind = kind  # "dpkg", "rpm", "pip", "npm", "homebrew", "unknown"
        self.package = package
        self.version = version
        self.digest_ok = digest_ok  # the package database's digest matches the file
        self.detail = detail or {}

    def short(self) -> str:
        """One line for messages: ``pip:evilpkg 1.0 (entry point aws = evil.cli:main)``.

        Escaped with safe(): names and entry points come from whoever built the package."""
        if self.kind == "unknown" or not self.package:
            return self.kind
        v = f" {self.version}" if self.version else ""
        notes = []
        d = self.detail
        if d.get("entry_point"):
            notes.append(f"entry point {d['entry_point']}")
        elif d.get("bin"):
            notes.append(f"bin {d['bin']}")
        if self.kind == "pip" and self.digest_ok is False:
            notes.append("changed since install: RECORD sha256 differs")
        extra = f" ({'; '.join(notes)})" if notes else ""
        return safe(f"{self.kind}:{self.package}{v}{extra}")

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind, "package": self.package, "version": self.version}
        d["digest_ok"] = self.digest_ok
        if self.detail:
            d["detail"] = self.detail
        return d

    def __repr__(self) -> str:
        return f"Provenance({self.short()!r}, digest_ok={self.digest_ok})"


class Candidate:
    """One file a command word could resolve to, in PATH order."""

    __slots__ = ("invoked", "real", "error")

    def __init__(self, invoked: str, real: str | None, error: str | None = None) -> None:
        self.invoked = invoked  # the path as the shell would exec it
        self.real = real  # symlinks followed; None when dangling, a loop, or unreadable
        self.error = error  # why it cannot be run / resolved

    def __repr__(self) -> str:
        return f"Candidate({self.invoked!r}, real={self.real!r}, error={self.error!r})"


class Verdict:
    """The one decision every surface (CLI, hooks, audit, CI) prints or acts on."""

    __slots__ = (
        "word",
        "reason",
        "path",
        "real",
        "interpreters",
        "provenance",
        "shadowed",
        "culprit",
        "sha256",
        "message",
        "watch",
    )

    def __init__(
        self,
        word: str,
        reason: str,
        path: str | None = None,
        real: str | None = None,
        *,
        provenance: Provenance | None = None,
        sha256: str | None = None,
        message: str = "",
        watch: list[str] | None = None,
    ) -> None:
        self.word = word
        self.reason = reason
        self.path = path  # the invoked path of the winner
        self.real = real
        self.interpreters: list[str] = []  # shebang chain, real paths, in order
        self.provenance = provenance
        self.shadowed: str | None = None  # the trusted file a shadow hides
        self.culprit: str | None = None  # the file that made it deny
        self.sha256 = sha256
        self.message = message
        self.watch: list[str] = watch if watch is not None else []  # change => re-decide

    @property
    def allowed(self) -> bool:
        return self.reason in Reason.ALLOWING

    def trust_command(self) -> str | None:
        """The exact command that would allow this, or None when trusting cannot help."""
        if self.allowed or self.reason in (Reason.NOT_FOUND, Reason.UNREADABLE):
            return None
        target = self.culprit or self.path
        if target is None:
            return None
        # Exact and terminal-safe: a name with control characters or raw bytes is written as
        # $'…' (bash, zsh); anything printable keeps plain quoting that every shell reads.
        if safe(target) == target:
            return f"guard trust {shell_quote(target)}"
        return f"guard trust {quote_posix(target)}"

    def to_json(self) -> dict[str, Any]:
        def j(v: str | None) -> str | None:
            return None if v is None else json_safe(v)

        return {
            "word": j(self.word),
            "allowed": self.allowed,
            "reason": self.reason,
            "path": j(self.path),
            "real": j(self.real),
            "interpreters": [json_safe(i) for i in self.interpreters],
            "provenance": self.provenance.to_json() if self.provenance else None,
            "shadowed": j(self.shadowed),
            "culprit": j(self.culprit),
            "sha256": self.sha256,
            "message": self.message,
            "trust_command": self.trust_command(),
        }

    def __repr__(self) -> str:
        return f"Verdict({self.word!r}, {self.reason!r}, path={self.path!r})"


_SHELL_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./+,:@%=")


def shell_quote(s: str) -> str:
    """shlex.quote without importing shlex (and re) on the hot path."""
    if s and all(c in _SHELL_SAFE for c in s):
        return s
    return "'" + s.replace("'", "'\"'\"'") + "'"
