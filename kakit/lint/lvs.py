"""LVS ``virtual_server`` pitfalls: DR without real-server setup, port remapping, NAT's return path."""

from __future__ import annotations

from kakit.lint.base import Finding, Rule
from kakit.lint.model import address, network

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import ClassVar

    from kakit.lint.base import Context


class LvsRule(Rule):
    """What a virtual_server needs beyond this file, and what keepalived silently rewrites."""

    codes: ClassVar[dict[str, str]] = {
        "lvs-dr": "lb_kind DR/TUN: each real server must hold the VIP and ignore ARP for it",
        "lvs-dr-port": "lb_kind DR/TUN with a real_server port other than the virtual_server's",
        "lvs-nat-gateway": "lb_kind NAT: real servers must route replies through a floating VIP",
        "lvs-vip": "a virtual_server address that no vrrp_instance of this file moves",
    }

    def check(self, context: Context) -> Iterator[Finding]:
        """Findings for each virtual_server given by address (fwmark and group ones skipped)."""
        node = context.node
        vips = [v for i in node.instances for v in (*i.vips, *i.excluded)]
        vip_addresses = {str(address(v.text)) for v in vips}
        for server in node.virtual_servers:
            if not server.address:
                continue
            kind = server.lb_kind or "NAT"  # keepalived's default forwarding method
            if kind in ("DR", "TUN"):
                yield self.at(
                    server.item,
                    "info",
                    "lvs-dr",
                    f"lb_kind {kind}: every real server must have {server.address} on lo and "
                    "arp_ignore=1, arp_announce=2, or it drops (or answers ARP for) the "
                    "forwarded packets",
                    f"on each real server: kakit realserver up {server.address}",
                )
                for real in server.real_servers:
                    if real.port and server.port and real.port != server.port:
                        yield self.at(
                            real.item,
                            "error",
                            "lvs-dr-port",
                            f"lb_kind {kind} cannot change ports: real server {real.address} "
                            f"port {real.port} is reset to {server.port}",
                            f"make the real server listen on {server.port} and write that port, "
                            "or use lb_kind NAT",
                        )
            elif kind == "NAT" and node.instances:  # a lone director is its own gateway
                for real in server.real_servers:
                    real_address = address(real.address)
                    if real_address is None:
                        continue
                    covering = [
                        v.text
                        for v in vips
                        if (net := network(v.text)) is not None
                        and net.prefixlen < net.max_prefixlen
                        and real_address in net
                    ]
                    if not covering:
                        yield self.at(
                            real.item,
                            "warning",
                            "lvs-nat-gateway",
                            f"lb_kind NAT: replies from {real.address} reach clients only "
                            "through the active director, and no VIP of this file is on its "
                            "network to serve as its default gateway (after a failover its "
                            "replies go to the wrong node or bypass NAT)",
                            f"add a VIP on {real.address}'s network (with its prefix) to a "
                            "vrrp_instance and make it the real servers' default gateway, or "
                            "use lb_kind DR",
                        )
            if node.instances and str(address(server.address)) not in vip_addresses:
                yield self.at(
                    server.item,
                    "warning",
                    "lvs-vip",
                    f"virtual_server {server.address} is not a virtual_ipaddress of any "
                    "vrrp_instance here: the service address does not move on failover",
                    f"add {server.address} to the virtual_ipaddress of the instance that "
                    "carries the service",
                )
