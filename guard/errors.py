"""One error root, so the CLI can turn any user-facing failure into a clear line and exit 2."""

from __future__ import annotations

EXIT_ALLOW = 0
EXIT_DENY = 1
EXIT_ERROR = 2


class GuardError(Exception):
    """A failure the user can act on; its message is shown without a traceback."""

    exit_code = EXIT_ERROR


class ConfigError(GuardError):
    """config.yaml or the allowlist is malformed, unsafe or unreadable."""


class LockTimeout(GuardError):
    """Another guard process held the allowlist lock for too long."""
