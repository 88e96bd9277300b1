"""The `guard` command line: argument parsing and printing only; the work is in the library.

Imports are lazy: `guard check` on a cached file must finish in well under 30 ms including
Python's own start.
"""

from __future__ import annotations

import os
import sys

from guard import __version__
from guard.errors import EXIT_ALLOW, EXIT_DENY, EXIT_ERROR, GuardError

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~4 ms per check

if TYPE_CHECKING:
    import argparse
    from typing import Any, Callable

EPILOG = {
    "check": """examples:
  guard check aws             # exit 0 allowed, 1 denied, 2 error
  guard check ./bin/tool --json
""",
    "which": """examples:
  guard which python3         # every python3 on PATH, in order, with its verdict
  guard which -j node
""",
    "trust": """examples:
  guard trust aws                       # pin the aws that PATH finds now
  guard trust ~/.local/bin/aws --note "installed by hand"
  guard trust --dir ~/.cargo/bin        # every executable directly in the dir
""",
    "untrust": """examples:
  guard untrust aws                     # every pin of a file named aws
  guard untrust /home/me/.local/bin/aws
""",
    "list": "examples:\n  guard list\n  guard list --json | jq '.[].path'\n",
    "status": "examples:\n  guard status\n  guard status --json\n",
    "recover": """Restores allowlist.yaml from allowlist.yaml.bak (the copy every write keeps) when
the allowlist is missing, cut short or not valid. The unusable file is kept as
allowlist.yaml.corrupt-TIMESTAMP; nothing is overwritten without a copy. Does nothing when the
allowlist is fine. Docs: docs/reliability.md.

exit status: 0 restored or nothing to do, 2 nothing good to restore from.

examples:
  guard recover
""",
    "hook": """examples:
  eval "$(guard hook bash)"        # in ~/.bashrc
  eval "$(guard hook zsh)"         # in ~/.zshrc
  guard hook fish | source         # in ~/.config/fish/conf.d/guard.fish
  source "$(guard hook --path bash)"   # render once; the rc then starts no Python
""",
    "exec": """Runs CMD only if guard allows it, in block mode whatever GUARD_MODE says. The file
is opened once, its SHA-256 is checked from that descriptor, and that same descriptor is
executed (fexecve); a #! script's interpreter is verified and executed the same way, reading
the verified script as /dev/fd/N. Where the platform has no fexecve, the file is re-hashed and
executed by path (a narrow window remains). Docs: docs/ci.md.

exit status: CMD's own once it runs; 126 denied or cannot be verified, 127 not found,
125 guard's own error. Nothing runs in those cases.

examples:
  guard exec aws s3 ls
  guard exec -- terraform apply -auto-approve
""",
    "lock": """examples:
  guard lock                       # pin the tools CI config and scripts call (discovered)
  guard lock aws jq terraform      # pin (or re-pin) these, keep the other entries
  guard lock --update              # re-pin every tool already in guard.lock
  guard lock --output - jq         # print instead of writing
""",
    "verify": """exit status: 0 every tool matches, 1 differences (listed), 2 error (bad lock).

examples:
  guard verify
  guard verify --lock ci/guard.lock --json
""",
}


EPILOG["audit"] = """Findings over the current PATH (and with --env, a venv or node_modules
tree): shadows, entry-point collisions, PATH hygiene, look-alike names, drift, interpreter
hijack, shell state. Rule ids and formats: docs/audit.md.

exit status: 0 nothing at or above --min-severity, 1 findings, 2 error.

examples:
  guard audit
  guard audit --env .venv --env ./node_modules --min-severity high
  guard audit --sarif > guard.sarif
"""
EPILOG["init"] = """Shows what OS packages vouch for (not pinned), lists everything else on
PATH by directory and provenance, and pins it after you confirm. Shadows are named and never
pinned. Re-running pins only what is new.

exit status: 0 pinned (or nothing to pin), 1 not pinned (declined, or no terminal and no
--yes), 2 error.

examples:
  guard init
  guard init --yes          # in scripts: pin without asking
"""


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")


def _json(obj: Any) -> None:
    import json

    # ensure_ascii: DEL, C1 controls (U+009B is a one-char CSI) and bidi overrides in file
    # names must not reach a terminal raw; \uXXXX is the same JSON to any parser.
    sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=True) + "\n")


