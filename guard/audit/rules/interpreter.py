"""Interpreter hijack: scripts whose ``#!/usr/bin/env X`` finds X on PATH, and the X found is
not trusted - the planted ``node`` or ``python3`` that every such script will run.

Findings are grouped per interpreter file: one planted ``node`` is one problem, however many
scripts it captures. The interpreter chain is guard.resolve's, the same the hook checks.
"""

from __future__ import annotations

from guard.audit.findings import Finding, Rule, short
from guard.audit.fixes import remove_hint, trust_hint
from guard.audit.scan import Exe, Scan
from guard.model import Reason
from guard.resolve import interpreter_chain
from guard.textsafe import safe

ENV_UNTRUSTED = Rule(
    "interpreter.env-untrusted",
    "Scripts' #!/usr/bin/env interpreter resolves to an untrusted file",
    "high",
    "`#!/usr/bin/env NAME` runs the first NAME on PATH, so whoever controls an earlier PATH "
    "directory chooses the interpreter of every such script - including trusted ones. Remove "
    "the interpreter, pin it if it is yours, or give the scripts an absolute #! path.",
)

RULES = [ENV_UNTRUSTED]

_MAX_LISTED = 5


def check(scan: Scan) -> list[Finding]:
    groups: dict[str, tuple[str, str | None, list[Exe]]] = {}
    exes = scan.exes()
    for i, x in enumerate(exes):
        if i % 256 == 0:
            scan.tick("reading #! lines", i, len(exes))
        if x.real is None:
            continue
        for link in interpreter_chain(x.real, scan.path_env, scan.cwd):
            if not link.via_env or link.real is None:
                continue
            if scan.trust(link.invoked, link.real).trusted:
                continue
            name = link.invoked.rsplit("/", 1)[-1]
            groups.setdefault(link.invoked, (name, link.real, []))[2].append(x)
    scan.tick("reading #! lines", len(exes), len(exes))
    out: list[Finding] = []
    for interp, (name, real, scripts) in sorted(groups.items()):
        t = scan.trust(interp, real)
        prov = scan.provenance(interp, real)
        trusted_scripts = [s for s in scripts if scan.trust(s.invoked, s.real).trusted]
        v = scan.verdict(name)
        if trusted_scripts:
            sev = "critical" if v.reason == Reason.SHADOWING else "high"
        else:
            sev = "medium"
        shown = trusted_scripts or scripts
        listed = ", ".join(safe(s.invoked) for s in shown[:_MAX_LISTED])
        more = f" and {len(shown) - _MAX_LISTED} more" if len(shown) > _MAX_LISTED else ""
        whose = f"{len(trusted_scripts)} trusted" if trusted_scripts else "untrusted"
        shadow = f"; it shadows {safe(v.shadowed)}" if v.shadowed else ""
        provs = {interp: prov}
        for s in shown[:_MAX_LISTED]:
            provs[s.invoked] = scan.provenance(s.invoked, s.real)
        out.append(
            Finding(
                ENV_UNTRUSTED.id,
                sev,
                f"#!/usr/bin/env {safe(name)} in {len(scripts)} script(s) ({whose}) runs "
                f"{safe(interp)}, which is {t.status} [{short(prov)}]{shadow}: {listed}{more}",
                [interp] + [s.invoked for s in scripts],
                provs,
                fix=f"if you did not install it: {remove_hint(prov, interp)}; if you did: "
                f"{trust_hint(interp)}",
                name=name,
            )
        )
    return out
