"""`guard audit` behind the thin CLI: read options, run, print, choose the exit status."""

from __future__ import annotations

import os
import sys

from guard.audit.findings import SEVERITIES
from guard.errors import EXIT_ALLOW, EXIT_DENY

FORMATS = ("text", "json", "sarif")


def main(
    fmt: str = "text",
    min_severity: str = SEVERITIES[0],
    envs: list[str] | None = None,
    shell_state: str | None = None,
) -> int:
    """Exit 0: nothing at or above ``min_severity``; 1: findings; GuardError (2): an error."""
    from guard.audit.formats import json as as_json
    from guard.audit.formats import sarif as as_sarif
    from guard.audit.formats import text as as_text
    from guard.audit.progress import TtyProgress
    from guard.audit.rules.shell_state import load
    from guard.audit.runner import run_audit
    from guard.decide import Context

    state = load(shell_state) if shell_state else None
    progress = TtyProgress()
    ctx = Context()
    try:
        result = run_audit(
            ctx, os.environ.get("PATH", ""), os.getcwd(), envs or [], state, progress
        )
    finally:
        progress.clear()
        ctx.close()
    shown = result.at_least(min_severity)
    render = {"text": as_text, "json": as_json, "sarif": as_sarif}[fmt].render
    sys.stdout.write(render(result, shown, min_severity))
    return EXIT_DENY if shown else EXIT_ALLOW
