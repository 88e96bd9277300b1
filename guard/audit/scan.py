"""The audit's view of the machine: PATH directories, --env directories, their executables,
and memoised answers from the core (trust, verdicts, provenance) so each rule asks cheaply.

Nothing here decides trust: ``trust()`` is ``guard.decide.trust_file`` and ``verdict()`` is
``guard.decide.decide``; this module only lists files and remembers answers.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from typing import Callable

from guard.decide import Context, FileTrust, decide, trust_file
from guard.errors import GuardError
from guard.fsutil import check_private_file
from guard.model import Provenance, Verdict
from guard.resolve import path_entries
from guard.textsafe import safe

# Where an OS installs its commands. A PATH dir counts as a *system* dir when its real path is
# under one of these, it is owned by root and nobody but root can write it.
SYSTEM_ROOTS = ("/usr", "/bin", "/sbin", "/lib", "/opt", "/snap", "/nix/store", "/gnu/store")

Progress = Callable[[str, int, int], None]


def is_under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


@dataclass
class Exe:
    """One executable directly in a scanned directory."""

    name: str
    invoked: str  # directory path + name, as the shell would exec it
    real: str | None  # symlinks followed; None when dangling or a loop
    dir: ScanDir


@dataclass
class ScanDir:
    """A PATH entry (or an --env bin dir) and what lives in it."""

    entry: str  # as written in PATH ("" for an empty entry) or as given to --env
    path: str  # absolute (relative entries joined to the cwd)
    order: int  # position in PATH; --env dirs come after every PATH dir
    on_path: bool
    real: str | None = None
    exists: bool = False
    is_dir: bool = False
    uid: int | None = None
    mode: int = 0
    system: bool = False
    user_writable: bool = False
    duplicate_of: ScanDir | None = None  # an earlier PATH entry that is the same directory
    exes: dict[str, Exe] = field(default_factory=dict)


def _classify(d: ScanDir) -> None:
    try:
        st = os.stat(d.path)
    except OSError:
        return
    d.exists = True
    d.is_dir = stat.S_ISDIR(st.st_mode)
    d.uid, d.mode = st.st_uid, stat.S_IMODE(st.st_mode)
    d.real = os.path.realpath(d.path)
    d.system = (
        d.is_dir
        and st.st_uid == 0
        and not st.st_mode & 0o022
        and any(is_under(d.real, r) for r in SYSTEM_ROOTS)
    )
    d.user_writable = d.is_dir and not d.system and os.access(d.path, os.W_OK)


def _list(d: ScanDir) -> None:
    """Every name the shell's PATH search would accept here: not a directory, executable."""
    if not d.is_dir:
        return
    try:
        it = os.scandir(d.path)
    except OSError:
        return
    with it:
        for e in it:
            p = os.path.join(d.path, e.name)
            try:
                if e.is_dir():
                    continue
            except OSError:
                pass
            if not os.access(p, os.X_OK):
                continue
            try:
                is_link = e.is_symlink()
            except OSError:
                is_link = True
            if is_link:
                try:
                    os.stat(p)
                    real: str | None = os.path.realpath(p)
                except OSError:
                    real = None
            else:
                real = os.path.join(d.real or d.path, e.name)
            d.exes[e.name] = Exe(e.name, p, real, d)


def env_bin_dirs(target: str, cwd: str) -> list[str]:
    """The bin directories of one --env argument: a venv (``bin/``), a node_modules tree
    (``.bin/``), a project holding ``node_modules/.bin``, or a bin directory itself."""
    root = target if target.startswith("/") else os.path.normpath(os.path.join(cwd, target))
    if not os.path.isdir(root):
        raise GuardError(f"--env {safe(target)}: not a directory")
    found = [
        os.path.join(root, sub)
        for sub in ("bin", ".bin", os.path.join("node_modules", ".bin"))
        if os.path.isdir(os.path.join(root, sub))
    ]
    if found:
        return found
    with os.scandir(root) as it:
        if any(e.is_file() and os.access(e.path, os.X_OK) for e in it):
            return [root]
    raise GuardError(
        f"--env {safe(target)}: no bin/, .bin/ or node_modules/.bin/ and no executables in it"
    )


def normalize_package(kind: str, name: str) -> str:
    """``kind:name`` with pip names PEP 503-normalised (``Foo_Bar`` == ``foo-bar``)."""
    if kind == "pip":
        name = "-".join(n for n in name.lower().replace("_", "-").replace(".", "-").split("-"))
    return f"{kind}:{name}"


class CommandList:
    """Well-known command names and, for some, the packages that legitimately provide them."""

    def __init__(self) -> None:
        self.names: set[str] = set()
        self.providers: dict[str, set[str]] = {}

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def expected(self, name: str, kind: str, package: str | None) -> bool:
        """Is ``kind:package`` a listed, legitimate provider of ``name``?"""
        return bool(package) and normalize_package(kind, package or "") in self.providers.get(
            name, ()
        )

    def add_text(self, text: str) -> None:
        for line in text.splitlines():
            words = line.split("#", 1)[0].split()
            if not words or "/" in words[0]:
                continue
            self.names.add(words[0])
            for prov in words[1:]:
                kind, sep, pkg = prov.partition(":")
                if sep and pkg:
                    self.providers.setdefault(words[0], set()).add(normalize_package(kind, pkg))


