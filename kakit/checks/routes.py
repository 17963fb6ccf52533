"""The default gateway, read from /proc without spawning ``ip route``.

``/proc/net/route`` shows the main table only (policy routing and VRF tables are invisible) and
holds addresses as host-order hex; ``/proc/net/ipv6_route`` has no header and also lists
local-table and ``lo`` reject entries that must be skipped (docs/architecture.md, "Routes
without a shell").
"""

from __future__ import annotations

import ipaddress
import struct

from kakit.core.record import frozen
from kakit.exceptions import CheckError

RTF_UP = 0x1
RTF_GATEWAY = 0x2
RTF_REJECT = 0x200
IPV4_ROUTES = "/proc/net/route"
IPV6_ROUTES = "/proc/net/ipv6_route"


@frozen
class Route:
    """A default route: gateway address, interface and metric."""

    gateway: str
    interface: str
    metric: int


def parse_ipv4_routes(text: str) -> list[Route]:
    """Default routes from the text of ``/proc/net/route``, lowest metric first."""
    routes = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8:
            continue
        iface, destination, gateway, flags_hex, _ref, _use, metric, mask = fields[:8]
        flags = int(flags_hex, 16)
        if destination != "00000000" or mask != "00000000":
            continue
        if flags & (RTF_UP | RTF_GATEWAY) != RTF_UP | RTF_GATEWAY or flags & RTF_REJECT:
            continue
        address = ".".join(str(octet) for octet in struct.pack("<L", int(gateway, 16)))
        routes.append(Route(gateway=address, interface=iface, metric=int(metric)))
    return sorted(routes, key=lambda route: route.metric)


def parse_ipv6_routes(text: str) -> list[Route]:
    """Default routes from the text of ``/proc/net/ipv6_route``, lowest metric first."""
    routes = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 10:
            continue
        destination, prefix_len, _src, _src_len, nexthop, metric, _ref, _use, flags_hex = fields[:9]
        iface = fields[9]
        flags = int(flags_hex, 16)
        if destination != "0" * 32 or prefix_len != "00" or nexthop == "0" * 32 or iface == "lo":
            continue
        if flags & (RTF_UP | RTF_GATEWAY) != RTF_UP | RTF_GATEWAY or flags & RTF_REJECT:
            continue
        address = str(ipaddress.IPv6Address(bytes.fromhex(nexthop)))
        routes.append(Route(gateway=address, interface=iface, metric=int(metric, 16)))
    return sorted(routes, key=lambda route: route.metric)


def _read(path: str) -> str:
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            return handle.read()
    except FileNotFoundError:
        return ""
    except OSError as exc:
        raise CheckError(f"cannot read {path}: {exc.strerror or exc}") from exc


def default_gateway(family: int | None = None) -> Route:
    """The default route with the lowest metric: IPv4 first, then IPv6.

    Args:
        family: 4 or 6 to look only there; None tries IPv4, then IPv6.

    Raises:
        CheckError: There is no default route in the main table.
    """
    if family in (None, 4):
        routes = parse_ipv4_routes(_read(IPV4_ROUTES))
        if routes:
            return routes[0]
    if family in (None, 6):
        routes = parse_ipv6_routes(_read(IPV6_ROUTES))
        if routes:
            return routes[0]
    where = {None: "IPv4 or IPv6", 4: "IPv4", 6: "IPv6"}[family]
    raise CheckError(f"no {where} default route in the main routing table (target: auto)")
