"""Run every rule family over one scan and order the findings (worst first)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from guard.audit.findings import Finding, Rule, rank
from guard.audit.rules import FAMILIES
from guard.audit.scan import Progress, Scan
from guard.decide import Context

# Families whose work is hashing every file run first, so the rest find answers memoised.
_RUN_ORDER = ("drift", "path_hygiene", "shadows", "collisions", "confusables", "interpreter")


def all_rules() -> list[Rule]:
    return [r for fam in FAMILIES for r in fam.RULES]


@dataclass
class AuditResult:
    findings: list[Finding]
    scan: Scan
    seconds: float

    def at_least(self, min_severity: str) -> list[Finding]:
        m = rank(min_severity)
        return [f for f in self.findings if rank(f.severity) >= m]


def _order(fam: object) -> int:
    short = fam.__name__.rsplit(".", 1)[-1]  # type: ignore[attr-defined]
    return _RUN_ORDER.index(short) if short in _RUN_ORDER else len(_RUN_ORDER)


def run_audit(
    ctx: Context,
    path_env: str,
    cwd: str,
    envs: list[str] | None = None,
    shell_state: dict | None = None,
    progress: Progress | None = None,
) -> AuditResult:
    t0 = time.perf_counter()
    scan = Scan(ctx, path_env, cwd, envs, shell_state, progress)
    findings: list[Finding] = []
    for fam in sorted(FAMILIES, key=_order):
        findings.extend(fam.check(scan))
    family_of = {r.id: i for i, fam in enumerate(FAMILIES) for r in fam.RULES}
    findings.sort(
        key=lambda f: (
            -rank(f.severity),
            family_of.get(f.rule, 99),
            f.rule,
            f.name or "",
            f.paths,
        )
    )
    return AuditResult(findings, scan, time.perf_counter() - t0)
