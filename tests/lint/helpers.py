"""Building keepalived.conf text for the lint tests, and linting it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kakit.lint import lint, read
from kakit.lint.base import Finding

GLOBAL = "global_defs {\n    enable_script_security\n    script_user root\n}\n"


def instance(
    name: str = "VI_1",
    body: str = "",
    *,
    vrid: int = 51,
    vip: str = "10.213.7.100/24",
    priority: int = 100,
    state: str = "BACKUP",
) -> str:
    """A vrrp_instance on eth0 with ``body`` added inside."""
    return (
        f"vrrp_instance {name} {{\n    state {state}\n    interface eth0\n"
        f"    virtual_router_id {vrid}\n    priority {priority}\n"
        f"    virtual_ipaddress {{\n        {vip}\n    }}\n{body}}}\n"
    )


def write(directory: Path, text: str, name: str = "keepalived.conf") -> Path:
    """``text`` as ``directory/name``."""
    path = directory / name
    path.write_text(text)
    return path


def findings(
    directory: Path, text: str, peer: str | None = None, config: Any = None
) -> list[Finding]:
    """Lint ``text`` (and a peer file) written under ``directory``."""
    node = read(str(write(directory, text)))
    other = read(str(write(directory, peer, "peer.conf"))) if peer is not None else None
    return lint(node, other, config)


def rules(found: list[Finding]) -> set[str]:
    """The rule ids of some findings."""
    return {finding.rule for finding in found}
