"""config.yaml: mode and policy knobs. Absent file = defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from guard.errors import ConfigError
from guard.fsutil import check_private_file
from guard.model import Mode
from guard.paths import Locations
from guard.textsafe import safe

DEFAULTS: dict[str, Any] = {
    "mode": "block",
    "trust_os_packages": True,
    "max_hash_bytes": 1 << 30,
    "events_max_bytes": 1 << 20,
    "prompt_new_commands": True,
}
_TYPES: dict[str, type] = {
    "mode": str,
    "trust_os_packages": bool,
    "max_hash_bytes": int,
    "events_max_bytes": int,
    "prompt_new_commands": bool,
}


@dataclass(frozen=True)
class Config:
    mode: Mode
    trust_os_packages: bool
    max_hash_bytes: int
    events_max_bytes: int
    prompt_new_commands: bool
    source: Optional[str] = None  # where mode came from: "config", "GUARD_MODE", "default"


def _validate(path: Path, doc: Any) -> dict[str, Any]:
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ConfigError(f"{safe(str(path))}: expected a mapping of settings at the top level")
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if key not in _TYPES:
            raise ConfigError(
                f"{safe(str(path))}: unknown setting {safe(str(key))!r} "
                f"(known: {', '.join(sorted(_TYPES))})"
            )
        want = _TYPES[key]
        if not isinstance(value, want) or (want is int and isinstance(value, bool)):
            raise ConfigError(
                f"{safe(str(path))}: {key} must be a {want.__name__}, got {safe(repr(value))}"
            )
        if key == "mode" and value not in {m.value for m in Mode}:
            raise ConfigError(f"{safe(str(path))}: mode must be block, warn or monitor")
        out[key] = value
    return out


def parse_mode(value: str, origin: str) -> Mode:
    try:
        return Mode(value.strip().lower())
    except ValueError:
        raise ConfigError(
            f"{origin}={safe(value)!r} is not a mode; use block, warn or monitor"
        ) from None


def load_config(loc: Locations) -> Config:
    from guard.yamlstore import load_cached

    check_private_file(loc.config_file, "config")
    doc, _ = load_cached(loc.config_file, loc.cache_dir / "config.idx.json", _validate)
    values = dict(DEFAULTS)
    values.update(doc or {})
    source = "config" if doc and "mode" in doc else "default"
    mode = Mode(values["mode"])
    env_mode = os.environ.get("GUARD_MODE")
    if env_mode:
        mode = parse_mode(env_mode, "GUARD_MODE")
        source = "GUARD_MODE"
    return Config(
        mode=mode,
        trust_os_packages=values["trust_os_packages"],
        max_hash_bytes=values["max_hash_bytes"],
        events_max_bytes=values["events_max_bytes"],
        prompt_new_commands=values["prompt_new_commands"],
        source=source,
    )
