"""LVS-DR real servers: the VIPs on ``lo`` and the ARP sysctls that keep them quiet.

In LVS direct routing the director forwards a packet for the VIP unchanged, to the real
server's MAC address; the real server must accept it (the VIP is one of its own addresses, held
as a /32 or /128 on ``lo``) but must never answer ARP for it, or clients and routers would send
the VIP's traffic straight to one real server. Linux answers ARP for any of its addresses on any
interface unless ``arp_ignore=1`` (answer only for addresses of the interface the request came
in on) and announces them as ARP sources unless ``arp_announce=2`` (use the outgoing interface's
own address). ``docs/pair.md`` ("LVS-DR real servers") has the whole story.

- :mod:`kakit.core.netlink`: the kernel's addresses, listed, added and removed.
- :mod:`kakit.realserver.apply`: ``up``, ``down`` and ``status``, and the state file that lets
  ``down`` restore what ``up`` found.

This module holds the input rules shared by the command line, the ``realserver`` section of
kakit.yaml and the ``realserver`` check type.
"""

from __future__ import annotations

from kakit.core.converters import Node, list_of
from kakit.core.record import frozen, option

HOLDER = "lo"
"""The interface a real server holds its VIPs on."""

DEFAULT_INTERFACES = ("all", "lo")
"""Where the ARP sysctls are set unless interfaces are named (the kernel uses the larger of
``all`` and the interface's own value for both keys, so ``all`` covers every interface)."""

ARP_SETTINGS = (("arp_ignore", "1"), ("arp_announce", "2"))
"""The sysctls below ``net.ipv4.conf.<interface>`` and the values a real server needs."""

MAX_IFNAME = 15
"""The kernel's limit on interface names (IFNAMSIZ less the terminating NUL)."""


def parse_vip(text: str) -> str:
    """A VIP as canonical text (``10.0.0.100``, ``2001:db8::100``).

    ``/32`` (or ``/128``) may follow the address; any other prefix is refused, because a real
    server must hold exactly the one address on ``lo``: a ``/24`` there makes the whole subnet
    local and unreachable.

    Raises:
        ValueError: Not an IP address, a prefix other than the host's, a zone (``%eth0``), or
            an address that can never be a VIP (loopback, multicast, unspecified, link-local).
    """
    import ipaddress

    address, slash, prefix = text.strip().partition("/")
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        raise ValueError(
            f"{text!r} is not an IP address (a VIP such as 10.0.0.100 or 2001:db8::100; "
            "no host names)"
        ) from None
    zone = getattr(parsed, "scope_id", None)
    if zone:
        # ipaddress accepts "2001:db8::1%eth0"; the kernel's address has no zone, so such a
        # VIP could be recorded but never added, found or removed.
        raise ValueError(f"{text!r}: a VIP has no zone (%{zone}): give the address alone")
    if slash and prefix != str(parsed.max_prefixlen):
        raise ValueError(
            f"{text!r}: give the VIP alone (or /{parsed.max_prefixlen}), not a netmask: a real "
            f"server holds it as a single /{parsed.max_prefixlen} address on {HOLDER}"
        )
    if (
        parsed.is_loopback
        or parsed.is_multicast
        or parsed.is_unspecified
        or parsed.is_link_local
        or parsed.is_reserved
    ):
        # Reserved takes 240.0.0.0/4 too: 255.255.255.0 given as a second "VIP" is a netmask.
        raise ValueError(
            f"{text!r} cannot be a VIP (a loopback, multicast, link-local, reserved or "
            "unspecified address; a netmask is not given separately)"
        )
    return str(parsed)


def parse_interface(text: str) -> str:
    """An interface name for ``net.ipv4.conf.<name>`` (``all``, ``default`` and ``lo`` too).

    Raises:
        ValueError: Empty, longer than the kernel allows, or with a character that cannot be
            in one (``/``, ``:``, spaces), or ``.``/``..``: each would name another file.
    """
    name = text.strip()
    if (
        not name
        or len(name) > MAX_IFNAME
        or name in (".", "..")
        or any(char in "/:" or char.isspace() or not char.isprintable() for char in name)
    ):
        raise ValueError(
            f"{text!r} is not an interface name (up to {MAX_IFNAME} characters, no '/', ':' or "
            "spaces; all, lo, eth0)"
        )
    return name


def _vips(node: Node) -> tuple[str, ...]:
    def one(item: Node) -> str:
        if not isinstance(item.value, str):
            raise item.error("a VIP such as 10.0.0.100 (an IP address, quoted for IPv6)")
        try:
            return parse_vip(item.value)
        except ValueError as exc:
            raise item.error(str(exc), show_value=False) from None

    found: tuple[str, ...] = list_of(one)(node)
    if not found:
        raise node.error("at least one VIP")
    return found


def _interfaces(node: Node) -> tuple[str, ...]:
    def one(item: Node) -> str:
        if not isinstance(item.value, str):
            raise item.error("an interface name such as all, lo or eth0")
        try:
            return parse_interface(item.value)
        except ValueError as exc:
            raise item.error(str(exc), show_value=False) from None

    found: tuple[str, ...] = list_of(one)(node)
    if not found:
        raise node.error("at least one interface (all, lo)")
    return found


def optional_vips(node: Node) -> tuple[str, ...] | None:
    """A list of VIPs (see :func:`parse_vip`), or null."""
    return None if node.value is None else _vips(node)


def optional_interfaces(node: Node) -> tuple[str, ...] | None:
    """A list of interface names (see :func:`parse_interface`), or null."""
    return None if node.value is None else _interfaces(node)


@frozen
class RealserverSettings:
    """The ``realserver`` section of kakit.yaml: what ``kakit realserver`` and the
    ``realserver`` check use when given no VIPs of their own.

    Attributes:
        vips: The VIPs held on ``lo``.
        interfaces: Where ``arp_ignore`` and ``arp_announce`` are set.
    """

    vips: tuple[str, ...] = option(_vips)
    interfaces: tuple[str, ...] = option(_interfaces, default=DEFAULT_INTERFACES)
