"""Escape attacker-controlled text before it reaches a terminal or a log line.

File names come from whoever could write to a PATH directory: they may hold newlines, ANSI
escapes, bidi overrides or bytes that are not UTF-8. Everything guard prints about a file goes
through ``safe()``.
"""

from __future__ import annotations

import os
import unicodedata

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def fsdecode(value: str | bytes | os.PathLike[str]) -> str:
    """Decode a path the way Python does (surrogateescape), keeping undecodable bytes visible."""
    return os.fsdecode(value)


def safe(text: str | bytes | os.PathLike[str]) -> str:
    """Return ``text`` with control, format (bidi, zero-width) and undecodable chars escaped."""
    s = fsdecode(text) if not isinstance(text, str) else text
    out: list[str] = []
    for ch in s:
        if ch in _NAMED:
            out.append(_NAMED[ch])
            continue
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:  # surrogateescape'd raw byte
            out.append(f"\\x{code - 0xDC00:02x}")
        elif unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp"):
            out.append(f"\\u{code:04x}" if code > 0xFF else f"\\x{code:02x}")
        else:
            out.append(ch)
    return "".join(out)


def json_safe(text: str) -> str:
    """Make a path JSON-encodable: raw bytes (surrogates) become \\xNN text, the rest stays."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return "".join(
            f"\\x{ord(c) - 0xDC00:02x}" if 0xDC80 <= ord(c) <= 0xDCFF else c for c in text
        )


SHELL_SAFE_BYTES = frozenset(
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./+,:@%="
)


def quote_posix(s: str) -> str:
    """Quote for bash and zsh. ``$'…'`` with \\xNN keeps every byte exact (newlines, ESC,
    non-UTF-8) and never lets one reach the terminal raw when the code is echoed."""
    b = os.fsencode(s)
    if b and all(c in SHELL_SAFE_BYTES for c in b):
        return s
    out = []
    for c in b:
        if 0x20 <= c < 0x7F and c not in (0x27, 0x5C):
            out.append(chr(c))
        else:
            out.append(f"\\x{c:02x}")
    return "$'" + "".join(out) + "'"
