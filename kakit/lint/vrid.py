"""Two instances of one node with the same virtual_router_id on one interface."""

from __future__ import annotations

from kakit.lint.base import Finding, Rule
from kakit.lint.model import address

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import ClassVar

    from kakit.lint.base import Context
    from kakit.lint.model import Instance


def _family(instance: Instance) -> int:
    first = address(instance.vips[0].text) if instance.vips else None
    return first.version if first is not None else 4


def _share_a_channel(one: Instance, other: Instance) -> bool:
    """Whether the two would hear each other's adverts (keepalived's exceptions excluded).

    Unicast instances whose peer lists do not overlap, and multicast instances with
    different ``mcast_dst_ip``, may share a VRID (keepalived.conf(5), virtual_router_id).
    """
    if one.unicast_peers and other.unicast_peers:
        mine = {str(address(p.text)) for p in one.unicast_peers}
        return bool(mine & {str(address(p.text)) for p in other.unicast_peers})
    if one.unicast_peers or other.unicast_peers:
        return False
    return one.mcast_dst == other.mcast_dst


class VridRule(Rule):
    """keepalived refuses a second instance with a VRID already used on its interface."""

    codes: ClassVar[dict[str, str]] = {
        "vrid-collision": "two instances with one virtual_router_id on one interface"
    }

    def check(self, context: Context) -> Iterator[Finding]:
        """One finding per instance that repeats an earlier one's VRID and interface."""
        seen: list[Instance] = []
        for instance in context.node.instances:
            for earlier in seen:
                if (
                    instance.vrid
                    and instance.vrid == earlier.vrid
                    and instance.interface == earlier.interface
                    and _family(instance) == _family(earlier)
                    and _share_a_channel(instance, earlier)
                ):
                    yield self.at(
                        instance.first("virtual_router_id") or instance.item,
                        "error",
                        "vrid-collision",
                        f"{instance.name} and {earlier.name} ({earlier.item.where}) both use "
                        f"VRID {instance.vrid} on {instance.interface or 'the same interface'}: "
                        "each reads the other's adverts as its own group's",
                        "give each instance on an interface its own virtual_router_id (1-255)",
                    )
                    break
            seen.append(instance)