def well_known_commands(config_dir: str) -> CommandList:
    """The shipped list (guard/data/commands.txt) plus the user's own ``commands.txt`` in the
    config dir: names a planted entry point would most like to take."""
    import guard

    out = CommandList()
    shipped = os.path.join(os.path.dirname(guard.__file__), "data", "commands.txt")
    mine = os.path.join(config_dir, "commands.txt")
    check_private_file(mine, "commands list")  # it can silence collisions: must be yours
    for path in (shipped, mine):
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read(1 << 20)
        except FileNotFoundError:
            continue
        except (OSError, UnicodeDecodeError) as e:
            raise GuardError(f"cannot read {safe(path)}: {e}") from None
        out.add_text(text)
    return out


class Scan:
    """Everything the rules look at, gathered once."""

    def __init__(
        self,
        ctx: Context,
        path_env: str,
        cwd: str,
        envs: list[str] | None = None,
        shell_state: dict | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.ctx = ctx
        self.path_env = path_env
        self.cwd = cwd
        self.shell_state = shell_state
        self.progress = progress
        self.well_known = well_known_commands(ctx.loc.config_dir)
        self.entries = path_entries(path_env) if path_env else []
        self.raw_entries = path_env.split(":") if path_env else []
        self.path_dirs: list[ScanDir] = []
        by_real: dict[str, ScanDir] = {}
        for i, raw in enumerate(self.raw_entries):
            e = raw or "."
            d = ScanDir(raw, e if e.startswith("/") else os.path.join(cwd, e), i, True)
            _classify(d)
            if d.real is not None and d.real in by_real:
                d.duplicate_of = by_real[d.real]
            else:
                if d.real is not None:
                    by_real[d.real] = d
                _list(d)
            self.path_dirs.append(d)
        self.env_dirs: list[ScanDir] = []
        for target in envs or []:
            for b in env_bin_dirs(target, cwd):
                d = ScanDir(target, b, len(self.raw_entries) + len(self.env_dirs), False)
                _classify(d)
                if d.real is not None and d.real in by_real:
                    d.duplicate_of = by_real[d.real]  # already scanned as a PATH dir
                else:
                    if d.real is not None:
                        by_real[d.real] = d
                    _list(d)
                self.env_dirs.append(d)
        self._trust: dict[str, FileTrust] = {}
        self._prov: dict[str, Provenance] = {}
        self._verdict: dict[str, Verdict] = {}

    # -- what there is ------------------------------------------------------------------------
    def scanned_dirs(self) -> list[ScanDir]:
        """PATH dirs then --env dirs, each real directory once."""
        return [d for d in self.path_dirs + self.env_dirs if d.duplicate_of is None]

    def exes(self) -> list[Exe]:
        return [x for d in self.scanned_dirs() for x in d.exes.values()]

    def count(self) -> int:
        return sum(len(d.exes) for d in self.scanned_dirs())

    def on_path(self, name: str) -> list[Exe]:
        """Every PATH file called ``name``, in PATH order, one per real directory."""
        return [d.exes[name] for d in self.path_dirs if d.duplicate_of is None and name in d.exes]

    def winner(self, name: str) -> Exe | None:
        hits = self.on_path(name)
        return hits[0] if hits else None

    # -- memoised answers from the core ------------------------------------------------------
    def trust(self, invoked: str, real: str | None) -> FileTrust:
        t = self._trust.get(invoked)
        if t is None:
            t = trust_file(self.ctx, invoked, real)
            self._trust[invoked] = t
        return t

    def verdict(self, word: str) -> Verdict:
        """The one decision (guard.decide) for ``word`` on the audited PATH."""
        v = self._verdict.get(word)
        if v is None:
            v = decide(word, self.path_env, self.cwd, ctx=self.ctx)
            self._verdict[word] = v
        return v

    def provenance(self, invoked: str, real: str | None) -> Provenance:
        """Where the file came from. OS-package evidence comes from the trust check already
        made (cached digests); for anything else guard.provenance.lookup names the pip, npm
        or Homebrew package, reusing that check's SHA-256 for pip's RECORD."""
        p = self._prov.get(invoked)
        if p is not None:
            return p
        t = self.trust(invoked, real) if real is not None else None
        if t is not None and t.provenance is not None:
            p = t.provenance
        else:
            from guard.provenance.lookup import provenance_of

            p = provenance_of(invoked, real, osdb=None, sha256=t.sha256 if t else None)
        self._prov[invoked] = p
        return p

    def os_owned(self, real: str | None) -> bool:
        """Cheap: is the real file listed by the OS package DB (no hashing)?"""
        osdb = self.ctx.osdb
        return real is not None and osdb is not None and osdb.owner(real) is not None

    def tick(self, phase: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(phase, done, total)
