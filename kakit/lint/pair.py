"""Two nodes' files as one pair: the same instance must agree, unicast must be symmetric."""

from __future__ import annotations

from kakit.lint.base import Finding, Rule, pairs
from kakit.lint.model import address

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import ClassVar

    from kakit.lint.base import Context
    from kakit.lint.model import Instance


def _vip_set(instance: Instance) -> set[str]:
    return {_interface(v.text) for v in instance.vips}


def _interface(text: str) -> str:
    """``10.0.0.1/24`` normalised (``10.0.0.1`` is ``/32``), or the text when invalid."""
    import ipaddress

    try:
        return str(ipaddress.ip_interface(text))
    except ValueError:
        return text


class PairRule(Rule):
    """What both nodes must agree on, per instance (``--peer`` only)."""

    codes: ClassVar[dict[str, str]] = {
        "pair-mismatch": "the same instance with another VRID, advert_int, version, "
        "authentication or VIP set on the peer",
        "pair-unicast": "unicast_peer lists that do not name each other",
        "pair-priority": "equal priorities on both nodes (the higher IP address wins)",
        "pair-missing": "an instance the peer's file does not have",
        "pair-source": "both nodes with the same unicast_src_ip/mcast_src_ip",
    }

    def check(self, context: Context) -> Iterator[Finding]:
        """Findings for each instance matched with the peer's (by name, else VRID)."""
        if context.peer is None:
            return
        matched = set()
        for mine, theirs in pairs(context):
            matched.add(mine.name)
            yield from self._compare(mine, theirs)
            yield from self._unicast(mine, theirs)
            if mine.unicast_src and str(address(mine.unicast_src)) == str(
                address(theirs.unicast_src)
            ):
                yield self.at(
                    mine.first("unicast_src_ip") or mine.first("mcast_src_ip") or mine.item,
                    "error",
                    "pair-source",
                    f"{mine.name}: both nodes send adverts from {mine.unicast_src}: at most "
                    "one of them owns it, and each takes the other's adverts for its own",
                    "set each node's own address as its unicast_src_ip/mcast_src_ip",
                )
            if mine.priority is not None and mine.priority == theirs.priority:
                both = mine.state == theirs.state == "MASTER"
                yield self.at(
                    mine.first("priority") or mine.item,
                    "warning",
                    "pair-priority",
                    f"{mine.name}: priority {mine.priority} on both nodes"
                    + (", both state MASTER" if both else "")
                    + ": the node with the higher IP address becomes MASTER, whatever "
                    "`state` says, and which node holds the VIP depends on start order",
                    "give the intended master a clearly higher priority (50 more is keepalived's "
                    "advice); use nopreempt with state BACKUP on both to avoid moving back",
                )
        for instance in context.node.instances:
            if instance.name not in matched:
                yield self.at(
                    instance.item,
                    "warning",
                    "pair-missing",
                    f"{instance.name}: no instance of that name or VRID in "
                    f"{context.peer.path}: nothing takes over its VIPs",
                    "define the same instance on the peer",
                )

    def _compare(self, mine: Instance, theirs: Instance) -> Iterator[Finding]:
        checks = [
            ("virtual_router_id", mine.vrid, theirs.vrid),
            ("advert_int", mine.advert_int, theirs.advert_int),
            ("VRRP version", mine.version, theirs.version),
            ("auth_type", mine.auth_type or "none", theirs.auth_type or "none"),
            # keepalived compares the first 8 characters only (auth-pass-length).
            ("auth_pass", mine.auth_pass[:8], theirs.auth_pass[:8]),
        ]
        for what, one, other in checks:
            if one != other:
                shown = ("(differs)", "(differs)") if what == "auth_pass" else (one, other)
                yield self.at(
                    mine.item,
                    "error",
                    "pair-mismatch",
                    f"{mine.name}: {what} {shown[0]} here, {shown[1]} on the peer "
                    f"({theirs.item.where}): each node drops the other's adverts and both "
                    "become MASTER",
                    f"use the same {what} on both nodes",
                )
        if _vip_set(mine) != _vip_set(theirs):
            only_mine = sorted(_vip_set(mine) - _vip_set(theirs))
            only_theirs = sorted(_vip_set(theirs) - _vip_set(mine))
            yield self.at(
                mine.item,
                "error",
                "pair-mismatch",
                f"{mine.name}: VIP sets differ (here only: {', '.join(only_mine) or '-'}; "
                f"peer only: {', '.join(only_theirs) or '-'}): keepalived drops adverts whose "
                "address list differs (unless vrrp_skip_check_adv_addr), and a failover moves "
                "other addresses than the ones the master held",
                "list the same virtual_ipaddress entries on both nodes",
            )

    def _unicast(self, mine: Instance, theirs: Instance) -> Iterator[Finding]:
        mine_peers = {str(address(p.text)) for p in mine.unicast_peers}
        their_peers = {str(address(p.text)) for p in theirs.unicast_peers}
        if bool(mine_peers) != bool(their_peers):
            unicast = "this node" if mine_peers else "the peer"
            yield self.at(
                mine.item,
                "error",
                "pair-unicast",
                f"{mine.name}: {unicast} sends unicast adverts and the other multicast: "
                "neither hears the other, both become MASTER",
                "use unicast_peer on both nodes (each naming the other), or on neither",
            )
            return
        for source, listed, whose in (
            (theirs.unicast_src, mine_peers, "this node's"),
            (mine.unicast_src, their_peers, "the peer's"),
        ):
            if mine_peers and source and str(address(source)) not in listed:
                yield self.at(
                    mine.unicast_peers[0].item if mine.unicast_peers else mine.item,
                    "error",
                    "pair-unicast",
                    f"{mine.name}: {whose} unicast_peer does not list {source}, the other "
                    "node's unicast_src_ip: adverts from it are dropped (or never sent to it)",
                    f"add {source} to {whose} unicast_peer block",
                )