def cmd_check(a: argparse.Namespace) -> int:
    from guard.decide import Context, decide
    from guard.hookquery import render_block_line

    ctx = Context()
    try:
        v = decide(a.command, ctx=ctx)
    finally:
        ctx.close()
    if not v.allowed and v.reason != "not-found":
        from guard.events import log_event

        log_event(
            ctx.loc,
            {"event": "deny", "source": "check", **v.to_json()},
            ctx.config.events_max_bytes,
        )
    if a.json:
        _json(v.to_json())
    elif v.allowed:
        _out(f"guard: allowed {v.message}")
    else:
        _out(render_block_line(v, "block").replace("guard: blocked", "guard: denied", 1))
    return EXIT_ALLOW if v.allowed else EXIT_DENY


def cmd_which(a: argparse.Namespace) -> int:
    from guard.decide import Context, decide, trust_file
    from guard.resolve import candidates
    from guard.textsafe import json_safe, safe

    ctx = Context()
    try:
        v = decide(a.command, ctx=ctx)
        rows = []
        shorts = []  # " [pip:pkg 1.0 (entry point …)]", escaped by Provenance.short()
        for i, c in enumerate(candidates(a.command, os.environ.get("PATH", ""), os.getcwd())):
            t = trust_file(ctx, c.invoked, c.real, provenance=True) if c.error is None else None
            p = t.provenance if t else None
            shorts.append(f" [{p.short()}]" if p and p.package else "")
            rows.append(
                {
                    "path": json_safe(c.invoked),
                    "real": json_safe(c.real) if c.real else None,
                    "winner": i == 0,
                    "status": t.status if t else "unreadable",
                    "detail": t.detail if t else c.error,
                    "provenance": t.provenance.to_json() if t and t.provenance else None,
                }
            )
    finally:
        ctx.close()
    if a.json:
        _json({"verdict": v.to_json(), "candidates": rows})
    else:
        if not rows:
            _out(f"{safe(a.command)}: not found on PATH")
        for r, prov in zip(rows, shorts):
            mark = "*" if r["winner"] else " "
            real = f" -> {safe(r['real'])}" if r["real"] and r["real"] != r["path"] else ""
            _out(f"{mark} {safe(r['path'])}{real}  {r['status']}{prov}")
        _out(f"verdict: {v.reason} — {v.message}")
    return EXIT_ALLOW if v.allowed or v.reason == "not-found" else EXIT_DENY


def _progress_printer() -> Callable[[int, int], None] | None:
    """Progress on a TTY only, and only once the work has taken over a second."""
    if not sys.stderr.isatty():
        return None
    import time

    start = time.monotonic()

    def show(done: int, total: int) -> None:
        if time.monotonic() - start > 1.0:
            end = "\n" if done == total else ""
            sys.stderr.write(f"\rguard: hashing {done}/{total}{end}")
            sys.stderr.flush()

    return show


def cmd_trust(a: argparse.Namespace) -> int:
    from guard.decide import Context
    from guard.textsafe import safe
    from guard.trust import dir_targets, resolve_target, trust

    ctx = Context()
    cwd = os.getcwd()
    path_env = os.environ.get("PATH", "")
    targets = [resolve_target(w, path_env, cwd) for w in a.targets]
    for d in a.dir or []:
        targets.extend(dir_targets(d, cwd))
    if not targets:
        raise GuardError("nothing to trust: name a command, a path, or --dir DIR")
    pins = trust(ctx, targets, a.note, _progress_printer())
    for p in pins:
        real = f" -> {safe(p.real)}" if p.real != p.path else ""
        _err(f"guard: trusted {safe(p.path)}{real} (sha256 {p.sha256[:16]}…)")
    return EXIT_ALLOW


def cmd_untrust(a: argparse.Namespace) -> int:
    from guard.decide import Context
    from guard.textsafe import safe
    from guard.trust import untrust

    ctx = Context()
    for p in untrust(ctx, a.targets, os.getcwd()):
        _err(f"guard: removed pin {safe(p)}")
    return EXIT_ALLOW


def cmd_list(a: argparse.Namespace) -> int:
    from guard.allowlist import load_allowlist
    from guard.paths import locations
    from guard.textsafe import json_safe, safe

    al = load_allowlist(locations(), full=True)
    pins = sorted(al.pins.values(), key=lambda p: os.fsencode(p.path))
    if a.json:
        _json([{**p.to_doc(), "path": json_safe(p.path), "real": json_safe(p.real)} for p in pins])
        return EXIT_ALLOW
    if not pins:
        _err("guard: the allowlist is empty (add with `guard trust NAME`)")
    for p in pins:
        note = f"  # {safe(p.note)}" if p.note else ""
        _out(f"{safe(p.path)}  {p.sha256[:16]}  {p.added or ''}{note}")
    return EXIT_ALLOW


