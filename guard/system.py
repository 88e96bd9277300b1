"""The system policy: ``/etc/guard/policy.yaml`` and ``/etc/guard/allowlist.d/*.yaml``.

What a security team sets for every user of a machine. It can only tighten: a mode floor
(users cannot go below it), ``allow_user_trust: false`` (the system allowlist is the only
one), ``trust_os_packages: false``, and system pins, which win over a user's pin of the same
file. Format and precedence: docs/cli.md, "System policy".

It counts only if nobody but root could have written it: every directory from ``/`` down,
and every file, owned by root and not writable by group or others — along the path as given
and along its resolved path. A policy that exists but fails that test is an error (exit 2),
not skipped: skipping would silently drop the floor an administrator set. ``GUARD_SYSTEM_DIR``
moves the location (tests, trying a policy out) only when that directory passes the same test
and ``/etc/guard`` does not exist, so it can never switch an installed policy off.

This runs on every check. With no ``/etc/guard`` it costs one ``lstat``; with one, a few
``lstat`` calls, reading the (small) files, and a compact per-user index keyed by their
fingerprint, so YAML is parsed only when a file changed (as in yamlstore).
"""

from __future__ import annotations

import os
import stat

from guard.errors import ConfigError, GuardError
from guard.model import Mode
from guard.textsafe import safe

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~4 ms per check

if TYPE_CHECKING:
    from typing import Any

    from guard.allowlist import Allowlist, Pin
    from guard.config import Config
    from guard.paths import Locations

DEFAULT_DIR = "/etc/guard"
ENV = "GUARD_SYSTEM_DIR"
POLICY = "policy.yaml"
PINS_DIR = "allowlist.d"
STRICTNESS = {Mode.MONITOR: 0, Mode.WARN: 1, Mode.BLOCK: 2}
_KEYS: dict[str, type] = {
    "version": int,
    "mode_floor": str,
    "allow_user_trust": bool,
    "trust_os_packages": bool,
}
_INDEX_MAGIC = b"guard-system-index 1 "


class Policy:
    """A loaded system policy; ``None`` fields set nothing."""

    __slots__ = (
        "dir",
        "files",
        "mode_floor",
        "allow_user_trust",
        "trust_os_packages",
        "pins",
        "pin_files",
        "fingerprint",
    )

    def __init__(self, directory: str, files: list[str], fingerprint: str) -> None:
        self.dir = directory
        self.files = files  # every file read, in order: policy.yaml, then allowlist.d/*.yaml
        self.mode_floor: str | None = None
        self.allow_user_trust = True
        self.trust_os_packages: bool | None = None
        self.pins: dict[str, Pin] = {}
        self.pin_files: dict[str, str] = {}  # pin path -> the allowlist.d file that set it
        self.fingerprint = fingerprint

    @property
    def policy_file(self) -> str:
        return os.path.join(self.dir, POLICY)

    @property
    def pins_dir(self) -> str:
        return os.path.join(self.dir, PINS_DIR)

    @property
    def watch(self) -> list[str]:
        """What the shell hooks compare to their stamp: a file added, removed or edited."""
        w = [self.dir]
        if os.path.isdir(self.pins_dir):
            w.append(self.pins_dir)
        return w + self.files

    def claim(self, path: str, real: str | None) -> Pin | None:
        """The system pin that governs this file (by its path or its real path), if any."""
        pin = self.pins.get(path)
        if pin is not None:
            return pin
        for p in self.pins.values():
            if path in (p.path, p.real) or (real is not None and real in (p.path, p.real)):
                return p
        return None

    def apply(self, config: Config, user: Allowlist | None) -> Allowlist:
        """Tighten ``config`` in place; return the allowlist decisions use.

        A user pin counts only when user trust is allowed and the system pins nothing at its
        path or real path: for a file the system names, only the system's pin counts."""
        from guard.allowlist import Allowlist

        floor = self.mode_floor
        if floor is not None and STRICTNESS[config.mode] < STRICTNESS[floor]:
            config.mode = floor
            config.source = "policy"
        if self.trust_os_packages is False:
            config.trust_os_packages = False
        if not self.allow_user_trust:
            config.prompt_new_commands = False  # nothing may be trusted on the spot
        pins: dict[str, Pin] = {}
        if user is not None and self.allow_user_trust:
            claimed = set(self.pins)
            claimed.update(p.real for p in self.pins.values())
            for k, p in user.pins.items():
                if k not in claimed and p.real not in claimed:
                    pins[k] = p
        pins.update(self.pins)
        user_fp = user.fingerprint if user is not None else None
        return Allowlist(pins, f"{user_fp}+{self.fingerprint}")

    def describe(self) -> dict[str, Any]:
        return {
            "dir": self.dir,
            "files": self.files,
            "mode_floor": self.mode_floor,
            "allow_user_trust": self.allow_user_trust,
            "trust_os_packages": self.trust_os_packages,
            "pins": len(self.pins),
        }


