"""Load a guard YAML file fast and strictly.

pyyaml costs ~11 ms to import and far more to parse a large allowlist, and a cached check must
finish in well under 30 ms. So what the hot path needs from each validated document is also
kept in the cache dir in a compact form, keyed by the xxh3_128 fingerprint of the YAML bytes;
YAML is parsed only when the file changed. Deleting the cache changes nothing but speed.

Parsing is bounded. The file is read up to 64 MiB. A parsed document may not expand to more
than 8 times its own size (plus 1 MiB: CI files merge anchors legitimately): pyyaml builds
aliases (``*name``) as shared references, so an alias bomb ("billion laughs") parses in
microseconds, but anything that then walks it (validation, ``repr`` in an error message, JSON
output) would run for hours. And a document that could nest deeper than the C parser's stack
allows is read by the pure-Python parser, which stops with an error instead of crashing.
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
MAX_EXPANSION = 8  # a parsed document may stand for at most 8x its text (+ the slack)
EXPANSION_SLACK = 1 << 20
_INDEX_MAGIC = b"guard-index 1 "


# The C loader builds nested collections by recursing on the C stack: 20,000 levels of
# `[[[…` or `- - - …` parse, 60,000 crash the process (SIGSEGV). The pure-Python loader
# recurses in Python and stops with a RecursionError instead, so it reads any document that
# could nest deeper than this; the bound is cheap and generous (see _may_nest_deep).
MAX_C_DEPTH = 10_000
_MERGE = "tag:yaml.org,2002:merge"


def _may_nest_deep(data: bytes) -> bool:
    """Could this document nest more than MAX_C_DEPTH levels? Each level needs a byte of its
    own; flow levels need a '[' or '{', block levels a deeper indent or another '- ', '? ' or
    ': ' on the same line, so the depth is at most the brackets plus twice the longest line."""
    if len(data) <= MAX_C_DEPTH:
        return False
    brackets = data.count(b"[") + data.count(b"{")
    return brackets + 2 * max(map(len, data.split(b"\n"))) > MAX_C_DEPTH


def _loader(deep: bool = False) -> Any:
    import yaml

    base = yaml.SafeLoader if deep else getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class StrictLoader(base):  # type: ignore[misc, valid-type]
        """SafeLoader that refuses duplicate keys instead of silently keeping the last."""

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == _MERGE:
                    continue  # `<<: *x` merges (CI files); a key of its own may override them
                key = self.construct_object(key_node, deep=True)
                if not isinstance(key, (str, int, bool)):
                    continue  # the base class rejects an unhashable key with a located error
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {safe(repr(key)[:80])}", key_node.start_mark
                    )
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    return StrictLoader


def check_expansion(path: str, doc: Any, size: int) -> None:
    """Refuse a document that expands to far more than its text: only aliases do that.

    Counts what a full walk would visit (a string costs its length), aliases counted as the
    copies a consumer would see, and stops as soon as the budget is spent, so this is linear
    in the file's size whatever the document holds. Every YAML node takes at least one byte
    of text and no scalar is longer than its source, so a document without aliases fits, and
    anchors merged into CI jobs stay far below the budget."""
    budget = MAX_EXPANSION * size + EXPANSION_SLACK
    stack = [doc]
    while stack:
        v = stack.pop()
        if isinstance(v, (str, bytes)):
            budget -= len(v) + 1
        elif isinstance(v, dict):
            budget -= 1
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, (list, tuple, set)):
            budget -= 1
            stack.extend(v)
        else:
            budget -= 1
        if budget < 0:
            raise ConfigError(
                f"{safe(path)}: the document expands to far more data than the file holds "
                f"(YAML aliases used as an alias bomb?); refusing it; the file was left unchanged"
            )


def parse_yaml(path: str, data: bytes) -> Any:
    """Parse with a clear, located error; never a traceback for a user's typo or an attack."""
    import yaml

    try:
        doc = yaml.load(data, Loader=_loader(_may_nest_deep(data)))  # noqa: S506 - SafeLoader
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f" line {mark.line + 1}, column {mark.column + 1}:" if mark else ""
        raise ConfigError(
            f"{safe(path)}:{where} {safe(str(e.problem or e))}; the file was left unchanged"
        ) from None
    except RecursionError:
        raise ConfigError(
            f"{safe(path)}: not valid YAML (nested too deeply); the file was left unchanged"
        ) from None
    except (yaml.YAMLError, ValueError, UnicodeDecodeError) as e:
        raise ConfigError(
            f"{safe(path)}: not valid YAML ({safe(str(e)[:200])}); the file was left unchanged"
        ) from None
    check_expansion(path, doc, len(data))
    return doc


def read_yaml(path: str) -> tuple[bytes | None, Any]:
    """(raw bytes, parsed document) — (None, None) when the file does not exist."""
    data = read_bytes_nofollow(path, MAX_YAML_BYTES)
    if data is None:
        return None, None
    return data, parse_yaml(path, data)


def fingerprint(data: bytes) -> str:
    import xxhash

    return xxhash.xxh3_128_hexdigest(data)


def index_header(fp: str) -> bytes:
    return _INDEX_MAGIC + fp.encode() + b"\n"


def store_index(index_path: str, data: bytes, encoded: bytes) -> None:
    """Write the index for ``data`` as a writer has just written it, so the next check does
    not parse the YAML it wrote (importing and running pyyaml costs a check ~25 ms)."""
    write_cache(index_path, index_header(fingerprint(data)) + encoded)


def load_indexed(
    path: str,
    index_path: str,
    build: Callable[[str, Any], T],
    encode: Callable[[T], bytes],
    decode: Callable[[bytes], T],
    check: Callable[[str, bytes], None] | None = None,
) -> tuple[T | None, str | None]:
    """Return (what ``build`` makes of the validated document, or None when the file is absent;
    the fingerprint of the file's bytes). ``check`` (raw bytes, e.g. for truncation) and
    ``build`` run only when the file changed."""
    data = read_bytes_nofollow(path, MAX_YAML_BYTES)
    if data is None:
        return None, None
    fp = fingerprint(data)
    header = index_header(fp)
    try:
        with open(index_path, "rb") as f:
            blob = f.read()
        if blob.startswith(header):
            return decode(blob[len(header) :]), fp
    except (OSError, ValueError, IndexError):
        pass
    if check is not None:
        check(path, data)
    value = build(path, parse_yaml(path, data))
    write_cache(index_path, header + encode(value))
    return value, fp