def cmd_status(a: argparse.Namespace) -> int:
    from guard.decide import Context
    from guard.system import locate
    from guard.textsafe import safe

    ctx = Context()
    loc, cfg, pol = ctx.loc, ctx.config, ctx.policy
    info: dict[str, Any] = {
        "version": __version__,
        "mode": cfg.mode,
        "mode_source": cfg.source,
        "trust_os_packages": cfg.trust_os_packages,
        "config": str(loc.config_file),
        "allowlist": str(loc.allowlist_file),
        "pins": len(ctx.allowlist.pins) - (len(pol.pins) if pol else 0),  # user pins in effect
        "cache": str(loc.cache_dir),
        "events": str(loc.events_file),
        "policy": pol.describe() if pol else None,
    }
    note = locate()[1]
    if note:
        info["policy_note"] = note
    if a.json:
        _json(info)
        return EXIT_ALLOW
    if pol is not None:
        floor = pol.mode_floor or "none"
        users = "yes" if pol.allow_user_trust else "no (only the system allowlist counts)"
        info["policy"] = safe(pol.dir)
        info["mode_floor"] = floor
        info["user_trust"] = users
        info["system_pins"] = len(pol.pins)
    else:
        info["policy"] = "none"
    width = max(len(k) for k in info)
    for k, val in info.items():
        _out(f"{k.replace('_', ' '):<{width}}  {val}")
    return EXIT_ALLOW


def cmd_recover(a: argparse.Namespace) -> int:
    from guard.paths import locations
    from guard.recover import recover

    for line in recover(locations()):
        _err(f"guard: {line}")
    return EXIT_ALLOW


def cmd_hook(a: argparse.Namespace) -> int:
    from guard.hookfiles import render, render_to_file
    from guard.paths import locations

    if a.path:
        _out(str(render_to_file(a.shell, locations())))
    else:
        sys.stdout.write(render(a.shell))
    return EXIT_ALLOW


def cmd_query(a: argparse.Namespace) -> int:
    from guard.hookquery import query

    if getattr(a, "shadows", False):
        from guard.hookquery import shadows

        sys.stdout.write(shadows(a.shell, want_mode=getattr(a, "want_mode", False)))
        return EXIT_ALLOW
    hashed = dict(a.hashed or [])
    want_mode = getattr(a, "want_mode", False)
    sys.stdout.write(
        query(a.shell, a.words, hashed, interactive=a.interactive, want_mode=want_mode)
    )
    return EXIT_ALLOW


def cmd_exec(a: argparse.Namespace) -> int:
    from guard.execute import main as exec_main

    return exec_main(a.argv)


def cmd_lock(a: argparse.Namespace) -> int:
    from guard.decide import Context
    from guard.lockfile import LOCK_FILE, build_lock, dump, read_lock, write_lock
    from guard.textsafe import safe

    root = a.repo or os.getcwd()
    out = a.output or os.path.join(root, LOCK_FILE)
    names = list(a.names)
    existing = None
    if out != "-" and (names or a.update) and os.path.lexists(out):
        existing = read_lock(out)
    if a.update:
        if existing is None:
            raise GuardError(f"--update: {safe(out)} does not exist; run `guard lock` first")
        names = names or sorted(existing.tools)
    ctx = Context()
    try:
        built = build_lock(ctx, names, root, os.environ.get("PATH", ""), os.getcwd(), existing)
    finally:
        ctx.close()
    for p in built.problems:
        _err(f"guard: warning: {p}")
    for word, reason, files in built.skipped:
        where = f" (in {safe(', '.join(files[:3]))}{', …' if len(files) > 3 else ''})"
        _err(f"guard: skipped {safe(word)}: {reason}{where if files else ''}")
    for name in built.pinned:
        e = built.lock.tools[name]
        real = f" -> {safe(e.real)}" if e.real != e.path else ""
        note = "" if e.status in ("pinned", "os-package") else f" ({e.status} here: review it)"
        _err(f"guard: locked {safe(name)} = {safe(e.path)}{real} [{e.provenance}]{note}")
    if out == "-":
        sys.stdout.buffer.write(dump(built.lock))
        return EXIT_ALLOW
    write_lock(out, built.lock)
    n = len(built.lock.tools)
    _err(f"guard: wrote {safe(out)} ({n} tool{'s' if n != 1 else ''}); review it, then commit it")
    return EXIT_ALLOW


