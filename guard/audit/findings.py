"""What an audit reports: one ``Finding`` per problem, with a stable rule id and the fix.

Rule ids are a stable, documented surface (docs/audit.md, SARIF ``ruleId``): add ids, never
rename one. Severity is one of four ordered levels so ``--min-severity`` is a simple compare.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from guard.model import Provenance
from guard.textsafe import json_safe, safe

SEVERITIES = ("low", "medium", "high", "critical")
_RANK = {s: i for i, s in enumerate(SEVERITIES)}


def rank(severity: str) -> int:
    """Order of a severity (low=0 … critical=3); raises KeyError for an unknown name."""
    return _RANK[severity]


@dataclass(frozen=True)
class Rule:
    """A rule's fixed description: shown in docs and as a SARIF ``reportingDescriptor``."""

    id: str
    title: str  # one line, no trailing period
    severity: str  # the default; a finding may raise or lower it with reason
    help: str  # why it matters and what to do, a short paragraph


@dataclass
class Finding:
    """One problem. ``paths`` are in a meaningful order (the winner first for a shadow);
    ``provenance`` maps a path to where that file came from, when known."""

    rule: str
    severity: str
    message: str  # plain text; attacker-controlled parts are escaped by the formatters
    paths: list[str] = field(default_factory=list)
    provenance: dict[str, Provenance] = field(default_factory=dict)
    fix: str = ""
    name: str | None = None  # the command name concerned, when there is one

    def __post_init__(self) -> None:
        rank(self.severity)  # fail early on a typo

    def fingerprint(self) -> str:
        """Stable across runs for the same problem (rule, name, paths): lets CI de-duplicate."""
        h = hashlib.sha256(self.rule.encode())
        for part in [self.name or "", *self.paths]:
            h.update(b"\0" + part.encode("utf-8", "surrogateescape"))
        return h.hexdigest()[:32]

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "name": None if self.name is None else json_safe(self.name),
            "message": json_safe(self.message),
            "paths": [json_safe(p) for p in self.paths],
            "provenance": {json_safe(p): v.to_json() for p, v in self.provenance.items()},
            "fix": json_safe(self.fix),
            "fingerprint": self.fingerprint(),
        }


def describe(prov: Provenance | None) -> str:
    """One line of evidence: ``pip:awscli 2.0 (entry point aws = awscli.cli:main); installed
    by pip, RECORD ok, env /home/me/.venv``. Escaped for a terminal."""
    if prov is None:
        return "provenance unknown"
    head = short(prov)
    d = prov.detail or {}
    bits: list[str] = []
    if prov.kind == "pip":
        if d.get("installer"):
            bits.append(f"installed by {d['installer']}")
        if d.get("record_ok") is False:
            bits.append("RECORD MISMATCH")
        elif d.get("record_ok") is True:
            bits.append("RECORD ok")
        if d.get("env"):
            bits.append(f"env {d['env']}")
    elif prov.kind in ("dpkg", "rpm") and prov.digest_ok is not None:
        bits.append("digest ok" if prov.digest_ok else "DIGEST MISMATCH")
    return head + (f"; {safe(', '.join(str(b) for b in bits))}" if bits else "")


def short(prov: Provenance | None) -> str:
    """``kind:package version (entry point …)`` for a terminal: Provenance.short() escapes
    names; ``scrub`` makes sure no control character is left either way."""
    return "unknown" if prov is None else scrub(prov.short())


_BAD = ("Cc", "Cf", "Cs", "Zl", "Zp")


def scrub(text: str) -> str:
    """Escape control, format (bidi, zero-width) and undecodable characters the way
    guard.textsafe.safe does, but leave backslashes alone: for text already made of
    safe() pieces, where escaping ``\\`` again would garble them."""
    if all(unicodedata.category(c) not in _BAD for c in text):
        return text
    return "".join(safe(c) if unicodedata.category(c) in _BAD else c for c in text)
