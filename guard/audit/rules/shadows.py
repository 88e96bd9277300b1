"""Shadows: one name, several files on PATH, and the one that wins is not one you trust (or
sits in a directory you can write). The command-jacking signature.

The verdict is guard.decide's, the same the hook would give when the name is typed.
"""

from __future__ import annotations

from guard.audit.findings import Finding, Rule, short
from guard.audit.fixes import q, remove_hint, trust_hint
from guard.audit.scan import Exe, Scan
from guard.model import Reason
from guard.textsafe import safe

UNTRUSTED = Rule(
    "shadow.untrusted-winner",
    "An untrusted file wins on PATH over another file of the same name",
    "high",
    "The name resolves to a file that is neither pinned nor an intact OS-package file, while "
    "another file of the same name sits later on PATH. This is how a planted console script "
    "or npm bin takes over `aws` or `ls`. guard blocks it when typed; remove it, or pin it if "
    "you installed it on purpose.",
)
WRITABLE = Rule(
    "shadow.user-writable-winner",
    "A trusted file in a directory you can write wins over another file of the same name",
    "low",
    "The winner is pinned, so guard blocks it the moment its content changes; but the "
    "directory is writable by you, so any process running as you can swap or add files "
    "there. Prefer installing overrides where only root can write, or put the directory "
    "after the system ones.",
)

RULES = [UNTRUSTED, WRITABLE]


def _others(hits: list[Exe]) -> list[Exe]:
    """Later files that are not the winner itself (the same file via another dir or link)."""
    win = hits[0]
    return [h for h in hits[1:] if h.real is None or h.real != win.real]


def check(scan: Scan) -> list[Finding]:
    names: dict[str, int] = {}
    for d in scan.path_dirs:
        if d.duplicate_of is None:
            for n in d.exes:
                names[n] = names.get(n, 0) + 1
    out: list[Finding] = []
    for name in sorted(n for n, c in names.items() if c > 1):
        hits = scan.on_path(name)
        others = _others(hits)
        if not others:
            continue
        win = hits[0]
        v = scan.verdict(name)
        if v.path is not None and v.path != win.invoked:
            continue  # decide saw another winner (PATH changed under us): say nothing wrong
        paths = [win.invoked] + [o.invoked for o in others]
        prov = {p.invoked: scan.provenance(p.invoked, p.real) for p in [win, *others]}
        later = "; ".join(
            f"{safe(o.invoked)} ({scan.trust(o.invoked, o.real).status}, {short(prov[o.invoked])})"
            for o in others
        )
        wt = scan.trust(win.invoked, win.real)
        head = f"{safe(name)} → {safe(win.invoked)} ({wt.status}, {short(prov[win.invoked])})"
        if not v.allowed:
            if v.reason == Reason.SHADOWING:
                sev = "critical" if name in scan.well_known else "high"
            else:
                sev = "medium"
            out.append(
                Finding(
                    UNTRUSTED.id,
                    sev,
                    f"{head} shadows {later}",
                    paths,
                    prov,
                    fix=f"if you did not install it: {remove_hint(prov[win.invoked], win.invoked)}"
                    f"; if you did: {trust_hint(win.invoked)}",
                    name=name,
                )
            )
        elif win.dir.user_writable:
            out.append(
                Finding(
                    WRITABLE.id,
                    WRITABLE.severity,
                    f"{head} shadows {later}; it lives in {safe(win.dir.path)}, which you "
                    f"can write",
                    paths,
                    prov,
                    fix=f"keep it pinned (guard blocks changes), or move {q(win.dir.path)} after "
                    f"the system directories in PATH",
                    name=name,
                )
            )
    return out
