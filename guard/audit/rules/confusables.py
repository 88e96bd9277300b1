"""Confusables: a file whose name *looks* like a trusted or well-known command but is not it -
``ⅼs`` (U+217C ROMAN NUMERAL FIFTY), ``сurl`` (Cyrillic es), ``Git``, ``l<ZWSP>s``. Typed from
a copied snippet or a completion, they run something else; in a listing they pass for the
real thing.

Folding, in order, each step reported as its own rule: strip invisible characters (format
chars such as zero-width and bidi controls, and C0/C1 controls); NFKC (fullwidth and
compatibility forms, ``ⅼ`` → ``l``); case folding; then a skeleton: a small map of Cyrillic,
Greek and other look-alikes to Latin, combining marks removed (``unicodedata`` only - the map
below is a hand-picked subset of Unicode's confusables.txt for letters that occur in command
names).
"""

from __future__ import annotations

import os
import unicodedata

from guard.audit.findings import Finding, Rule, short
from guard.audit.fixes import remove_hint, trust_hint
from guard.audit.scan import Scan
from guard.textsafe import safe

INVISIBLE = Rule(
    "confusable.invisible",
    "A command name hides invisible characters (zero-width, bidi, control)",
    "critical",
    "With the invisible characters removed the name is that of a trusted or well-known "
    "command. No legitimate tool is named like that; remove the file.",
)
NFKC = Rule(
    "confusable.nfkc",
    "A command name is a compatibility look-alike of a command (NFKC)",
    "high",
    "Unicode compatibility forms (fullwidth letters, roman numerals such as U+217C 'ⅼ', "
    "ligatures) fold to the name of a trusted or well-known command.",
)
CASE = Rule(
    "confusable.case",
    "A command name differs from a command only by case",
    "medium",
    "The name equals a trusted or well-known command when case is ignored ('Git', 'CURL'): "
    "easy to mistype or to mistake in a listing.",
)
SKELETON = Rule(
    "confusable.skeleton",
    "A command name uses look-alike letters (Cyrillic, Greek, digits) of a command",
    "high",
    "Letters from other scripts that look Latin ('с' U+0441, 'ο' U+03BF, 'і' U+0456) make "
    "a name that reads as a trusted or well-known command.",
)

RULES = [INVISIBLE, NFKC, CASE, SKELETON]

# Look-alike -> Latin, applied after NFKC and before case folding (so both cases are listed
# where they look different). Sources: Unicode confusables.txt (UTS #39), letters only.
# fmt: off
CONFUSABLES: dict[str, str] = {
    # Cyrillic
    "а": "a", "А": "A", "В": "B", "в": "b", "е": "e", "Е": "E", "ё": "e", "Ё": "E",
    "З": "3", "з": "3", "К": "K", "к": "k", "М": "M", "м": "m", "Н": "H", "н": "h",
    "О": "O", "о": "o", "П": "n", "п": "n", "Р": "P", "р": "p", "С": "C", "с": "c",
    "Т": "T", "т": "t", "У": "Y", "у": "y", "Х": "X", "х": "x", "Ь": "b", "ь": "b",
    "І": "I", "і": "i", "Ї": "I", "ї": "i", "Ј": "J", "ј": "j", "Ѕ": "S", "ѕ": "s",
    "Ԁ": "D", "ԁ": "d", "Ԛ": "Q", "ԛ": "q", "Ԝ": "W", "ԝ": "w", "Һ": "H", "һ": "h",
    "Ӏ": "l", "ӏ": "l", "Ү": "Y", "ү": "y", "Ғ": "F", "г": "r", "ɡ": "g",
    # Greek
    "Α": "A", "α": "a", "Β": "B", "β": "b", "Ε": "E", "ε": "e", "Ζ": "Z", "Η": "H",
    "η": "n", "Ι": "I", "ι": "i", "Κ": "K", "κ": "k", "Μ": "M", "Ν": "N", "ν": "v",
    "Ο": "O", "ο": "o", "Ρ": "P", "ρ": "p", "Τ": "T", "τ": "t", "Υ": "Y", "υ": "u",
    "Χ": "X", "χ": "x", "ω": "w", "ϲ": "c", "Ϲ": "C", "ϳ": "j", "γ": "y", "μ": "u",
    # Latin and symbols that read as other Latin letters
    "ı": "i", "ȷ": "j", "ℓ": "l", "ǀ": "l", "│": "l", "∣": "l", "ǃ": "!", "ꞵ": "b",
    "ɑ": "a", "ɩ": "i", "ʟ": "L", "ᴄ": "c", "ᴏ": "o", "ᴠ": "v", "ᴡ": "w", "ᴢ": "z",
    "ꜱ": "s", "ʀ": "r", "ɢ": "g", "ʜ": "h", "ᴋ": "k", "ᴍ": "m", "ɴ": "n", "ᴘ": "p",
    "ᴛ": "t", "ᴜ": "u", "ʏ": "y", "ᴅ": "d", "ᴇ": "e", "ꜰ": "f",
    # ASCII look-alikes (as in UTS #39 skeletons)
    "1": "l", "I": "l", "|": "l", "0": "o",
}
# fmt: on

