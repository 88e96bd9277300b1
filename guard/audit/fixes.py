"""Fix texts: the concrete command that removes or approves a file, from its provenance."""

from __future__ import annotations

import os

from guard.model import Provenance, shell_quote
from guard.textsafe import safe


def q(path: str) -> str:
    """A path escaped for the terminal and quoted for the shell."""
    return shell_quote(safe(path))


def remove_hint(prov: Provenance | None, path: str) -> str:
    """How to get rid of ``path`` the way it was installed."""
    d = (prov.detail if prov else None) or {}
    if prov is not None and prov.kind == "pip" and prov.package:
        env = d.get("env")
        pip = f"{q(os.path.join(str(env), 'bin', 'python'))} -m pip" if env else "pip"
        return f"{pip} uninstall {shell_quote(safe(prov.package))}"
    if prov is not None and prov.kind == "npm" and prov.package:
        project = _npm_project(path)
        where = f"cd {q(project)} && " if project else ""
        return f"{where}npm uninstall {shell_quote(safe(prov.package))}"
    if prov is not None and prov.kind == "homebrew" and prov.package:
        return f"brew uninstall {shell_quote(safe(prov.package))}"
    if prov is not None and prov.kind in ("dpkg", "rpm") and prov.package:
        tool = "apt-get install --reinstall" if prov.kind == "dpkg" else "dnf reinstall"
        return f"{tool} {shell_quote(safe(prov.package))}"
    return f"rm {q(path)}"


def _npm_project(path: str) -> str | None:
    """The project dir of ``…/node_modules/.bin/NAME``; None for a global prefix."""
    parts = path.split("/")
    if len(parts) >= 3 and parts[-3:-1] == ["node_modules", ".bin"]:
        return "/".join(parts[:-3]) or "/"
    return None


def trust_hint(path: str) -> str:
    return f"guard trust {q(path)}"


def reinstall_hint(prov: Provenance | None, path: str) -> str:
    """How to put back the packaged version of ``path``."""
    hint = remove_hint(prov, path)
    if prov is not None and prov.kind == "pip":
        return hint.replace(" uninstall ", " install --force-reinstall --no-deps ")
    if prov is not None and prov.kind == "npm":
        return hint.replace("npm uninstall", "npm install --force")
    return hint
