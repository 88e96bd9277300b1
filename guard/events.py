"""events.jsonl: one JSON line per deny or warn, in the user state dir, bounded in size."""

from __future__ import annotations

import contextlib
import json
import os
import time
from typing import Any

from guard.paths import Locations


def log_event(loc: Locations, record: dict[str, Any], max_bytes: int = 1 << 20) -> None:
    """Append one line; rotate to events.jsonl.1 past ``max_bytes``. Logging never fails a check."""
    record = {"ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **record}
    line = (json.dumps(record, ensure_ascii=True) + "\n").encode()
    path = loc.events_file
    with contextlib.suppress(OSError):
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            if os.stat(path).st_size + len(line) > max_bytes:
                os.replace(path, str(path) + ".1")
        except FileNotFoundError:
            pass
        fd = os.open(str(path), os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
