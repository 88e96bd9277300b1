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
    "hook": """examples:
  eval "$(guard hook bash)"        # in ~/.bashrc
  eval "$(guard hook zsh)"         # in ~/.zshrc
  guard hook fish | source         # in ~/.config/fish/conf.d/guard.fish
  source "$(guard hook --path bash)"   # render once; the rc then starts no Python
""",
}


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")


def _json(obj: Any) -> None:
    import json

    sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def cmd_check(a: argparse.Namespace) -> int:
    from guard.decide import Context, decide
    from guard.hookquery import render_block_line

    ctx = Context()
    try:
        v = decide(a.command, ctx=ctx)
    finally:
        ctx.close()
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
        for i, c in enumerate(candidates(a.command, os.environ.get("PATH", ""), os.getcwd())):
            t = trust_file(ctx, c.invoked, c.real) if c.error is None else None
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
        for r in rows:
            mark = "*" if r["winner"] else " "
            prov = (
                f" [{r['provenance']['kind']}:{r['provenance']['package']}]"
                if (r["provenance"] and r["provenance"].get("package"))
                else ""
            )
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
    from guard.allowlist import load_allowlist
    from guard.config import load_config
    from guard.paths import locations

    loc = locations()
    cfg = load_config(loc)
    al = load_allowlist(loc)
    info = {
        "version": __version__,
        "mode": cfg.mode,
        "mode_source": cfg.source,
        "trust_os_packages": cfg.trust_os_packages,
        "config": str(loc.config_file),
        "allowlist": str(loc.allowlist_file),
        "pins": len(al.pins),
        "cache": str(loc.cache_dir),
        "events": str(loc.events_file),
    }
    if a.json:
        _json(info)
    else:
        width = max(len(k) for k in info)
        for k, val in info.items():
            _out(f"{k.replace('_', ' '):<{width}}  {val}")
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

    hashed = dict(a.hashed or [])
    sys.stdout.write(query(a.shell, a.words, hashed, interactive=a.interactive))
    return EXIT_ALLOW


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

    sp = add("hook", "print the shell hook to eval in an rc file", cmd_hook)
    sp.add_argument("shell", choices=["bash", "zsh", "fish"])
    sp.add_argument("--path", action="store_true", help="render to a file and print its path")

    sp = sub.add_parser("_query")  # internal: the hooks' protocol, docs/hook-protocol.md
    sp.set_defaults(fn=cmd_query)
    sp.add_argument("--shell", required=True, choices=["bash", "zsh", "fish"])
    sp.add_argument("--interactive", action="store_true")
    sp.add_argument("--hashed", nargs=2, action="append", metavar=("WORD", "PATH"))
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
