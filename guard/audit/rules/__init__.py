"""One module per rule family. Each exposes ``RULES`` (its ``Rule`` descriptions) and
``check(scan) -> list[Finding]``; ``guard.audit.runner`` runs them in ``FAMILIES`` order."""

from __future__ import annotations

from guard.audit.rules import (
    collisions,
    confusables,
    drift,
    interpreter,
    path_hygiene,
    shadows,
    shell_state,
)

FAMILIES = (path_hygiene, shadows, collisions, confusables, interpreter, drift, shell_state)