def cmd_verify(a: argparse.Namespace) -> int:
    from guard.decide import Context
    from guard.lockfile import LOCK_FILE, read_lock, verify
    from guard.textsafe import json_safe, safe

    path = a.lock or LOCK_FILE
    try:
        lock = read_lock(path)
        ctx = Context()
        try:
            reports = verify(ctx, lock, os.environ.get("PATH", ""), os.getcwd())
        finally:
            ctx.close()
    except GuardError as e:
        if a.json:
            _json({"lock": json_safe(path), "ok": False, "error": str(e)})
        raise
    bad = [r for r in reports if not r.ok]
    if a.json:
        _json(
            {
                "lock": json_safe(path),
                "ok": not bad,
                "checked": len(reports),
                "changed": len(bad),
                "tools": [r.to_json() for r in reports],
            }
        )
    elif not bad:
        _out(f"guard verify: all {len(reports)} tools in {safe(path)} match this machine")
    else:
        _out(f"guard verify: {len(bad)} of {len(reports)} tools in {safe(path)} differ here:")
        for r in bad:
            for c in r.changes:
                _out(f"  {c.message}")
        names = " ".join(safe(r.name) for r in bad)
        _out(f"if these changes are expected, re-pin them: guard lock {names}")
    return EXIT_DENY if bad else EXIT_ALLOW


def cmd_audit(a: argparse.Namespace) -> int:
    from guard.audit.cli import main as audit_main

    fmt = "sarif" if a.sarif else "json" if a.json else "text"
    return audit_main(fmt, a.min_severity, a.env, a.shell_state)


def cmd_init(a: argparse.Namespace) -> int:
    from guard.init import main as init_main

    return init_main(yes=a.yes)


def build_parser() -> argparse.ArgumentParser:
    import argparse

    p = argparse.ArgumentParser(
        prog="guard",
        description="Stop command-jacking: check the file a command resolves to before it runs.",
        epilog="exit codes: 0 allowed / ok, 1 denied / findings, 2 error. Docs: docs/cli.md",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"guard {__version__}")
    p.add_argument("--verbose", action="store_true", help="show tracebacks on errors")
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND")

    def add(name: str, help: str, fn: Callable[[argparse.Namespace], int]) -> Any:
        sp = sub.add_parser(
            name,
            help=help,
            description=help,
            epilog=EPILOG.get(name),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sp.set_defaults(fn=fn)
        return sp

    sp = add("check", "decide whether a command may run", cmd_check)
    sp.add_argument("command", help="a command name (looked up on PATH) or a path")
    sp.add_argument("--json", action="store_true", help="print the verdict as JSON")

    sp = add("which", "every candidate on PATH with its verdict (an annotated which -a)", cmd_which)
    sp.add_argument("command")
    sp.add_argument("-j", "--json", action="store_true")

    sp = add("trust", "pin files by SHA-256 so they may run", cmd_trust)
    sp.add_argument("targets", nargs="*", metavar="NAME|PATH")
    sp.add_argument("--dir", action="append", metavar="DIR", help="every executable in DIR")
    sp.add_argument("--note", help="why you trust it (kept in the allowlist)")

    sp = add("untrust", "remove pins", cmd_untrust)
    sp.add_argument("targets", nargs="+", metavar="NAME|PATH")

    sp = add("list", "show the allowlist", cmd_list)
    sp.add_argument("--json", action="store_true")

    sp = add("status", "where guard keeps things, the mode, counts", cmd_status)
    sp.add_argument("--json", action="store_true")

    sp = add("recover", "restore the allowlist from its last good copy", cmd_recover)

    sp = add("hook", "print the shell hook to eval in an rc file", cmd_hook)
    sp.add_argument("shell", choices=["bash", "zsh", "fish"])
    sp.add_argument("--path", action="store_true", help="render to a file and print its path")

    sp = add("exec", "run a command only if guard allows it, exactly the file checked", cmd_exec)
    sp.add_argument("argv", nargs=argparse.REMAINDER, metavar="[--] CMD [ARG...]")

    sp = add("lock", "write guard.lock: pin the tools a repository's CI runs", cmd_lock)
    sp.add_argument("names", nargs="*", metavar="NAME", help="tools to pin (default: discover)")
    sp.add_argument("--output", "-o", metavar="FILE", help="default: guard.lock ('-': stdout)")
    sp.add_argument("--repo", metavar="DIR", help="repository to scan (default: current dir)")
    sp.add_argument("--update", action="store_true", help="re-pin the tools already locked")

    sp = add("verify", "check this machine against guard.lock", cmd_verify)
    sp.add_argument("--lock", metavar="FILE", help="default: ./guard.lock")
    sp.add_argument("--json", action="store_true")

    sp = add("audit", "find planted, shadowing and look-alike commands on PATH", cmd_audit)
    fmt = sp.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="findings as JSON")
    fmt.add_argument("--sarif", action="store_true", help="findings as SARIF 2.1.0")
    sp.add_argument(
        "--min-severity",
        choices=["low", "medium", "high", "critical"],
        default="low",
        metavar="LEVEL",
        help="report only findings at or above LEVEL: low, medium, high, critical",
    )
    sp.add_argument("--env", action="append", metavar="DIR", help="also scan a venv/node_modules")
    sp.add_argument("--shell-state", metavar="FILE", help="functions/aliases/hash JSON from a hook")

    sp = add("init", "first-run baseline: show what is on PATH, then pin it", cmd_init)
    sp.add_argument("--yes", action="store_true", help="pin without asking")

    sp = sub.add_parser("_query")  # internal: the hooks' protocol, docs/hook-protocol.md
    sp.set_defaults(fn=cmd_query)
    sp.add_argument("--shell", required=True, choices=["bash", "zsh", "fish"])
    sp.add_argument("--interactive", action="store_true")
    sp.add_argument("--hashed", nargs=2, action="append", metavar=("WORD", "PATH"))
    sp.add_argument("--shadows", action="store_true", help="list names whose PATH winner is denied")
    sp.add_argument("--want-mode", action="store_true", help="first line: __guard_mode MODE")
    sp.add_argument("words", nargs="*")
    return p


