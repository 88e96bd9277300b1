"""PATH hygiene: entries that let someone else decide what a command name runs.

A relative entry (``.``, empty, ``bin``, a literal ``~``) follows the current directory, so any
checkout or download dir you ``cd`` into gets to define ``ls``. A missing entry is a seat
anyone who can create it takes. A directory others can write (or rename, through a writable
parent), or that another user owns, is theirs to plant in. A directory you can write ahead of
the system's lets any process running as you - a package's install step, a build script -
take over a system command for every later shell.
"""

from __future__ import annotations

import os
import stat

from guard.audit.findings import Finding, Rule
from guard.audit.fixes import q
from guard.audit.scan import Scan, ScanDir
from guard.textsafe import safe

DOT = Rule(
    "path.dot",
    "PATH contains the current directory '.'",
    "high",
    "Whatever directory you are in supplies commands: a cloned repository or an unpacked "
    "archive holding an executable `ls` or `git` runs when you type that name. Remove `.`.",
)
EMPTY = Rule(
    "path.empty",
    "PATH has an empty entry (it means the current directory)",
    "high",
    "A leading or trailing ':' or '::' in PATH is read as '.', the current directory. Remove it.",
)
RELATIVE = Rule(
    "path.relative",
    "PATH has a relative entry (it follows the current directory)",
    "high",
    "A relative entry such as `bin` or `node_modules/.bin` is looked up from wherever you are, "
    "so each directory you enter can supply commands. Use absolute paths.",
)
TILDE = Rule(
    "path.tilde",
    "PATH has a literal '~' entry",
    "medium",
    "The '~' was not expanded when PATH was set (it was quoted). bash expands it when "
    "searching, but everything else (execvp, env, sudo, xargs, Python's subprocess) treats "
    "it as a directory named '~' under the current directory. Write $HOME instead.",
)
MISSING = Rule(
    "path.missing",
    "PATH entry does not exist",
    "medium",
    "Nothing is there now, so whoever can create the directory decides what its names run - "
    "and guard's verdicts today say nothing about it. Remove the entry or create the "
    "directory yourself.",
)
WRITABLE = Rule(
    "path.writable",
    "PATH directory is writable by group or others",
    "high",
    "Other users (or a parent directory they can write, which lets them replace this one) "
    "can plant commands in it. chmod go-w it, or drop it from PATH.",
)
FOREIGN = Rule(
    "path.foreign-owner",
    "PATH directory is owned by another user",
    "high",
    "A directory owned by a user other than you and root is under that user's control: "
    "they can add any command to your PATH. chown it or drop it from PATH.",
)
USER_FIRST = Rule(
    "path.user-before-system",
    "PATH directory you can write comes before system directories",
    "medium",
    "Anything running as you (an install script, a build step, a compromised tool) can drop "
    "`sudo` or `ls` here and take over the system command for every later shell. Put user "
    "directories after the system ones, or let guard pin what is in them.",
)

RULES = [DOT, EMPTY, RELATIVE, TILDE, MISSING, WRITABLE, FOREIGN, USER_FIRST]


def _label(d: ScanDir) -> str:
    return safe(d.entry) if d.entry else "(empty)"


def _weak_ancestor(path: str) -> tuple[str, str] | None:
    """The nearest ancestor someone else could use to swap ``path`` out: (dir, why)."""
    uid = os.geteuid()
    cur = os.path.dirname(path.rstrip("/"))
    while cur and cur != "/":
        try:
            st = os.stat(cur)
        except OSError:
            return None
        if st.st_mode & 0o022 and not st.st_mode & stat.S_ISVTX:
            return cur, f"is writable by group or others (mode {stat.S_IMODE(st.st_mode):o})"
        if st.st_uid not in (0, uid):
            return cur, f"is owned by uid {st.st_uid}"
        cur = os.path.dirname(cur)
    return None


def _private_group(path: str) -> bool:
    """A group-writable dir whose group is the owner's own user-private group (Debian's
    umask 002 setups): nobody else is in it, so group-write grants nobody else anything."""
    import grp
    import pwd

    try:
        st = os.stat(path)
        g = grp.getgrgid(st.st_gid)
        owner = pwd.getpwuid(st.st_uid)
    except (OSError, KeyError):
        return False
    return g.gr_name == owner.pw_name and set(g.gr_mem) <= {owner.pw_name} and st.st_gid != 0


def _creatable_by_others(path: str) -> str | None:
    """When a missing dir's nearest existing ancestor is writable by others, say so."""
    cur = path
    while cur and cur != "/":
        cur = os.path.dirname(cur)
        try:
            st = os.stat(cur)
        except OSError:
            continue
        if st.st_mode & 0o002 or (st.st_mode & 0o020 and st.st_gid != 0):
            return cur
        return None
    return None


