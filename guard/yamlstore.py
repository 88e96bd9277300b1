"""Load a guard YAML file fast and strictly.

pyyaml costs ~11 ms to import and far more to parse a large allowlist, and the hot CLI path
must stay under 30 ms. So each validated document is also kept as JSON in the cache dir, keyed
by the xxh3_128 fingerprint of the YAML bytes; YAML is parsed only when the file changed.
Deleting the cache changes nothing but speed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from guard.errors import ConfigError
from guard.fsutil import read_bytes_nofollow, write_cache
from guard.textsafe import safe

MAX_YAML_BYTES = 64 << 20


def _loader() -> Any:
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class StrictLoader(base):  # type: ignore[misc, valid-type]
        """SafeLoader that refuses duplicate keys instead of silently keeping the last."""

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                if isinstance(key, (str, int, bool)) and key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r}", key_node.start_mark
                    )
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    return StrictLoader


def parse_yaml(path: Path, data: bytes) -> Any:
    import yaml

    try:
        return yaml.load(data, Loader=_loader())  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(
            f"{safe(str(path))}:{where}: {safe(str(e.problem or e))}; the file was not changed"
        ) from None
    except (yaml.YAMLError, RecursionError, ValueError) as e:
        raise ConfigError(f"{safe(str(path))}: not valid YAML ({safe(str(e))})") from None


def fingerprint(data: bytes) -> str:
    import xxhash

    return xxhash.xxh3_128_hexdigest(data)


def load_cached(
    path: Path, index: Path, validate: Callable[[Path, Any], Any]
) -> tuple[Any, str | None]:
    """Return (validated document or None when absent, fingerprint)."""
    data = read_bytes_nofollow(path, MAX_YAML_BYTES)
    if data is None:
        return None, None
    fp = fingerprint(data)
    try:
        with open(index, encoding="utf-8") as f:
            cached = json.load(f)
        if isinstance(cached, dict) and cached.get("fp") == fp and cached.get("v") == 1:
            return cached["doc"], fp
    except (OSError, ValueError, KeyError):
        pass
    doc = validate(path, parse_yaml(path, data))
    write_cache(index, json.dumps({"v": 1, "fp": fp, "doc": doc}).encode())
    return doc, fp
