"""`guard init`: the first-day baseline - trust what the OS vouches for, pin what else is on
PATH after showing it, and name the shadows instead of approving them.

OS-package files are not pinned one by one: the package database already vouches for them
(and keeps vouching across upgrades). Everything else on PATH is listed by directory and
provenance, then pinned in one atomic allowlist update. A file that shadows a different file
of the same name later on PATH is never pinned automatically: pinning it would approve
exactly the command-jacking guard exists to stop, so it is named and left to the user.
Re-running pins only what is new; pins are keyed by path, so nothing is duplicated.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from guard.allowlist import Pin, update_allowlist
from guard.audit.findings import short
from guard.audit.scan import Exe, Progress, Scan
from guard.decide import Context, FileTrust
from guard.model import Provenance, shell_quote
from guard.textsafe import json_safe, safe

NOTE = "guard init"


@dataclass
class Item:
    exe: Exe
    trust: FileTrust
    prov: Provenance | None = None
    shadows: list[tuple[Exe, str]] = field(default_factory=list)  # (later file, its status)


@dataclass
class Baseline:
    dirs: list[str] = field(default_factory=list)  # scanned PATH dirs, in order
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (entry, why)
    os_trusted: list[Item] = field(default_factory=list)
    pinned: list[Item] = field(default_factory=list)
    to_pin: list[Item] = field(default_factory=list)
    shadows: list[Item] = field(default_factory=list)
    modified: list[Item] = field(default_factory=list)
    unreadable: list[Item] = field(default_factory=list)
    total: int = 0


def build(ctx: Context, path_env: str, cwd: str, progress: Progress | None = None) -> Baseline:
    """Classify every executable on PATH. Verdicts per file come from guard.decide.trust_file."""
    b = Baseline()
    absolute = []
    for entry in path_env.split(":") if path_env else []:
        if entry.startswith("/"):
            absolute.append(entry)
        else:  # `guard audit` reports these (path.dot, path.relative, …)
            b.skipped.append((entry, "relative entry (follows the current directory)"))
    scan = Scan(ctx, ":".join(absolute), cwd, progress=progress)
    for d in scan.path_dirs:
        if not d.is_dir:
            b.skipped.append((d.entry, "does not exist" if not d.exists else "not a directory"))
        elif d.duplicate_of is None:
            b.dirs.append(d.path)
    scanned = [d for d in scan.path_dirs if d.is_dir and d.duplicate_of is None]
    exes = [x for d in scanned for x in d.exes.values()]
    b.total = len(exes)
    by_name: dict[str, list[Exe]] = {}
    for x in exes:
        by_name.setdefault(x.name, []).append(x)
    for i, x in enumerate(exes):
        if i % 64 == 0:
            scan.tick("verifying", i, len(exes))
        if x.real is None:
            b.unreadable.append(Item(x, FileTrust("unreadable", "dangling symlink or loop")))
            continue
        t = scan.trust(x.invoked, x.real)
        item = Item(x, t)
        if t.status == "os-package":
            b.os_trusted.append(item)
        elif t.status == "pinned":
            b.pinned.append(item)
        elif t.status == "modified":
            item.prov = scan.provenance(x.invoked, x.real)
            b.modified.append(item)
        elif t.status == "unreadable":
            b.unreadable.append(item)
        else:
            item.prov = scan.provenance(x.invoked, x.real)
            same = by_name[x.name]
            later = same[same.index(x) + 1 :]
            item.shadows = [
                (
                    o,
                    f"{scan.trust(o.invoked, o.real).status}, "
                    f"{short(scan.provenance(o.invoked, o.real))}",
                )
                for o in later
                if o.real != x.real
            ]
            (b.shadows if item.shadows else b.to_pin).append(item)
    scan.tick("verifying", len(exes), len(exes))
    return b


def _clean(v: object) -> object:
    """Provenance detail made YAML-safe (no lone surrogates from undecodable names)."""
    if isinstance(v, str):
        return json_safe(v)
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    return v


def pins_for(b: Baseline) -> list[Pin]:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    out = []
    for it in b.to_pin:
        x, t = it.exe, it.trust
        if t.sha256 is None or x.real is None:
            continue
        try:
            size: int | None = os.stat(x.real).st_size
        except OSError:
            size = None
        prov = _clean(it.prov.to_json()) if it.prov is not None else None
        out.append(Pin(x.invoked, x.real, t.sha256, size, now, NOTE, prov))  # type: ignore[arg-type]
    return out


def apply(ctx: Context, b: Baseline) -> list[Pin]:
    """Pin everything listed under "to pin", in one atomic allowlist update."""
    pins = pins_for(b)
    if pins:
        update_allowlist(ctx.loc, add=pins, remove=[])
    return pins


# -- showing it ----------------------------------------------------------------------------------
def _wrap(words: list[str], indent: str, width: int = 100) -> list[str]:
    lines, cur = [], indent
    for w in words:
        if len(cur) + len(w) + 1 > width and cur.strip():
            lines.append(cur.rstrip())
            cur = indent
        cur += w + " "
    if cur.strip():
        lines.append(cur.rstrip())
    return lines


def _pkg(prov: Provenance | None) -> str:
    return prov.package if prov is not None and prov.package else "?"


def render(b: Baseline) -> str:
    L: list[str] = []
    L.append(
        f"guard init: {b.total:,} executables in {len(b.dirs)} PATH director"
        f"{'y' if len(b.dirs) == 1 else 'ies'}"
    )
    for entry, why in b.skipped:
        L.append(f"  skipped PATH entry {safe(entry) or '(empty)'!r}: {why}")
    L.append("")
    pkgs = {_pkg(i.trust.provenance) for i in b.os_trusted}
    L.append(
        f"Trusted by OS packages: {len(b.os_trusted):,} files from {len(pkgs):,} packages "
        f"(not pinned: the package database vouches for them, across upgrades too)"
    )
    per_dir: dict[str, list[Item]] = {}
    for it in b.os_trusted:
        per_dir.setdefault(it.exe.dir.path, []).append(it)
    for d, items in per_dir.items():
        counts: dict[str, int] = {}
        for it in items:
            p = _pkg(it.trust.provenance)
            counts[p] = counts.get(p, 0) + 1
        top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:6]
        more = ", …" if len(counts) > 6 else ""
        L.append(
            f"  {safe(d)}: {len(items):,} files from {len(counts):,} packages ("
            + ", ".join(f"{safe(k)} {v}" for k, v in top)
            + f"{more})"
        )
    if b.pinned:
        L.append(f"Already pinned and unchanged: {len(b.pinned):,} files")
    L.append("")
    if b.to_pin:
        L.append(f"To pin ({len(b.to_pin):,} files, SHA-256), by directory and provenance:")
        groups: dict[str, dict[str, list[str]]] = {}
        for it in b.to_pin:
            groups.setdefault(it.exe.dir.path, {}).setdefault(short(it.prov), []).append(
                safe(it.exe.name)
            )
        for d, by_prov in groups.items():
            n = sum(len(v) for v in by_prov.values())
            L.append(f"  {safe(d)} ({n} files)")
            for prov, names in sorted(by_prov.items()):
                L.append(f"    {prov} ({len(names)}):")
                L.extend(_wrap(sorted(names), "      "))
    else:
        L.append("Nothing new to pin.")
    if b.shadows:
        L.append("")
        L.append(f"Shadows - named, NOT pinned ({len(b.shadows)}):")
        for it in b.shadows:
            later = ", ".join(f"{safe(o.invoked)} ({st})" for o, st in it.shadows)
            L.append(f"  {safe(it.exe.invoked)} ({short(it.prov)}) shadows {later}")
        L.append(
            "  Each of these wins over a different file of the same name later on PATH - the "
            "command-jacking pattern guard exists to stop - so approving them is your call, "
            "not a baseline's. guard blocks them until then. If one is yours: guard trust PATH; "
            "if not: remove it (guard audit names the package that installed it)."
        )
    if b.modified:
        L.append("")
        L.append(f"Changed since approved - NOT pinned ({len(b.modified)}):")
        for it in b.modified:
            L.append(f"  {safe(it.exe.invoked)}: {it.trust.detail}")
        L.append(
            "  Re-pin one only if you know why it changed: guard trust "
            + shell_quote(safe(b.modified[0].exe.invoked))
        )
    if b.unreadable:
        L.append("")
        L.append(f"Cannot be verified - NOT pinned ({len(b.unreadable)}):")
        for it in b.unreadable:
            L.append(f"  {safe(it.exe.invoked)}: {it.trust.detail}")
    return "\n".join(L) + "\n"


def _files(n: int) -> str:
    return f"{n:,} file{'' if n == 1 else 's'}"


def main(yes: bool = False) -> int:
    """Show the baseline, then pin after a "y" on a terminal or with ``yes``.

    Exit 0 when pinned (or nothing to pin); 1 when not pinned (declined, or no terminal to ask
    on and no --yes)."""
    import sys

    from guard.audit.progress import TtyProgress

    ctx = Context()
    progress = TtyProgress()
    try:
        try:
            b = build(ctx, os.environ.get("PATH", ""), os.getcwd(), progress)
        finally:
            progress.clear()
        sys.stdout.write(render(b))
        sys.stdout.write("\n")
        shadows = f"; {len(b.shadows)} shadow(s) left for you to decide" if b.shadows else ""
        if not b.to_pin:
            sys.stdout.write(f"guard init: nothing new to pin{shadows}\n")
            return 0
        n = len(b.to_pin)
        if not yes:
            if not sys.stdin.isatty():
                sys.stderr.write(
                    f"guard init: NOT pinned: no terminal to ask on. Review the {_files(n)} "
                    f"above, then run `guard init --yes` to pin them.\n"
                )
                return 1
            sys.stderr.write(f"Pin these {_files(n)}? [y/N] ")
            sys.stderr.flush()
            answer = sys.stdin.readline().strip().lower()
            if answer not in ("y", "yes"):
                sys.stderr.write("guard init: nothing pinned\n")
                return 1
        pins = apply(ctx, b)
        sys.stdout.write(f"guard init: pinned {_files(len(pins))}{shadows}\n")
        return 0
    finally:
        ctx.close()
