"""Where guard keeps things: platformdirs user dirs (XDG_* on Linux), overridable for tests only
through those same XDG variables."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

APP = "guard"


@dataclass(frozen=True)
class Locations:
    config_dir: Path
    data_dir: Path
    state_dir: Path
    cache_dir: Path

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.yaml"

    @property
    def allowlist_file(self) -> Path:
        return self.config_dir / "allowlist.yaml"

    @property
    def lock_file(self) -> Path:
        return self.config_dir / ".allowlist.lock"

    @property
    def events_file(self) -> Path:
        return self.state_dir / "events.jsonl"

    @property
    def verify_cache_file(self) -> Path:
        return self.cache_dir / "verified.json"

    @property
    def allowlist_index_file(self) -> Path:
        return self.cache_dir / "allowlist.idx.json"

    @property
    def dpkg_index_file(self) -> Path:
        return self.cache_dir / "dpkg-index.json"


def locations() -> Locations:
    """Read the dirs fresh each call: tests (and users) change XDG_* between calls."""
    import platformdirs

    return Locations(
        config_dir=Path(platformdirs.user_config_dir(APP, appauthor=False)),
        data_dir=Path(platformdirs.user_data_dir(APP, appauthor=False)),
        state_dir=Path(platformdirs.user_state_dir(APP, appauthor=False)),
        cache_dir=Path(platformdirs.user_cache_dir(APP, appauthor=False)),
    )