def _why_not_root_only(st: os.stat_result, link_ok: bool = False) -> str | None:
    if st.st_uid != 0:
        return f"owned by uid {st.st_uid}, not root"
    if link_ok and stat.S_ISLNK(st.st_mode):
        return None  # a link's own mode bits mean nothing; its directory and target count
    if st.st_mode & 0o022:
        return f"writable by group or others (mode {stat.S_IMODE(st.st_mode):o})"
    return None


def root_only(path: str) -> str | None:
    """Why someone other than root could change what ``path`` names; None if nobody could.

    Checks every directory from ``/`` down to ``path`` and ``path`` itself, both as given
    (links seen as links) and after resolving links, so neither a link nor its target can be
    swapped by anyone but root. A sticky world-writable directory such as /tmp fails: its
    users can create names in it."""
    if not path.startswith("/"):
        return f"{safe(path)} is not an absolute path"
    given = os.path.normpath(path)
    try:
        resolved = os.path.realpath(given)
    except (OSError, ValueError) as e:
        return f"cannot resolve {safe(path)}: {e}"
    for p, follow in ((given, False), (resolved, True)):
        cur = p
        while True:
            try:
                st = os.stat(cur) if follow else os.lstat(cur)
            except OSError as e:
                return f"{safe(cur)}: {e.strerror}"
            why = _why_not_root_only(st, link_ok=not follow)
            if why is not None:
                return f"{safe(cur)} is {why}"
            if cur == "/":
                break
            cur = os.path.dirname(cur)
    return None


def locate() -> tuple[str | None, str]:
    """(the system policy directory in effect or None, a note when GUARD_SYSTEM_DIR was set
    but not honoured)."""
    directory, note, _ = _locate()
    return directory, note


def _locate() -> tuple[str | None, str, bool]:
    """As locate(), plus whether the directory was already found root-only."""
    env = os.environ.get(ENV)
    default_exists = os.path.lexists(DEFAULT_DIR)
    if not env:
        return (DEFAULT_DIR if default_exists else None), "", False
    if default_exists:
        return DEFAULT_DIR, f"{ENV} ignored: {DEFAULT_DIR} exists and always applies", False
    why = root_only(env)
    if why is not None:
        return None, f"{ENV}={safe(env)} ignored: {why}", False
    return env, "", True


