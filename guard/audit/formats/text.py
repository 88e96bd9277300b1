"""Human output: worst first, each finding with its evidence and fix, then a summary.

Every name and path in a message was escaped with guard.textsafe.safe when the finding was
made; ``scrub`` re-checks that no control or bidi character reaches the terminal anyway.
"""

from __future__ import annotations

from guard.audit.findings import SEVERITIES, Finding, describe, rank, scrub
from guard.audit.runner import AuditResult
from guard.textsafe import safe

_MAX_PATHS = 6


def summary(result: AuditResult, shown: list[Finding], min_severity: str) -> str:
    counts = {s: 0 for s in SEVERITIES}
    for f in shown:
        counts[f.severity] += 1
    parts = [f"{counts[s]} {s}" for s in reversed(SEVERITIES) if counts[s]]
    scan = result.scan
    ndirs = sum(1 for d in scan.path_dirs if d.duplicate_of is None)
    envs = f", {len(scan.env_dirs)} env dir(s)" if scan.env_dirs else ""
    at = f" at or above {min_severity}" if min_severity != SEVERITIES[0] else ""
    what = f"{len(shown)} finding(s){at}" + (f" ({', '.join(parts)})" if parts else "")
    return (
        f"guard audit: {what} — {scan.count():,} executables in {ndirs} PATH dir(s){envs}, "
        f"{result.seconds:.2f} s"
    )


def render(result: AuditResult, findings: list[Finding], min_severity: str = "low") -> str:
    lines: list[str] = []
    for f in findings:
        lines.append(f"{f.severity.upper():<8} {f.rule}" + (f"  {safe(f.name)}" if f.name else ""))
        lines.append(f"  {scrub(f.message)}")
        for p in f.paths[:_MAX_PATHS]:
            prov = f.provenance.get(p)
            ev = f"  [{scrub(describe(prov))}]" if prov is not None else ""
            lines.append(f"    {safe(p)}{ev}")
        if len(f.paths) > _MAX_PATHS:
            lines.append(f"    … and {len(f.paths) - _MAX_PATHS} more (--json lists all)")
        if f.fix:
            lines.append(f"  fix: {scrub(f.fix)}")
        lines.append("")
    lines.append(summary(result, findings, min_severity))
    return "\n".join(lines) + "\n"


def worst(findings: list[Finding]) -> str | None:
    return max((f.severity for f in findings), key=rank, default=None)
