"""A VIP that is also a node's own address: leaving MASTER removes the node's address."""

from __future__ import annotations

from kakit.lint.base import Finding, Rule
from kakit.lint.model import address

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import ClassVar

    from kakit.lint.base import Context


class AddressRule(Rule):
    """VIPs against the node addresses the files name (sources, unicast peers, the peer file)."""

    codes: ClassVar[dict[str, str]] = {
        "vip-node-address": "a virtual_ipaddress equal to a node's own address"
    }

    def check(self, context: Context) -> Iterator[Finding]:
        """One finding per VIP equal to a known node address."""
        known: dict[str, str] = {}
        for text, item in context.node.source_addresses.items():
            known.setdefault(str(address(text)), f"this node's source address ({item.where})")
        for instance in context.node.instances:
            for peer in instance.unicast_peers:
                known.setdefault(str(address(peer.text)), f"a unicast_peer ({peer.item.where})")
        if context.peer is not None:
            for text, item in context.peer.source_addresses.items():
                known.setdefault(str(address(text)), f"the peer's source address ({item.where})")
        known.pop("None", None)
        for instance in context.node.instances:
            for vip in (*instance.vips, *instance.excluded):
                owner = known.get(str(address(vip.text)))
                if owner is None:
                    continue
                yield self.at(
                    vip.item,
                    "error",
                    "vip-node-address",
                    f"{instance.name}: VIP {vip.text} is {owner}: keepalived deletes a VIP "
                    "when it leaves MASTER (or stops), taking the node's own address with it, "
                    "and both nodes claim it",
                    "use a free address of the subnet as the VIP",
                )
