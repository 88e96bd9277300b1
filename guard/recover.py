"""Restoring the allowlist from its last good copy: the library behind `guard recover`.

Every write keeps the previous allowlist as ``allowlist.yaml.bak`` (fsutil.atomic_write), and a
write killed at any point leaves the old or the new file, never a torn one. What can still go
wrong comes from outside guard: a disk or sync tool truncating the file, an editor saving
half a file, someone deleting it. Checks then fail with exit 2 (block-mode hooks fail closed)
and the message points here. Recovery never destroys anything: the unusable file is kept
beside it as ``allowlist.yaml.corrupt-TIMESTAMP`` before the backup's content is written back.
"""

from __future__ import annotations

import os
import time

from guard.errors import ConfigError, GuardError
from guard.textsafe import safe

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~4 ms per check

if TYPE_CHECKING:
    from guard.allowlist import Pin
    from guard.paths import Locations


def read_good(path: str) -> tuple[bytes, list[Pin]]:
    """The bytes and pins of ``path`` if it is a safe, complete, valid allowlist; else raises
    ConfigError (FileNotFoundError when it does not exist)."""
    from guard.allowlist import check_bytes, validate
    from guard.fsutil import check_private_file, read_bytes_nofollow
    from guard.yamlstore import MAX_YAML_BYTES, parse_yaml

    if check_private_file(path, "allowlist") is None:
        raise FileNotFoundError(path)
    data = read_bytes_nofollow(path, MAX_YAML_BYTES)
    if data is None:
        raise FileNotFoundError(path)
    check_bytes(path, data)
    return data, validate(path, parse_yaml(path, data))


def _when(path: str) -> str:
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(os.stat(path).st_mtime))
    except OSError:
        return "an unknown time"


def recovery_hint(loc: Locations) -> str:
    """'; a good copy … run `guard recover`' when the backup is usable, else ''."""
    bak = loc.allowlist_file + ".bak"
    try:
        _, pins = read_good(bak)
    except (OSError, GuardError):
        return ""
    n = len(pins)
    return (
        f"; its last good copy ({n} pin{'' if n == 1 else 's'}, saved {_when(bak)}) is "
        f"{safe(bak)}: run `guard recover` to restore it"
    )


def recover(loc: Locations) -> list[str]:
    """Restore the allowlist from ``.bak`` if the allowlist is missing or unusable. Returns the
    lines to show; raises GuardError when there is nothing good to restore."""
    from guard.allowlist import _drop_leftovers
    from guard.fsutil import atomic_write, check_private_file, file_lock

    path = loc.allowlist_file
    bak = path + ".bak"
    p, b = safe(path), safe(bak)
    with file_lock(loc.lock_file):
        _drop_leftovers(path)
        # A symlink, a foreign owner or loose permissions: the message says how to fix it;
        # restoring over it would hide what happened.
        exists = check_private_file(path, "allowlist") is not None
        problem = "it is missing"
        if exists:
            try:
                _, pins = read_good(path)
                n = len(pins)
                return [f"nothing to recover: {p} is valid ({n} pin{'' if n == 1 else 's'})"]
            except ConfigError as e:
                problem = str(e).replace("; the file was left unchanged", "")
        try:
            data, pins = read_good(bak)
        except FileNotFoundError:
            raise GuardError(
                f"cannot recover {p}: {problem}, and there is no backup {b}. Fix it by hand, "
                f"or move it aside (mv {p} {p}.broken) to start with an empty allowlist"
            ) from None
        except ConfigError as e:
            raise GuardError(
                f"cannot recover {p}: {problem}; the backup is not usable either: {e}. "
                f"Fix one of them by hand"
            ) from None
        out = []
        if exists:
            stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
            kept = f"{path}.corrupt-{stamp}"
            i = 1
            while True:
                try:
                    os.link(path, kept)  # a second name: the bad file stays as it was
                    break
                except FileExistsError:
                    i += 1
                    kept = f"{path}.corrupt-{stamp}-{i}"
            out.append(f"{p} was not usable ({problem}); kept it as {safe(kept)}")
        else:
            out.append(f"{p} was missing")
        atomic_write(path, data)  # the .bak stays as it is: still the last good copy
        n = len(pins)
        out.append(
            f"restored {n} pin{'' if n == 1 else 's'} from {b} (saved {_when(bak)}); pins "
            f"added after that are not in it: review with `guard list`"
        )
        return out
