"""IPv6 Neighbor Discovery: the Duplicate Address Detection probe, and the frames that answer it.

The IPv6 counterpart of an ARP probe is the Neighbor Solicitation that Duplicate Address
Detection sends (RFC 4862 5.4): "who has TARGET?" from the unspecified source ``::``, to the
target's solicited-node multicast group ``ff02::1:ffXX:XXXX`` (Ethernet ``33:33:ff:XX:XX:XX``),
hop limit 255 and no source link-layer address option. A host that holds TARGET answers with a
Neighbor Advertisement to all nodes (``ff02::1``) naming its link-layer address (RFC 4861
7.2.4); no neighbour cache learns anything from the solicitation, so probing moves no traffic.

What counts as another holder of an address (:func:`claim`):

- a Neighbor Advertisement whose target is the address: the answer to the probe, or the
  unsolicited one a second master sends as it takes the address over;
- a Neighbor Solicitation whose IPv6 source is the address: a sender uses only its own
  addresses as source (RFC 4861 7.2.2). A solicitation from ``::`` for the address (another
  host's own DAD) is not counted: that host does not hold the address yet.

Frames are checked as RFC 4861 7.1 asks (hop limit 255, code 0, a valid checksum, sane option
lengths); anything else decodes to None, so a malformed frame never raises.
"""

from __future__ import annotations

import _socket
import struct

from kakit.vrrp.arp import mac_text

ETH_P_IPV6 = 0x86DD
ICMPV6 = 58
NEIGHBOR_SOLICITATION = 135
NEIGHBOR_ADVERTISEMENT = 136
OPTION_SOURCE_LINK = 1
OPTION_TARGET_LINK = 2
UNSPECIFIED = "::"

_ETHERNET = 14
_IPV6 = struct.Struct("!IHBB16s16s")  # version/class/flow, payload length, next header, hops
_ND = 24  # ICMPv6 type, code, checksum, 4 bytes flags/reserved, 16-byte target
_SOLICITED_NODE = bytes.fromhex("ff0200000000000000000001ff")


class NdPacket:
    """One Neighbor Solicitation or Advertisement, as far as split-brain detection needs it.

    Attributes:
        kind: 135 (solicitation) or 136 (advertisement).
        ethernet_source: The frame's Ethernet source, ``aa:bb:...``.
        source: The IPv6 source (``::`` in a DAD probe).
        target: The address asked about or advertised.
        link_address: The link-layer address option (source for a solicitation, target for an
            advertisement), or "" when there is none.
    """

    __slots__ = ("ethernet_source", "kind", "link_address", "source", "target")

    def __init__(
        self, *, kind: int, ethernet_source: str, source: str, target: str, link_address: str
    ) -> None:
        self.kind = kind
        self.ethernet_source = ethernet_source
        self.source = source
        self.target = target
        self.link_address = link_address


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of ``data``: 0 when ``data`` carries a valid one."""
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _pseudo_header(source: bytes, destination: bytes, length: int) -> bytes:
    """What the ICMPv6 checksum covers before the message (RFC 8200 8.1)."""
    return source + destination + struct.pack("!I3xB", length, ICMPV6)


def solicited_node(target: bytes) -> bytes:
    """The solicited-node multicast address of a 16-byte address: ``ff02::1:ff`` + its last 24 bits."""
    return _SOLICITED_NODE + target[13:]


def probe_frame(mac: bytes, target: str) -> bytes:
    """An Ethernet frame carrying a DAD Neighbor Solicitation for ``target`` from ``mac``.

    Raises:
        OSError: ``target`` is not an IPv6 address.
    """
    packed = _socket.inet_pton(_socket.AF_INET6, target)
    group = solicited_node(packed)
    source = bytes(16)
    message = struct.pack("!BBH4x16s", NEIGHBOR_SOLICITATION, 0, 0, packed)
    sum_ = checksum(_pseudo_header(source, group, len(message)) + message)
    message = message[:2] + struct.pack("!H", sum_) + message[4:]
    header = _IPV6.pack(6 << 28, len(message), ICMPV6, 255, source, group)
    return b"\x33\x33" + group[12:] + mac + struct.pack("!H", ETH_P_IPV6) + header + message


def _link_option(options: bytes, wanted: int) -> str | None:
    """The link-layer address in option ``wanted`` ("" if absent); None if an option is malformed."""
    found = ""
    offset = 0
    while offset + 2 <= len(options):
        kind, units = options[offset], options[offset + 1]
        if units == 0 or offset + units * 8 > len(options):
            return None  # RFC 4861 4.6: a zero-length option invalidates the packet
        if kind == wanted and not found and units == 1:
            found = mac_text(options[offset + 2 : offset + 8])
        offset += units * 8
    return found if offset == len(options) else None


def decode(frame: bytes) -> NdPacket | None:
    """The Neighbor Solicitation or Advertisement in an Ethernet frame; None for anything else.

    Only a packet RFC 4861 7.1 calls valid is returned: hop limit 255 (it was not routed),
    ICMP code 0, the checksum right, a target that is not multicast, whole options.
    """
    if len(frame) < _ETHERNET + _IPV6.size + _ND or frame[12:14] != b"\x86\xdd":
        return None
    first, length, next_header, hops, source, destination = _IPV6.unpack_from(frame, _ETHERNET)
    start = _ETHERNET + _IPV6.size
    if first >> 28 != 6 or next_header != ICMPV6 or hops != 255:
        return None
    if length < _ND or start + length > len(frame):
        return None
    message = frame[start : start + length]
    kind, code = message[0], message[1]
    target = message[8:24]
    if kind not in (NEIGHBOR_SOLICITATION, NEIGHBOR_ADVERTISEMENT) or code != 0:
        return None
    if target[0] == 0xFF or checksum(_pseudo_header(source, destination, length) + message):
        return None
    wanted = OPTION_SOURCE_LINK if kind == NEIGHBOR_SOLICITATION else OPTION_TARGET_LINK
    link = _link_option(message[_ND:], wanted)
    if link is None:
        return None
    return NdPacket(
        kind=kind,
        ethernet_source=mac_text(frame[6:12]),
        source=_socket.inet_ntop(_socket.AF_INET6, source),
        target=_socket.inet_ntop(_socket.AF_INET6, target),
        link_address=link,
    )


def claim(packet: NdPacket) -> tuple[str, str] | None:
    """``(address, link-layer address)`` that ``packet`` shows its sender holds, or None.

    An advertisement holds its target; a solicitation its source, unless that is ``::``
    (the module docstring says why).
    """
    mac = packet.link_address or packet.ethernet_source
    if packet.kind == NEIGHBOR_ADVERTISEMENT:
        return packet.target, mac
    if packet.source != UNSPECIFIED:
        return packet.source, mac
    return None
