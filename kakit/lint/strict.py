"""``vrrp_strict``: what strict RFC compliance costs a VIP that carries real traffic."""

from __future__ import annotations

from kakit.lint.base import Finding, Rule
from kakit.lint.model import address

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import ClassVar

    from kakit.lint.base import Context


class StrictRule(Rule):
    """vrrp_strict turns on no_accept (VIPs drop all but VRRP), and refuses unicast and auth."""

    codes: ClassVar[dict[str, str]] = {
        "strict-vip": "vrrp_strict: a non-owner master drops every packet to its VIPs (no accept)",
        "strict-unicast": "vrrp_strict with unicast_peer, which strict mode does not allow",
        "strict-auth": "vrrp_strict with authentication: keepalived ignores the authentication",
        "strict-state": "vrrp_strict with state MASTER below priority 255: keepalived overrides it",
    }

    def check(self, context: Context) -> Iterator[Finding]:
        """Findings for each instance of a node with ``vrrp_strict``."""
        node = context.node
        served = {str(address(vs.address)) for vs in node.virtual_servers if vs.address}
        for instance in node.instances:
            if not instance.strict:
                continue
            owner = instance.priority == 255
            if instance.vips and not owner and not instance.accept:
                carried = [v.text for v in instance.vips if str(address(v.text)) in served]
                if carried:
                    severity = "error"
                    what = f"{', '.join(carried)} (a virtual_server's address)"
                else:
                    severity = "warning"
                    what = "its VIPs"
                yield self.at(
                    instance.item,
                    severity,
                    "strict-vip",
                    f"{instance.name}: vrrp_strict implies no_accept: while this node is MASTER, "
                    f"nothing sent to {what} is answered, ping or connection (keepalived's "
                    "firewall rule drops all but VRRP)",
                    "remove vrrp_strict (strict mode allows `accept` only with VRRP version 3: "
                    f"`version 3` and `accept` in {instance.name} on both nodes)",
                )
            if instance.unicast_peers:
                yield self.at(
                    instance.unicast_peers[0].item,
                    "warning",
                    "strict-unicast",
                    f"{instance.name}: vrrp_strict does not allow unicast_peer (keepalived's "
                    "documentation; 2.2.7 still runs it, other versions remove the instance)",
                    "remove vrrp_strict, or use multicast (remove unicast_peer)",
                )
            auth = instance.first("authentication")
            if auth is not None:
                yield self.at(
                    auth,
                    "warning",
                    "strict-auth",
                    f"{instance.name}: vrrp_strict ignores authentication (keepalived logs "
                    "'Strict mode does not support authentication. Ignoring.')",
                    "remove the authentication block, or remove vrrp_strict",
                )
            state = instance.first("state")
            if instance.state == "MASTER" and not owner and state is not None:
                yield self.at(
                    state,
                    "warning",
                    "strict-state",
                    f"{instance.name}: with vrrp_strict only the address owner (priority 255) "
                    "may start as MASTER; keepalived starts it as BACKUP",
                    "write `state BACKUP` (the priorities decide the master), or remove vrrp_strict",
                )
