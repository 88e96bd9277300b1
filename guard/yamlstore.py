"""Load a guard YAML file fast and strictly.

pyyaml costs ~11 ms to import and far more to parse a large allowlist, and a cached check must
finish in well under 30 ms. So what the hot path needs from each validated document is also
kept in the cache dir in a compact form, keyed by the xxh3_128 fingerprint of the YAML bytes;
YAML is parsed only when the file changed. Deleting the cache changes nothing but speed.
"""

from __future__ import annotations

from guard.errors import ConfigError
from guard.fsutil import read_bytes_nofollow, write_cache
from guard.textsafe import safe

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~4 ms per check

if TYPE_CHECKING:
    from typing import Any, Callable, TypeVar

    T = TypeVar("T")

MAX_YAML_BYTES = 64 << 20
_INDEX_MAGIC = b"guard-index 1 "


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


def parse_yaml(path: str, data: bytes) -> Any:
    """Parse with a clear, located error; never a traceback for a user's typo."""
    import yaml

    try:
        return yaml.load(data, Loader=_loader())  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f" line {mark.line + 1}, column {mark.column + 1}:" if mark else ""
        raise ConfigError(
            f"{safe(path)}:{where} {safe(str(e.problem or e))}; the file was left unchanged"
        ) from None
    except (yaml.YAMLError, RecursionError, ValueError, UnicodeDecodeError) as e:
        raise ConfigError(
            f"{safe(path)}: not valid YAML ({safe(str(e))}); the file was left unchanged"
        ) from None


def read_yaml(path: str) -> tuple[bytes | None, Any]:
    """(raw bytes, parsed document) — (None, None) when the file does not exist."""
    data = read_bytes_nofollow(path, MAX_YAML_BYTES)
    if data is None:
        return None, None
    return data, parse_yaml(path, data)


def fingerprint(data: bytes) -> str:
    import xxhash

    return xxhash.xxh3_128_hexdigest(data)


def load_indexed(
    path: str,
    index_path: str,
    build: Callable[[str, Any], T],
    encode: Callable[[T], bytes],
    decode: Callable[[bytes], T],
) -> tuple[T | None, str | None]:
    """Return (what ``build`` makes of the validated document, or None when the file is absent;
    the fingerprint of the file's bytes). ``build`` runs only when the file changed."""
    data = read_bytes_nofollow(path, MAX_YAML_BYTES)
    if data is None:
        return None, None
    fp = fingerprint(data)
    header = _INDEX_MAGIC + fp.encode() + b"\n"
    try:
        with open(index_path, "rb") as f:
            blob = f.read()
        if blob.startswith(header):
            return decode(blob[len(header) :]), fp
    except (OSError, ValueError, IndexError):
        pass
    value = build(path, parse_yaml(path, data))
    write_cache(index_path, header + encode(value))
    return value, fp
