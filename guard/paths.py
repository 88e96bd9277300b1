"""Where guard keeps things: the platformdirs user dirs (on Linux: XDG_CONFIG_HOME,
XDG_DATA_HOME, XDG_STATE_HOME, XDG_CACHE_HOME, each defaulting as the XDG spec says).

On Linux the four paths are computed here exactly as platformdirs' Unix backend computes them
(tests/core/test_paths.py holds the two to the same answers), because importing platformdirs
and pathlib costs more than the rest of a cached `guard check`. Elsewhere platformdirs decides.
Paths are plain strings for the same reason.
"""

from __future__ import annotations

import os
import sys

APP = "guard"

_XDG_DEFAULTS = {
    "XDG_CONFIG_HOME": "~/.config",
    "XDG_DATA_HOME": "~/.local/share",
    "XDG_STATE_HOME": "~/.local/state",
    "XDG_CACHE_HOME": "~/.cache",
}


class Locations:
    __slots__ = ("config_dir", "data_dir", "state_dir", "cache_dir")

    def __init__(self, config_dir: str, data_dir: str, state_dir: str, cache_dir: str) -> None:
        self.config_dir = config_dir
        self.data_dir = data_dir
        self.state_dir = state_dir
        self.cache_dir = cache_dir

    @property
    def config_file(self) -> str:
        return os.path.join(self.config_dir, "config.yaml")

    @property
    def allowlist_file(self) -> str:
        return os.path.join(self.config_dir, "allowlist.yaml")

    @property
    def lock_file(self) -> str:
        return os.path.join(self.config_dir, ".allowlist.lock")

    @property
    def events_file(self) -> str:
        return os.path.join(self.state_dir, "events.jsonl")

    @property
    def verify_cache_file(self) -> str:
        return os.path.join(self.cache_dir, "verified.v1")

    @property
    def stamps_dir(self) -> str:
        return os.path.join(self.cache_dir, "stamps")

    def index_file(self, name: str) -> str:
        return os.path.join(self.cache_dir, f"{name}.idx")


def _home() -> str:
    home = os.environ.get("HOME", "")
    if home.startswith("/"):
        return home
    import pwd  # a relative or missing HOME counts as unset, as in platformdirs

    return pwd.getpwuid(os.getuid()).pw_dir


def _xdg(var: str) -> str:
    """The XDG spec: an absolute value wins; a relative or empty one is ignored."""
    path = os.environ.get(var, "")
    if not path.startswith("/"):
        path = _home().rstrip("/") + _XDG_DEFAULTS[var][1:]  # HOME=/ or /h/: as platformdirs
    return os.path.join(path, APP)


def locations() -> Locations:
    """Read the dirs fresh each call: tests (and users) change XDG_* between calls."""
    if sys.platform.startswith("linux"):
        return Locations(
            _xdg("XDG_CONFIG_HOME"),
            _xdg("XDG_DATA_HOME"),
            _xdg("XDG_STATE_HOME"),
            _xdg("XDG_CACHE_HOME"),
        )
    return platformdirs_locations()


def platformdirs_locations() -> Locations:
    import platformdirs

    return Locations(
        platformdirs.user_config_dir(APP, appauthor=False),
        platformdirs.user_data_dir(APP, appauthor=False),
        platformdirs.user_state_dir(APP, appauthor=False),
        platformdirs.user_cache_dir(APP, appauthor=False),
    )
