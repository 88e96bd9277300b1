"""guard: stop command-jacking at the moment a command is about to run.

The public API is small and lazy (``guard check`` must start fast):

    from guard.decide import decide
    verdict = decide("aws")          # -> guard.model.Verdict
"""

import os as _os
import sys as _sys

__version__ = "0.1.0"


def _drop_script_dir() -> None:
    """Run as a console script, Python puts the script's directory first on sys.path, so a
    planted ``hashlib.py`` beside a ``guard`` installed with ``pip install --user`` would be
    imported in guard's place. guard needs nothing from that directory. (The hooks run guard as
    ``python -I -c …`` and install.sh uses a venv of guard's own, so neither depends on this;
    it narrows the damage of an install that shares its bin directory.)"""
    if not _sys.path or not _sys.argv or not _sys.path[0]:
        return
    script = _sys.argv[0]
    if script.startswith("-") or not _os.path.isfile(script):
        return
    here = _os.path.dirname(_os.path.realpath(script))
    if _os.path.realpath(_sys.path[0]) == here:
        del _sys.path[0]


_drop_script_dir()
