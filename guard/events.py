"""events.jsonl: one JSON line per deny or warn, in the user state dir, bounded in size."""

from __future__ import annotations

import os

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~4 ms per check

if TYPE_CHECKING:
    from typing import Any

    from guard.paths import Locations


def log_event(loc: Locations, record: dict[str, Any], max_bytes: int = 1 << 20) -> None:
    """Append one line (a single O_APPEND write, so concurrent shells never interleave);
    rotate to events.jsonl.1 past ``max_bytes``. Logging never fails a check."""
    import json
    import time

    record = {"ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **record}
    line = (json.dumps(record, ensure_ascii=True) + "\n").encode()
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
