"""Machine output: one JSON document (shape documented in docs/audit.md)."""

from __future__ import annotations

import json

from guard import __version__
from guard.audit.findings import SEVERITIES, Finding
from guard.audit.runner import AuditResult, all_rules
from guard.textsafe import json_safe

FORMAT_VERSION = 1


def document(result: AuditResult, findings: list[Finding], min_severity: str = "low") -> dict:
    scan = result.scan
    counts = {s: sum(1 for f in findings if f.severity == s) for s in SEVERITIES}
    return {
        "format": FORMAT_VERSION,
        "guard_version": __version__,
        "min_severity": min_severity,
        "path": [json_safe(d.entry) for d in scan.path_dirs],
        "envs": [json_safe(d.path) for d in scan.env_dirs],
        "executables": scan.count(),
        "seconds": round(result.seconds, 3),
        "counts": counts,
        "findings": [f.to_json() for f in findings],
        "rules": [
            {"id": r.id, "title": r.title, "severity": r.severity, "help": r.help}
            for r in all_rules()
        ],
    }


# ensure_ascii: bidi overrides, zero-width and C1 characters in file names must not reach a
# terminal raw when the report is printed; \uXXXX is the same JSON to every parser.
def render(result: AuditResult, findings: list[Finding], min_severity: str = "low") -> str:
    return json.dumps(document(result, findings, min_severity), indent=2, ensure_ascii=True) + "\n"
