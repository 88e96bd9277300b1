"""SARIF 2.1.0 for code-scanning dashboards (validated against the OASIS schema in tests).

Severity maps to SARIF ``level`` (critical/high -> error, medium -> warning, low -> note) and
to the ``security-severity`` score GitHub code scanning sorts by. Files are ``file://`` URIs;
the fix and the provenance ride in each result's property bag (SARIF ``fixes`` describe text
edits, which these are not).
"""

from __future__ import annotations

import json
import os
from urllib.parse import quote

from guard import __version__
from guard.audit.findings import Finding
from guard.audit.runner import AuditResult, all_rules
from guard.textsafe import json_safe

SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}
SCORE = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "2.0"}


def file_uri(path: str) -> str:
    return "file://" + quote(os.fsencode(path), safe="/-._~")


def _location(path: str, ident: int | None = None) -> dict:
    loc: dict = {"physicalLocation": {"artifactLocation": {"uri": file_uri(path)}}}
    if ident is not None:
        loc["id"] = ident
    return loc


def _camel(rule_id: str) -> str:
    return "".join(w[:1].upper() + w[1:] for w in rule_id.replace("-", ".").split("."))


def document(result: AuditResult, findings: list[Finding]) -> dict:
    rules = all_rules()
    index = {r.id: i for i, r in enumerate(rules)}
    descriptors = [
        {
            "id": r.id,
            "name": _camel(r.id),
            "shortDescription": {"text": r.title},
            "fullDescription": {"text": r.help},
            "help": {"text": r.help},
            "defaultConfiguration": {"level": LEVEL[r.severity]},
            "properties": {
                "tags": ["security", "command-jacking"],
                "security-severity": SCORE[r.severity],
                "severity": r.severity,
            },
        }
        for r in rules
    ]
    results = []
    for f in findings:
        res: dict = {
            "ruleId": f.rule,
            "ruleIndex": index[f.rule],
            "level": LEVEL[f.severity],
            "message": {"text": json_safe(f.message + (f" Fix: {f.fix}" if f.fix else ""))},
            "partialFingerprints": {"guardFinding/v1": f.fingerprint()},
            "properties": {
                "severity": f.severity,
                "security-severity": SCORE[f.severity],
                "fix": json_safe(f.fix),
                "provenance": {json_safe(p): v.to_json() for p, v in f.provenance.items()},
            },
        }
        if f.name is not None:
            res["properties"]["command"] = json_safe(f.name)
        paths = list(dict.fromkeys(f.paths))
        if paths:
            # The file at fault is the location; the rest (what it shadows, the scripts an
            # interpreter captures, a writable parent) are related locations.
            res["locations"] = [_location(paths[0])]
        if len(paths) > 1:
            res["relatedLocations"] = [_location(p, i) for i, p in enumerate(paths[1:], 1)]
        results.append(res)
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "guard",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "rules": descriptors,
                    }
                },
                "invocations": [{"executionSuccessful": True}],
                "results": results,
            }
        ],
    }


# ensure_ascii: bidi overrides, zero-width and C1 characters in file names must not reach a
# terminal raw when the report is printed; \uXXXX is the same JSON to every parser.
def render(result: AuditResult, findings: list[Finding], min_severity: str = "low") -> str:
    return json.dumps(document(result, findings), indent=2, ensure_ascii=True) + "\n"
