"""Property tests for the allowlist loader (hypothesis).

- Whatever pins guard writes (any path bytes, YAML-special words, control characters, odd
  sizes and notes), reading the file back — through the cached index and through a full YAML
  parse, first and second time — gives exactly those pins.
- A guard-written file cut short at any byte never loads as fewer pins: it is refused with a
  ConfigError (or, cut to nothing with no backup beside it, is the empty allowlist).
- Any damaged file (bytes flipped, inserted, deleted) and any YAML document of any shape loads
  as valid pins or fails with a ConfigError — never another exception — and is left unchanged.
"""

from __future__ import annotations

import os
import tempfile

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guard.allowlist import Pin, load_allowlist, update_allowlist
from guard.errors import ConfigError
from guard.paths import Locations

# GUARD_PROP_EXAMPLES_AL per test (default 40); GUARD_PROP_RANDOM=1 for fresh random cases.
SETTINGS = settings(
    max_examples=int(os.environ.get("GUARD_PROP_EXAMPLES_AL", "40")),
    deadline=None,
    derandomize=os.environ.get("GUARD_PROP_RANDOM") != "1",
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
HEX = "0123456789abcdef"
YAML_WORDS = (
    "yes",
    "no",
    "null",
    "~",
    "true",
    "1e3",
    "0x1F",
    "- a",
    "a: b",
    "#x",
    "'",
    '"',
    "*a",
    "&a",
    "!!binary",
    "2026-11-29",
    "12:30:00",
    ".inf",
    "<<",
    "? x",
    "%TAG",
)


def _sandbox() -> tuple[tempfile.TemporaryDirectory, Locations]:
    td = tempfile.TemporaryDirectory(prefix="guard-prop-al-")
    dirs = []
    for name in ("config", "data", "state", "cache"):
        d = os.path.join(td.name, name)
        os.mkdir(d, 0o700)
        dirs.append(d)
    return td, Locations(*dirs)


def _write(loc: Locations, data: bytes) -> None:
    fd = os.open(loc.allowlist_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _read(loc: Locations) -> bytes:
    with open(loc.allowlist_file, "rb") as f:
        return f.read()


def _key(p: Pin) -> tuple:
    return (p.path, p.real, p.sha256)


def _full_key(p: Pin) -> tuple:
    return (p.path, p.real, p.sha256, p.size, p.added, p.note, p.provenance)


# A path component: text (any Unicode but NUL and lone surrogates), a YAML-special word, or
# bytes that are not UTF-8 (stored as !!binary, read back through os.fsdecode).
_text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\0/"), min_size=1, max_size=12
)
_raw = st.binary(min_size=1, max_size=8).filter(lambda b: b"\0" not in b and b"/" not in b)
component = st.one_of(_text, st.sampled_from(YAML_WORDS), _raw.map(os.fsdecode))
abs_path = st.lists(component, min_size=1, max_size=3).map(lambda cs: "/" + "/".join(cs))
sha256 = st.text(st.sampled_from(HEX), min_size=64, max_size=64)
note = st.one_of(
    st.none(),
    st.sampled_from(YAML_WORDS),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), max_size=20),
)
provenance = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {"kind": st.sampled_from(("dpkg", "pip", "npm", "unknown"))},
        optional={"package": st.sampled_from(YAML_WORDS + ("awscli",)), "version": note},
    ),
)


@st.composite
def pins(draw: st.DrawFn) -> Pin:
    path = draw(abs_path)
    return Pin(
        path,
        draw(st.one_of(st.just(path), abs_path)),
        draw(sha256),
        draw(st.one_of(st.none(), st.integers(0, 1 << 70))),
        draw(note),
        draw(note),
        draw(provenance),
    )


@SETTINGS
@given(batch=st.lists(pins(), min_size=1, max_size=6), drop=st.integers(0, 5))
def test_written_pins_read_back_exactly(batch: list[Pin], drop: int) -> None:
    td, loc = _sandbox()
    with td:
        update_allowlist(loc, add=batch, remove=[])
        gone = batch[drop % len(batch)].path
        update_allowlist(loc, add=[], remove=[gone])
        want = {p.path: p for p in batch}
        want.pop(gone)
        for _ in range(2):  # the first load builds the index, the second reads it
            got = load_allowlist(loc).pins
            assert sorted(map(_key, got.values())) == sorted(map(_key, want.values()))
        full = load_allowlist(loc, full=True).pins
        assert sorted(map(_full_key, full.values()), key=repr) == sorted(
            map(_full_key, want.values()), key=repr
        )


