"""config.yaml: mode and policy knobs. Absent file = defaults; GUARD_MODE overrides the mode."""

from __future__ import annotations

import os

from guard.errors import ConfigError
from guard.fsutil import check_private_file
from guard.model import Mode
from guard.textsafe import safe

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~4 ms per check

if TYPE_CHECKING:
    from typing import Any

    from guard.paths import Locations

DEFAULTS: dict[str, Any] = {
    "mode": Mode.BLOCK,
    "trust_os_packages": True,
    "max_hash_bytes": 1 << 30,
    "events_max_bytes": 1 << 20,
    "prompt_new_commands": True,
}
_TYPES: dict[str, type] = {k: type(v) for k, v in DEFAULTS.items()}


class Config:
    __slots__ = (
        "mode",
        "trust_os_packages",
        "max_hash_bytes",
        "events_max_bytes",
        "prompt_new_commands",
        "source",
    )

    def __init__(self, values: dict[str, Any], source: str) -> None:
        self.mode: str = values["mode"]
        self.trust_os_packages: bool = values["trust_os_packages"]
        self.max_hash_bytes: int = values["max_hash_bytes"]
        self.events_max_bytes: int = values["events_max_bytes"]
        self.prompt_new_commands: bool = values["prompt_new_commands"]
        self.source = source  # where the mode came from: "default", "config" or "GUARD_MODE"


def validate(path: str, doc: Any) -> dict[str, Any]:
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ConfigError(f"{safe(path)}: expected a mapping of settings at the top level")
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if key not in _TYPES:
            raise ConfigError(
                f"{safe(path)}: unknown setting {safe(str(key))!r} "
                f"(known: {', '.join(sorted(_TYPES))})"
            )
        want = _TYPES[key]
        if not isinstance(value, want) or (want is int and isinstance(value, bool)):
            raise ConfigError(
                f"{safe(path)}: {key} must be a {want.__name__}, got {safe(repr(value))}"
            )
        if key == "mode" and value not in Mode.ALL:
            raise ConfigError(f"{safe(path)}: mode must be block, warn or monitor")
        if want is int and value <= 0:
            raise ConfigError(f"{safe(path)}: {key} must be positive")
        out[key] = value
    return out


def _encode(values: dict[str, Any]) -> bytes:
    return "".join(f"{k}={v!r}\n" for k, v in values.items()).encode()


def _decode(blob: bytes) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for line in blob.decode().splitlines():
        k, _, v = line.partition("=")
        want = _TYPES[k]
        if want is bool:
            out[k] = v == "True"
        elif want is int:
            out[k] = int(v)
        else:
            out[k] = v.strip("'")
    return out


def parse_mode(value: str, origin: str) -> str:
    mode = value.strip().lower()
    if mode not in Mode.ALL:
        raise ConfigError(f"{origin}={safe(value)!r} is not a mode; use block, warn or monitor")
    return mode


def load_config(loc: Locations) -> Config:
    from guard.yamlstore import load_indexed

    check_private_file(loc.config_file, "config")
    doc, _ = load_indexed(loc.config_file, loc.index_file("config"), validate, _encode, _decode)
    values = dict(DEFAULTS)
    values.update(doc or {})
    source = "config" if doc and "mode" in doc else "default"
    env_mode = os.environ.get("GUARD_MODE")
    if env_mode:
        values["mode"] = parse_mode(env_mode, "GUARD_MODE")
        source = "GUARD_MODE"
    return Config(values, source)
