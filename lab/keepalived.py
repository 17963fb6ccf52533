"""keepalived.conf text for lab nodes."""

from __future__ import annotations

import re
from typing import Protocol

_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
_STATES = ("MASTER", "BACKUP")


class HasName(Protocol):
    """Anything with a ``name``, such as a lab `Node`."""

    @property
    def name(self) -> str:
        """The node name, used as keepalived's ``router_id``."""
        ...


def _indent(text: str, depth: int) -> list[str]:
    """Strip each non-empty line of ``text`` and indent it ``depth`` levels."""
    pad = "    " * depth
    return [pad + line.strip() for line in text.splitlines() if line.strip()]


def vrrp_instance_conf(
    node: HasName,
    *,
    priority: int,
    vip: str,
    state: str = "BACKUP",
    vrid: int = 51,
    advert_int: float = 1,
    track_scripts: dict[str, str] | None = None,
    extra_instance: str = "",
    extra_global: str = "",
    extra_top: str = "",
    interface: str = "eth0",
    vip_dev: str | None = None,
) -> str:
    """Build a complete keepalived.conf with one VRRP instance ``VI_1`` on ``eth0``.

    The instance keeps keepalived's default ``preempt``, so a BACKUP-state node with the
    highest priority still takes the VIP over.

    Args:
        node: The node the file is for; its name becomes ``router_id``.
        priority: VRRP priority, 1-255.
        vip: Virtual address; ``/24`` is appended unless it already has a prefix length.
        state: Initial state, ``MASTER`` or ``BACKUP``.
        vrid: ``virtual_router_id``, 1-255; must match on all nodes of the pair.
        advert_int: Advertisement interval in seconds.
        track_scripts: Map of ``vrrp_script`` name to the lines inside its block (for
            example ``'script "/x/kacheck nginx"\\ninterval 1\\nfall 1\\nrise 1\\nweight 0'``);
            every script is also listed in the instance's ``track_script`` block.
        extra_instance: Extra lines appended inside ``vrrp_instance VI_1``.
        extra_global: Extra lines appended inside ``global_defs``.
        extra_top: Extra top-level blocks (``track_file``, ``bfd_instance``...) placed
            before the instance.
        interface: The interface VRRP adverts use.
        vip_dev: The interface the VIP goes on when it is not ``interface`` (VRRP on a
            heartbeat link, the VIP on the service network).

    Returns:
        The configuration text, ending with a newline.

    Raises:
        ValueError: An argument is out of range or a script name is not a plain word.
    """
    state = state.upper()
    if state not in _STATES:
        raise ValueError(f"state must be MASTER or BACKUP, not {state!r}")
    if not 1 <= priority <= 255:
        raise ValueError(f"priority must be 1-255, not {priority}")
    if not 1 <= vrid <= 255:
        raise ValueError(f"vrid must be 1-255, not {vrid}")
    if advert_int <= 0:
        raise ValueError(f"advert_int must be positive, not {advert_int}")
    scripts = dict(track_scripts or {})
    for name in scripts:
        if not _NAME_RE.match(name):
            raise ValueError(f"vrrp_script name must be a plain word, not {name!r}")
    cidr = vip if "/" in vip else f"{vip}/24"
    if vip_dev is not None:
        cidr += f" dev {vip_dev}"

    lines = [
        f"# kakit lab: keepalived.conf for node {node.name} (generated)",
        "global_defs {",
        f"    router_id {node.name}",
        # Scripts run as root without a keepalived_script user; their paths must then be
        # root-owned and not group/world writable, which keepalived checks at load time.
        "    enable_script_security",
        "    script_user root",
        *_indent(extra_global, 1),
        "}",
        "",
    ]
    for name, body in scripts.items():
        lines += [f"vrrp_script {name} {{", *_indent(body, 1), "}", ""]
    if extra_top.strip():
        lines += [extra_top.strip("\n"), ""]
    lines += [
        "vrrp_instance VI_1 {",
        f"    state {state}",
        f"    interface {interface}",
        f"    virtual_router_id {vrid}",
        f"    priority {priority}",
        f"    advert_int {advert_int:g}",
        "    virtual_ipaddress {",
        f"        {cidr}",
        "    }",
    ]
    if scripts:
        lines += ["    track_script {", *(f"        {name}" for name in scripts), "    }"]
    lines += [*_indent(extra_instance, 1), "}", ""]
    return "\n".join(lines)