@SETTINGS
@given(batch=st.lists(pins(), min_size=1, max_size=4), cuts=st.lists(st.floats(0, 1), max_size=8))
def test_a_cut_short_file_is_refused_never_read_as_fewer_pins(
    batch: list[Pin], cuts: list[float]
) -> None:
    td, loc = _sandbox()
    with td:
        update_allowlist(loc, add=batch, remove=[])
        whole = _read(loc)
        want = sorted(map(_key, load_allowlist(loc).pins.values()))
        has_bak = os.path.lexists(loc.allowlist_file + ".bak")
        # every cut inside the trailer line, and a sample of cuts anywhere
        points = set(range(len(whole) - 30, len(whole))) | {int(c * len(whole)) for c in cuts}
        for n in sorted(points):
            _write(loc, whole[:n])
            for full in (False, True):
                try:
                    got = sorted(map(_key, load_allowlist(loc, full=full).pins.values()))
                except ConfigError:
                    continue
                if n == 0 and not has_bak:
                    assert got == []
                else:
                    assert got == want, f"cut at {n}/{len(whole)} read as {len(got)} pins"
            assert _read(loc) == whole[:n], "the loader wrote"


@st.composite
def damaged(draw: st.DrawFn) -> tuple[list[Pin], list[tuple[str, int, bytes]]]:
    batch = draw(st.lists(pins(), min_size=1, max_size=3))
    edits = draw(
        st.lists(
            st.tuples(
                st.sampled_from(("flip", "insert", "delete")),
                st.integers(0, 1 << 16),
                st.one_of(
                    st.binary(min_size=1, max_size=4),
                    st.sampled_from(
                        [
                            b"\t",
                            b"&a ",
                            b"*a",
                            b"!!python/object:os.system ",
                            b"[",
                            b"{",
                            b"- ",
                            b": ",
                            b"\xff",
                            b"\n",
                            b"'",
                            b'"',
                            b"<<: *a\n",
                            b"version: 1\n",
                        ]
                    ),
                ),
            ),
            min_size=1,
            max_size=4,
        )
    )
    return batch, edits


@SETTINGS
@given(case=damaged())
def test_a_damaged_file_is_valid_pins_or_a_clear_error(case) -> None:
    batch, edits = case
    td, loc = _sandbox()
    with td:
        update_allowlist(loc, add=batch, remove=[])
        data = bytearray(_read(loc))
        for op, at, blob in edits:
            i = at % (len(data) + 1)
            if op == "flip" and data:
                data[i % len(data)] ^= blob[0] or 1
            elif op == "insert":
                data[i:i] = blob
            else:
                del data[i : i + len(blob)]
        _assert_valid_or_clear(loc, bytes(data))


# Documents of any shape, in the places the loader looks.
scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.sampled_from(YAML_WORDS),
    st.text(max_size=8),
    sha256,
    abs_path,
    st.binary(max_size=4),
)
value = st.recursive(
    scalar,
    lambda c: st.one_of(
        st.lists(c, max_size=3), st.dictionaries(st.text(max_size=5), c, max_size=3)
    ),
    max_leaves=8,
)
entry = st.dictionaries(
    st.sampled_from(("path", "real", "sha256", "size", "added", "note", "provenance", "x")),
    st.one_of(value, abs_path, sha256),
    max_size=7,
)
document = st.one_of(
    value,
    st.fixed_dictionaries(
        {
            "version": st.one_of(st.just(1), value),
            "entries": st.one_of(st.lists(entry, max_size=3), value),
        },
        optional={"other": value},
    ),
)


@SETTINGS
@given(doc=document)
def test_any_yaml_document_is_valid_pins_or_a_clear_error(doc) -> None:
    td, loc = _sandbox()
    with td:
        _assert_valid_or_clear(loc, yaml.safe_dump(doc, allow_unicode=True).encode())


def _assert_valid_or_clear(loc: Locations, data: bytes) -> None:
    """Loading ``data`` (index path, then a full parse) gives valid pins or a ConfigError with
    a message, never another exception, and leaves the file as it was."""
    _write(loc, data)
    for full in (False, True):
        try:
            al = load_allowlist(loc, full=full)
        except ConfigError as e:
            assert str(e).strip()
            assert "Traceback" not in str(e)
        else:
            for p in al.pins.values():
                assert p.path.startswith("/") and p.real.startswith("/")
                assert len(p.sha256) == 64 and set(p.sha256) <= set(HEX)
        assert _read(loc) == data, "the loader changed the file"
