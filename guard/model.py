"""The data every surface shares: reason codes, the verdict, a resolved candidate.

Reason codes and the JSON shape of ``Verdict.to_json()`` are a stable, documented surface
(docs/cli.md). Add codes; never rename one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Optional

from guard.textsafe import json_safe, safe


class Reason(str, Enum):
    PINNED = "pinned"  # allow: allowlist pins this path and the content matches
    OS_PACKAGE = "os-package"  # allow: owned by an OS package and matches its digest
    UNTRUSTED = "untrusted"  # deny: neither pinned nor package-managed
    MODIFIED = "modified"  # deny: pinned, but content or real path changed
    SHADOWING = "shadowing"  # deny: untrusted winner with a trusted same-name file later on PATH
    INTERPRETER = "interpreter"  # deny: trusted file, untrusted shebang interpreter
    NOT_FOUND = "not-found"  # deny: nothing to run (the shell will say so too)
    UNREADABLE = "unreadable"  # deny: cannot be read or is not a regular file (FIFO, device…)

    @property
    def allows(self) -> bool:
        return self in (Reason.PINNED, Reason.OS_PACKAGE)


class Mode(str, Enum):
    BLOCK = "block"
    WARN = "warn"
    MONITOR = "monitor"


@dataclass
class Provenance:
    """Where an executable came from, with the evidence that says so."""

    kind: str  # "dpkg", "rpm", "pip", "npm", "homebrew", "unknown"
    package: Optional[str] = None
    version: Optional[str] = None
    digest_ok: Optional[bool] = None  # the package database's digest matches the file
    detail: dict[str, Any] = field(default_factory=dict)

    def short(self) -> str:
        if self.kind == "unknown" or not self.package:
            return self.kind
        v = f" {self.version}" if self.version else ""
        return f"{self.kind}:{self.package}{v}"

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind, "package": self.package, "version": self.version}
        d["digest_ok"] = self.digest_ok
        if self.detail:
            d["detail"] = self.detail
        return d


@dataclass
class Candidate:
    """One file a command word could resolve to, in PATH order."""

    invoked: str  # the path as the shell would exec it (PATH dir + name, or the given path)
    real: Optional[str]  # symlinks followed; None when dangling, a loop, or unreadable
    error: Optional[str] = None  # why real is None / why it cannot be run


@dataclass
class Verdict:
    """The one decision every surface (CLI, hooks, audit, CI) prints or acts on."""

    word: str
    reason: Reason
    path: Optional[str] = None  # the invoked path of the winner
    real: Optional[str] = None
    interpreters: list[str] = field(default_factory=list)  # shebang chain, real paths, in order
    provenance: Optional[Provenance] = None
    shadowed: Optional[str] = None  # the trusted file a shadow hides (reason SHADOWING)
    culprit: Optional[str] = None  # the file that made it deny (interpreter, modified pin…)
    sha256: Optional[str] = None
    message: str = ""
    watch: list[str] = field(default_factory=list)  # files/dirs whose change invalidates this

    @property
    def allowed(self) -> bool:
        return self.reason.allows

    def trust_command(self) -> Optional[str]:
        """The exact command that would allow this, or None when trusting cannot help."""
        if self.allowed or self.reason in (Reason.NOT_FOUND, Reason.UNREADABLE):
            return None
        import shlex

        target = self.culprit or self.path
        if target is None:
            return None
        return f"guard trust {shlex.quote(safe(target))}"

    def to_json(self) -> dict[str, Any]:
        def j(v: Optional[str]) -> Optional[str]:
            return None if v is None else json_safe(v)

        return {
            "word": j(self.word),
            "allowed": self.allowed,
            "reason": self.reason.value,
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