def _policy_file_exists(path: str) -> bool:
    """Whether a policy file exists; raises when it does but is not a regular file that only
    root could have written."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    except OSError as e:
        raise _unsafe(path, e.strerror or "unreadable") from None
    if stat.S_ISLNK(st.st_mode):
        raise _unsafe(path, "a symlink (the system policy is read from regular files only)")
    if not stat.S_ISREG(st.st_mode):
        raise _unsafe(path, "not a regular file")
    why = _why_not_root_only(st)
    if why is not None:
        raise _unsafe(path, why)
    return True


def _unsafe(path: str, why: str) -> ConfigError:
    p = safe(path)
    return ConfigError(
        f"system policy {p} is {why}; guard refuses to run with a policy that someone other "
        f"than root could have written. Fix (as root): chown root:root {p} && chmod go-w {p}, "
        f"or remove it"
    )


def _policy_files(directory: str) -> list[str]:
    """policy.yaml (when present), then allowlist.d/*.yaml in byte order; each checked."""
    files = []
    pol = os.path.join(directory, POLICY)
    if _policy_file_exists(pol):
        files.append(pol)
    pins_dir = os.path.join(directory, PINS_DIR)
    try:
        st = os.lstat(pins_dir)
    except FileNotFoundError:
        return files
    except OSError as e:
        raise ConfigError(f"cannot read system policy {safe(pins_dir)}: {e.strerror}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise _unsafe(pins_dir, "not a directory")
    why = _why_not_root_only(st)
    if why is not None:
        raise _unsafe(pins_dir, why)
    try:
        names = sorted(os.listdir(pins_dir), key=os.fsencode)
    except OSError as e:
        raise ConfigError(f"cannot read system policy {safe(pins_dir)}: {e.strerror}") from None
    for name in names:
        if name.startswith(".") or not name.endswith(".yaml"):
            continue  # editor and package-manager leftovers (.swp, .dpkg-old) are not policy
        f = os.path.join(pins_dir, name)
        if _policy_file_exists(f):
            files.append(f)
    return files


def _validate_policy(path: str, doc: Any, policy: Policy) -> None:
    f = safe(path)
    if doc is None:
        return
    if not isinstance(doc, dict):
        raise ConfigError(f"{f}: expected a mapping of policy settings at the top level")
    for key, value in doc.items():
        want = _KEYS.get(key) if isinstance(key, str) else None
        if want is None:
            raise ConfigError(
                f"{f}: unknown policy setting {safe(repr(key)[:80])} "
                f"(known: {', '.join(sorted(_KEYS))})"
            )
        if not isinstance(value, want) or (want is int and isinstance(value, bool)):
            raise ConfigError(f"{f}: {key} must be a {want.__name__}, got {safe(repr(value)[:80])}")
    if doc.get("version", 1) != 1:
        raise ConfigError(f"{f}: policy version {doc['version']} is not supported (it reads 1)")
    floor = doc.get("mode_floor")
    if floor is not None and floor not in Mode.ALL:
        raise ConfigError(f"{f}: mode_floor must be block, warn or monitor")
    policy.mode_floor = floor
    policy.allow_user_trust = doc.get("allow_user_trust", True)
    policy.trust_os_packages = doc.get("trust_os_packages")


def _build(policy: Policy, blobs: list[bytes]) -> None:
    from guard.allowlist import check_bytes, validate
    from guard.yamlstore import parse_yaml

    for path, data in zip(policy.files, blobs):
        if os.path.basename(path) == POLICY and os.path.dirname(path) == policy.dir:
            _validate_policy(path, parse_yaml(path, data), policy)
            continue
        check_bytes(path, data)
        for pin in validate(path, parse_yaml(path, data)):
            policy.pins[pin.path] = pin  # a later file replaces an earlier file's pin
            policy.pin_files[pin.path] = path


def _encode(policy: Policy) -> bytes:
    head = [
        policy.mode_floor or "",
        "1" if policy.allow_user_trust else "0",
        {None: "", True: "1", False: "0"}[policy.trust_os_packages],
    ]
    index = {f: str(i) for i, f in enumerate(policy.files)}
    parts = [h.encode() for h in head]
    for p in policy.pins.values():
        parts += (
            os.fsencode(p.path),
            os.fsencode(p.real),
            p.sha256.encode(),
            index[policy.pin_files[p.path]].encode(),
        )
    return b"\0".join(parts)


def _decode(policy: Policy, blob: bytes) -> None:
    from guard.allowlist import Pin

    f = blob.split(b"\0")
    if len(f) < 3 or (len(f) - 3) % 4:
        raise ValueError("torn index")
    policy.mode_floor = f[0].decode() or None
    if policy.mode_floor is not None and policy.mode_floor not in Mode.ALL:
        raise ValueError("bad index")
    policy.allow_user_trust = f[1] == b"1"
    policy.trust_os_packages = {b"": None, b"1": True, b"0": False}[f[2]]
    for i in range(3, len(f), 4):
        pin = Pin(os.fsdecode(f[i]), os.fsdecode(f[i + 1]), f[i + 2].decode())
        policy.pins[pin.path] = pin
        policy.pin_files[pin.path] = policy.files[int(f[i + 3])]


def load_policy(loc: Locations, full: bool = False) -> Policy | None:
    """The system policy in effect, or None. ``full`` re-parses the YAML (every pin field)."""
    directory, _, checked = _locate()
    if directory is None:
        return None
    why = None if checked else root_only(directory)
    if why is not None:
        raise ConfigError(
            f"system policy {safe(directory)} is not trusted: {why}; guard refuses to run "
            f"with a policy that someone other than root could have changed. Fix (as root): "
            f"every directory from / down to it owned by root and not writable by group or "
            f"others, or remove it"
        )
    from guard.fsutil import read_bytes_nofollow, write_cache
    from guard.yamlstore import MAX_YAML_BYTES, fingerprint

    files = _policy_files(directory)
    blobs = []
    for f in files:
        try:
            data = read_bytes_nofollow(f, MAX_YAML_BYTES)
        except ConfigError as e:
            raise ConfigError(f"system policy: {e}") from None
        blobs.append(data or b"")
    h = b"".join(os.fsencode(f) + b"\0%d\0" % len(b) + b for f, b in zip(files, blobs))
    policy = Policy(directory, files, fingerprint(h))
    header = _INDEX_MAGIC + policy.fingerprint.encode() + b"\n"
    index = loc.index_file("system")
    if not full:
        try:
            with open(index, "rb") as fh:
                blob = fh.read()
            if blob.startswith(header):
                _decode(policy, blob[len(header) :])
                return policy
        except (OSError, ValueError, IndexError, KeyError, UnicodeDecodeError):
            policy = Policy(directory, files, policy.fingerprint)
    _build(policy, blobs)
    write_cache(index, header + _encode(policy))
    return policy


def forbid_user_trust(loc: Locations) -> None:
    """Raise the clear error for writing the user allowlist when the policy forbids it."""
    policy = load_policy(loc)
    if policy is not None and not policy.allow_user_trust:
        raise GuardError(
            f"the system policy {safe(policy.policy_file)} sets allow_user_trust: false, so "
            f"only pins in {safe(policy.pins_dir)}/ count and your allowlist is not used; "
            f"ask an administrator to pin the file there"
        )