def check(scan: Scan) -> list[Finding]:
    out: list[Finding] = []
    uid = os.geteuid()
    system_after: list[ScanDir | None] = [None] * len(scan.path_dirs)
    nxt: ScanDir | None = None
    for i in range(len(scan.path_dirs) - 1, -1, -1):
        system_after[i] = nxt
        d = scan.path_dirs[i]
        if d.system:
            nxt = d
    seen_bad: set[str] = set()
    for i, d in enumerate(scan.path_dirs):
        e = d.entry
        where = f"PATH entry {i + 1}"
        if e == "":
            out.append(
                Finding(
                    EMPTY.id,
                    EMPTY.severity,
                    f"{where} is empty: the shell searches the current directory there",
                    [d.path],
                    fix="remove the empty entry (a leading/trailing ':' or '::') from PATH",
                )
            )
            continue
        if e in (".", "./"):
            out.append(
                Finding(
                    DOT.id,
                    DOT.severity,
                    f"{where} is '.': the current directory supplies commands",
                    [d.path],
                    fix="remove '.' from PATH; run local scripts as ./NAME",
                )
            )
            continue
        if e.startswith("~"):
            out.append(
                Finding(
                    TILDE.id,
                    TILDE.severity,
                    f"{where} is the literal {safe(e)!r}: only bash expands it; other programs "
                    f"search {safe(d.path)}",
                    [d.path],
                    fix=f"set PATH with $HOME{safe(e[1:])} (unquoted) instead of {safe(e)!r}",
                )
            )
            continue
        if not e.startswith("/"):
            out.append(
                Finding(
                    RELATIVE.id,
                    RELATIVE.severity,
                    f"{where} {safe(e)!r} is relative: it means {safe(d.path)} now and another "
                    f"directory after each cd",
                    [d.path],
                    fix=f"replace {safe(e)!r} with an absolute path, or remove it",
                )
            )
            continue
        if not d.exists or not d.is_dir:
            what = "does not exist" if not d.exists else "is not a directory"
            sev = MISSING.severity
            extra = ""
            other = _creatable_by_others(d.path) if not d.exists else None
            if other:
                sev = "high"
                extra = f"; {safe(other)} is writable by others, so they can create it"
            out.append(
                Finding(
                    MISSING.id,
                    sev,
                    f"{where} {q(d.path)} {what}{extra}",
                    [d.path],
                    fix=f"remove {q(d.path)} from PATH, or create it yourself (mkdir -p) and keep "
                    f"it private",
                )
            )
            continue
        key = d.real or d.path
        if key in seen_bad:
            continue
        if d.mode & 0o002 or (d.mode & 0o020 and not _private_group(d.path)):
            who = "everyone" if d.mode & 0o002 else "its group"
            sticky = " (sticky: others cannot delete your files, but can add new names)"
            out.append(
                Finding(
                    WRITABLE.id,
                    WRITABLE.severity,
                    f"{where} {q(d.path)} is writable by {who} (mode {d.mode:o})"
                    + (sticky if d.mode & stat.S_ISVTX else ""),
                    [d.path],
                    fix=f"chmod go-w {q(d.path)}, or remove it from PATH",
                )
            )
            seen_bad.add(key)
        else:
            weak = _weak_ancestor(d.real or d.path)
            if weak is not None:
                out.append(
                    Finding(
                        WRITABLE.id,
                        WRITABLE.severity,
                        f"{where} {q(d.path)}: its parent {q(weak[0])} {weak[1]}, so it can "
                        f"be replaced",
                        [d.path, weak[0]],
                        fix=f"chmod go-w {q(weak[0])} (or chown it), or move the directory",
                    )
                )
                seen_bad.add(key)
        if d.uid is not None and d.uid not in (0, uid):
            out.append(
                Finding(
                    FOREIGN.id,
                    FOREIGN.severity,
                    f"{where} {q(d.path)} is owned by uid {d.uid}, not you (uid {uid}) or root",
                    [d.path],
                    fix=f"chown {uid} {q(d.path)} after checking its contents, or remove it "
                    f"from PATH",
                )
            )
            seen_bad.add(key)
        sysdir = system_after[i]
        if d.user_writable and sysdir is not None and d.duplicate_of is None:
            out.append(
                Finding(
                    USER_FIRST.id,
                    USER_FIRST.severity,
                    f"{where} {q(d.path)} is writable by you and comes before the system "
                    f"directory {q(sysdir.path)}: a file dropped there takes over a system "
                    f"command",
                    [d.path, sysdir.path],
                    fix=f"move {q(d.path)} after {q(sysdir.path)} in PATH, or keep what is in "
                    f"it pinned (guard init / guard trust --dir)",
                )
            )
    return out
