"""events.jsonl: one JSON line per deny or warn, in the user state dir, bounded in size."""

from __future__ import annotations

import os

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~4 ms per check

if TYPE_CHECKING:
    from typing import Any

    from guard.paths import Locations


def _dumps(v: Any) -> str:
    """``json.dumps(v, ensure_ascii=True)`` for the plain values a record holds, without
    importing json: it pulls in `re` and `enum` (~8 ms of CPU), paid by every logged check
    (a first sighting of an untrusted file in the shell hooks)."""
    from _json import encode_basestring_ascii as enc

    if isinstance(v, str):
        return enc(v)
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return int.__repr__(v)
    if isinstance(v, dict) and all(isinstance(k, str) for k in v):
        return "{" + ", ".join(f"{enc(k)}: {_dumps(x)}" for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_dumps(x) for x in v) + "]"
    import json  # floats and anything unusual: the real encoder

    return json.dumps(v, ensure_ascii=True)


def log_event(loc: Locations, record: dict[str, Any], max_bytes: int = 1 << 20) -> None:
    """Append one line (a single O_APPEND write, so concurrent shells never interleave);
    rotate to events.jsonl.1 past ``max_bytes``. Logging never fails a check."""
    import time

    record = {"ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **record}
    line = (_dumps(record) + "\n").encode()
    path = loc.events_file
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        try:
            if os.stat(path).st_size + len(line) > max_bytes:
                os.replace(path, path + ".1")
        except FileNotFoundError:
            pass
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
    except OSError:
        pass
