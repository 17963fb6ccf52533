"""ARP probes for an IPv4 address, the answers to them, and the kernel's ARP cache.

A probe (RFC 5227) asks "who has TARGET?" with the sender address 0.0.0.0: whoever holds
TARGET answers, and no neighbour's cache learns anything from it, so probing never moves
traffic (an ordinary request from the VIP would re-point every cache on the segment at us in
the middle of a split). :mod:`kakit.vrrp.probe` sends them and listens for the answers.
"""

from __future__ import annotations

import _socket
import struct

ETH_P_ARP = 0x0806
BROADCAST = b"\xff" * 6
_ARP = struct.Struct("!HHBBH6s4s6s4s")
_ETHERNET = 14


class ArpPacket:
    """One ARP packet for IPv4 over Ethernet.

    Attributes:
        op: 1 request, 2 reply.
        sender_mac: The sender hardware address, ``aa:bb:...``.
        sender_ip: The sender protocol address (``0.0.0.0`` in a probe).
        target_mac: The target hardware address.
        target_ip: The address asked about.
    """

    __slots__ = ("op", "sender_ip", "sender_mac", "target_ip", "target_mac")

    def __init__(
        self, *, op: int, sender_mac: str, sender_ip: str, target_mac: str, target_ip: str
    ) -> None:
        self.op = op
        self.sender_mac = sender_mac
        self.sender_ip = sender_ip
        self.target_mac = target_mac
        self.target_ip = target_ip


def mac_text(raw: bytes) -> str:
    """``02:00:0a:d5:07:01``."""
    return ":".join(f"{byte:02x}" for byte in raw)


def probe_frame(mac: bytes, target: str) -> bytes:
    """An Ethernet broadcast frame carrying an ARP probe for ``target`` from ``mac``."""
    arp = _ARP.pack(1, 0x0800, 6, 4, 1, mac, b"\0" * 4, b"\0" * 6, _socket.inet_aton(target))
    return BROADCAST + mac + struct.pack("!H", ETH_P_ARP) + arp


def decode(frame: bytes) -> ArpPacket | None:
    """The ARP packet in an Ethernet frame, or None when it is none (or not IPv4 over Ethernet)."""
    if len(frame) < _ETHERNET + _ARP.size or frame[12:14] != b"\x08\x06":
        return None
    htype, ptype, hlen, plen, op, sha, spa, tha, tpa = _ARP.unpack_from(frame, _ETHERNET)
    if (htype, ptype, hlen, plen) != (1, 0x0800, 6, 4) or op not in (1, 2):
        return None
    return ArpPacket(
        op=op,
        sender_mac=mac_text(sha),
        sender_ip=_socket.inet_ntoa(spa),
        target_mac=mac_text(tha),
        target_ip=_socket.inet_ntoa(tpa),
    )


def neighbours() -> dict[str, str]:
    """The kernel's ARP cache, MAC address to IP address (``/proc/net/arp``)."""
    found: dict[str, str] = {}
    try:
        with open("/proc/net/arp", encoding="ascii", errors="replace") as handle:
            for line in handle.read().splitlines()[1:]:
                words = line.split()
                if len(words) >= 4 and words[3] != "00:00:00:00:00:00":
                    found.setdefault(words[3].lower(), words[0])
    except OSError:
        pass
    return found
