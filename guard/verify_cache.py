"""Skip re-hashing unchanged files. Keyed on the xxh3_128 of (real path, dev, inode, size,
mtime_ns, ctime_ns): any change to the file, including a same-size rewrite with a forged mtime,
moves ctime and misses the cache. Deleting the cache file changes no verdict."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional

from guard.fsutil import write_cache
from guard.hashing import Digests, HashError, StatKey, digest_file

MAX_ENTRIES = 50_000


class VerifyCache:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._data: Optional[dict[str, list]] = None
        self._dirty = False

    def _load(self) -> dict[str, list]:
        if self._data is None:
            try:
                with open(self.path, encoding="utf-8") as f:
                    d = json.load(f)
                self._data = d if isinstance(d, dict) else {}
            except (OSError, ValueError):
                self._data = {}
        return self._data

    def digests(self, real: str, want_md5: bool, limit: int) -> Digests:
        """Digests of ``real``, from cache when its stat key is unchanged. Raises HashError."""
        try:
            st = os.stat(real)
        except OSError as e:
            raise HashError(e.strerror or "cannot stat") from None
        key = StatKey.of(st)
        ck = key.cache_key(real)
        hit = self._load().get(ck)
        if isinstance(hit, list) and len(hit) == 3 and (hit[1] is not None or not want_md5):
            return Digests(hit[0], hit[1], hit[2], key)
        d = digest_file(real, want_md5=want_md5, limit=limit)
        if d.key == key:
            data = self._load()
            if len(data) >= MAX_ENTRIES:
                data.clear()
            data[d.key.cache_key(real)] = [d.sha256, d.md5, d.size]
            self._dirty = True
        return d

    def save(self) -> None:
        if self._dirty and self._data is not None:
            write_cache(self.path, json.dumps(self._data, separators=(",", ":")).encode())
            self._dirty = False
