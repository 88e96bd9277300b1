"""Drift: files that are no longer what was approved - a pinned file whose content or target
changed, a pin whose file is gone, an OS-package file that differs from its package's digest,
a console-script wrapper that no longer matches its distribution's RECORD.

A swapped binary keeps its name and its place on PATH; only its bytes tell.
"""

from __future__ import annotations

import os

from guard.audit.findings import Finding, Rule, describe
from guard.audit.fixes import q, reinstall_hint, trust_hint
from guard.audit.scan import Scan
from guard.resolve import real_path
from guard.textsafe import safe

MODIFIED = Rule(
    "drift.modified",
    "A pinned file's content or real path changed",
    "high",
    "The file no longer matches its SHA-256 pin (or its symlink now points elsewhere). guard "
    "blocks it. If you updated it yourself, re-pin it; otherwise find out who changed it.",
)
GONE = Rule(
    "drift.gone",
    "A pin's file is gone",
    "low",
    "The pinned path no longer exists. A file re-created there must match the pin to run, "
    "so this is only clutter - unless you did not remove it.",
)
OS_PACKAGE = Rule(
    "drift.os-package",
    "An OS-package file differs from the digest its package recorded",
    "high",
    "The package database's digest (dpkg's md5sums, rpm's file digests) no longer matches: "
    "the file was replaced or edited after installation. Reinstall the package, or find "
    "out who changed it.",
)
RECORD = Rule(
    "drift.record",
    "A console-script wrapper differs from its distribution's RECORD",
    "high",
    "pip's RECORD file lists the sha256 of every file a wheel installed; this wrapper no "
    "longer matches, so it was edited after installation (pip never does that). Reinstall "
    "the distribution and find out who changed it.",
)

RULES = [MODIFIED, GONE, OS_PACKAGE, RECORD]


def check(scan: Scan) -> list[Finding]:
    out: list[Finding] = []
    seen: set[str] = set()
    exes = scan.exes()
    for i, x in enumerate(exes):
        if i % 64 == 0:
            scan.tick("verifying", i, len(exes))
        seen.add(x.invoked)
        t = scan.trust(x.invoked, x.real)
        if t.status == "modified":
            out.append(_modified(scan, x.invoked, x.real, t))
            continue
        if t.trusted and t.status == "os-package":
            continue
        if scan.os_owned(x.real):
            continue
        prov = scan.provenance(x.invoked, x.real)
        if prov.kind == "pip" and (prov.detail or {}).get("record_ok") is False:
            out.append(
                Finding(
                    RECORD.id,
                    RECORD.severity,
                    f"{safe(x.invoked)} does not match the sha256 in the RECORD of "
                    f"{describe(prov)}",
                    [x.invoked],
                    {x.invoked: prov},
                    fix=f"{reinstall_hint(prov, x.invoked)} (and find out who edited it)",
                    name=x.name,
                )
            )
    scan.tick("verifying", len(exes), len(exes))
    for path in sorted(scan.ctx.allowlist.pins):
        if path in seen:
            continue
        real, _ = real_path(path)
        t = scan.trust(path, real)
        if real is None:
            out.append(
                Finding(
                    GONE.id,
                    GONE.severity,
                    f"{safe(path)} is pinned but no longer exists",
                    [path],
                    fix=f"guard untrust {q(path)}",
                    name=os.path.basename(path),
                )
            )
        elif t.status == "modified":
            out.append(_modified(scan, path, real, t))
    return out


def _modified(scan: Scan, invoked: str, real: str | None, t) -> Finding:
    prov = scan.provenance(invoked, real)
    name = os.path.basename(invoked)
    if t.pin is not None:
        return Finding(
            MODIFIED.id,
            MODIFIED.severity,
            f"{safe(invoked)}: {t.detail} (pinned {t.pin.sha256[:16]}…, now "
            f"{(t.sha256 or '?')[:16]}…) [{describe(prov)}]",
            [invoked] + ([real] if real and real != invoked else []),
            {invoked: prov},
            fix=f"if you changed it: {trust_hint(invoked)}; if not: restore it "
            f"({reinstall_hint(prov, invoked)})",
            name=name,
        )
    return Finding(
        OS_PACKAGE.id,
        OS_PACKAGE.severity,
        f"{safe(invoked)}: {t.detail} [{describe(prov)}]",
        [invoked] + ([real] if real and real != invoked else []),
        {invoked: prov},
        fix=reinstall_hint(prov, invoked),
        name=name,
    )