_INVISIBLE_CATS = ("Cf", "Cc", "Zl", "Zp")


def strip_invisible(s: str) -> str:
    """Drop format (zero-width, bidi), control and line/paragraph separator characters."""
    return "".join(c for c in s if unicodedata.category(c) not in _INVISIBLE_CATS)


def skeleton(s: str) -> str:
    """Look-alikes mapped to Latin, combining marks dropped, case folded."""
    mapped = "".join(CONFUSABLES.get(c, c) for c in s)
    nfd = unicodedata.normalize("NFD", mapped)
    bare = "".join(c for c in nfd if unicodedata.category(c) != "Mn")
    return bare.casefold()


def classify(
    name: str, exempt: set[str], refs: set[str], folded: dict[str, str], skel: dict[str, str]
):
    """(rule, the command it imitates) or None. ``exempt``: names that are commands in their
    own right (well-known, in a system dir); ``refs``: every name to compare against (those
    plus pinned names); ``folded``/``skel``: casefold / skeleton of each ref -> the ref."""
    if name in exempt:
        return None
    s1 = strip_invisible(name)
    k1 = skeleton(unicodedata.normalize("NFKC", s1))
    if s1 != name and (s1 in refs or s1.casefold() in folded or k1 in skel):
        target = s1 if s1 in refs else folded.get(s1.casefold()) or skel[k1]
        return INVISIBLE, target
    s2 = unicodedata.normalize("NFKC", s1)
    if s2 != s1 and s2 in refs and s2 != name:
        return NFKC, s2
    s3 = s2.casefold()
    if s3 in folded and folded[s3] != name:
        return (NFKC if s2 != s1 else CASE), folded[s3]
    k = skeleton(s2)
    if k in skel and skel[k] != name:
        return SKELETON, skel[k]
    return None


def _codepoints(name: str) -> str:
    odd = [
        f"U+{ord(c):04X} {unicodedata.name(c, '?')}" for c in name if ord(c) > 0x7E or ord(c) < 0x21
    ]
    return ", ".join(dict.fromkeys(odd)) or "ASCII only"


def reference_names(scan: Scan) -> set[str]:
    """Trusted or well-known command names: the shipped list, every name in a system PATH
    directory, and every pinned file's name."""
    return exempt_names(scan) | {os.path.basename(p) for p in scan.ctx.allowlist.pins}


def exempt_names(scan: Scan) -> set[str]:
    """Names that are commands in their own right: well-known, or in a system PATH dir."""
    names = set(scan.well_known.names)
    for d in scan.path_dirs:
        if d.system:
            names.update(d.exes)
    return names


def check(scan: Scan) -> list[Finding]:
    refs = reference_names(scan)
    exempt = exempt_names(scan)
    folded: dict[str, str] = {}
    skel: dict[str, str] = {}
    for r in sorted(exempt) + sorted(refs - exempt):  # commands in their own right first
        folded.setdefault(r.casefold(), r)
        skel.setdefault(skeleton(unicodedata.normalize("NFKC", r)), r)
    out: list[Finding] = []
    for x in scan.exes():
        hit = classify(x.name, exempt, refs, folded, skel)
        if hit is None:
            continue
        if x.dir.system and scan.os_owned(x.real):
            continue  # both names shipped by the OS (e.g. GET and get): not a plant
        rule, target = hit
        prov = scan.provenance(x.invoked, x.real)
        t = scan.trust(x.invoked, x.real)
        sev = rule.severity if not t.trusted else "low"
        out.append(
            Finding(
                rule.id,
                sev,
                f"{safe(x.invoked)} looks like the command {safe(target)!r} "
                f"({_codepoints(x.name)}); {t.status} [{short(prov)}]",
                [x.invoked],
                {x.invoked: prov},
                fix=f"{remove_hint(prov, x.invoked)}; if it is really yours: "
                f"{trust_hint(x.invoked)}",
                name=x.name,
            )
        )
    return out
