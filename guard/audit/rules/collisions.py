"""Entry-point collisions: a pip console script or an npm ``bin`` named like a well-known
command (``ls``, ``aws``, ``curl``…), wherever it sits - on PATH now or in a venv or
node_modules tree that a later ``activate`` or ``npm run`` puts in front.

Installing a wheel or an npm package runs none of its code; the attacker's first chance is
when you type the command, so a latent collision is reported before it ever wins.
"""

from __future__ import annotations

from guard.audit.findings import Finding, Rule
from guard.audit.fixes import remove_hint, trust_hint
from guard.audit.scan import Exe, Scan
from guard.textsafe import safe

PIP = Rule(
    "collision.entry-point",
    "A Python console script is named like a well-known command",
    "high",
    "A distribution declares a console_scripts entry point with the name of a system or "
    "developer tool. When its environment's bin is on PATH (activated venv, ~/.local/bin, "
    "pipx) it runs instead of the real tool. Uninstall the distribution unless it is the "
    "tool's real provider (then add it to commands.txt in guard's config dir).",
)
NPM = Rule(
    "collision.npm-bin",
    "An npm package's bin is named like a well-known command",
    "high",
    'A package\'s "bin" entry takes the name of a system or developer tool; '
    "`npm run`, `npx` and a global prefix put node_modules/.bin or PREFIX/bin in front of "
    "PATH. Uninstall the package unless it is the tool's real provider.",
)

RULES = [PIP, NPM]


def _where(scan: Scan, x: Exe) -> str:
    if not x.dir.on_path:
        return (
            f"not on PATH now; it wins when {safe(x.dir.path)} is put in front (activate, npm run)"
        )
    win = scan.winner(x.name)
    if win is x:
        return "it wins on PATH now"
    return f"on PATH after {safe(win.invoked) if win else '?'}; it wins if that one goes"


def check(scan: Scan) -> list[Finding]:
    out: list[Finding] = []
    for x in scan.exes():
        if x.name not in scan.well_known or x.real is None:
            continue
        if x.dir.system and scan.os_owned(x.real):
            continue  # the OS's own command in the OS's own directory
        prov = scan.provenance(x.invoked, x.real)
        if prov.kind not in ("pip", "npm"):
            continue
        if scan.well_known.expected(x.name, prov.kind, prov.package):
            continue  # e.g. pip's own `pip`, awscli's `aws`
        rule = PIP if prov.kind == "pip" else NPM
        t = scan.trust(x.invoked, x.real)
        sev = "low" if t.trusted else rule.severity
        d = prov.detail or {}
        if prov.kind == "pip":
            ep = d.get("entry_point")
            what = (
                f"console script {safe(x.name)!r} (entry point {safe(str(ep))})"
                if ep
                else f"script {safe(x.name)!r}"
            )
        else:
            b = d.get("bin")
            what = f"bin {safe(x.name)!r}" + (f" ({safe(str(b))})" if b and b != x.name else "")
        kind = "distribution" if prov.kind == "pip" else "package"
        pkg = safe(prov.package or "?") + (f" {safe(prov.version)}" if prov.version else "")
        fix = remove_hint(prov, x.invoked)
        if not t.trusted:
            fix += f"; if it is the real tool: {trust_hint(x.invoked)}"
        out.append(
            Finding(
                rule.id,
                sev,
                f"{prov.kind} {kind} {pkg} installs {what} at {safe(x.invoked)}, the name of a "
                f"well-known command ({_where(scan, x)}; {t.status})",
                [x.invoked],
                {x.invoked: prov},
                fix=fix,
                name=x.name,
            )
        )
    return out