class _Args:
    """A Namespace stand-in for the hot paths that skip argparse."""

    def __init__(self, **kw: Any) -> None:
        self.__dict__.update(kw)


def _fast_args(argv: list[str]) -> _Args | None:
    """Parse the two commands the hooks and scripts run constantly without argparse, which
    alone costs ~15 ms to import and set up. Anything unusual falls back to argparse."""
    if len(argv) in (2, 3) and argv[0] == "check":
        rest = argv[1:]
        js = "--json" in rest
        words = [w for w in rest if w != "--json"]
        if len(words) == 1 and not words[0].startswith("-") and len(rest) == len(words) + js:
            return _Args(fn=cmd_check, command=words[0], json=js, verbose=False)
    if argv and argv[0] == "_query":
        a = _Args(fn=cmd_query, shell=None, interactive=False, hashed=[], words=[], verbose=False)
        i = 1
        while i < len(argv):
            w = argv[i]
            if w == "--":
                a.words.extend(argv[i + 1 :])
                break
            if w == "--shell" and i + 1 < len(argv):
                a.shell = argv[i + 1]
                i += 2
            elif w == "--interactive":
                a.interactive = True
                i += 1
            elif w == "--shadows":
                a.shadows = True
                i += 1
            elif w == "--want-mode":
                a.want_mode = True
                i += 1
            elif w == "--hashed" and i + 2 < len(argv):
                a.hashed.append((argv[i + 1], argv[i + 2]))
                i += 3
            else:
                return None
        if a.shell in ("bash", "zsh", "fish"):
            return a
    return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    a: Any = _fast_args(argv)
    if a is None:
        a = build_parser().parse_args(argv)
    if not getattr(a, "fn", None):
        build_parser().print_help()
        return EXIT_ERROR
    try:
        return a.fn(a)
    except GuardError as e:
        _err(f"guard: error: {e}")
        return e.exit_code
    except KeyboardInterrupt:
        _err("guard: interrupted")
        return 130
    except BrokenPipeError:
        return EXIT_ERROR
    except Exception as e:  # noqa: BLE001 - last resort: never a traceback for the user
        if a.verbose:
            raise
        from guard.textsafe import safe

        _err(f"guard: internal error: {safe(repr(e))} (run with --verbose for details)")
        return EXIT_ERROR
