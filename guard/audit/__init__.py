"""`guard audit`: find planted, shadowing and look-alike commands before anyone types them.

    from guard.audit import run_audit
    result = run_audit(Context(), os.environ["PATH"], os.getcwd(), envs=["./.venv"])

Rules live in ``guard.audit.rules`` (one module per family), output formats in
``guard.audit.formats``. Rule ids are stable (docs/audit.md).
"""

from guard.audit.findings import SEVERITIES, Finding, Rule
from guard.audit.runner import AuditResult, all_rules, run_audit

__all__ = ["SEVERITIES", "AuditResult", "Finding", "Rule", "all_rules", "run_audit"]
