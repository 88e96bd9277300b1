"""Tests of the CI surfaces: `guard exec` (no race between check and exec), `guard lock` and
`guard verify`. They run the real guard CLI as a process in a sandboxed HOME/XDG (the
``guard_env`` fixture) against real files and the real dpkg database."""
