"""VRRP advertisements (RFC 3768 version 2, RFC 5798 version 3), parsed without trusting them.

Layout after the IP header, network byte order::

    byte 0    version (4 bits) | type (4 bits, 1 = advertisement)
    byte 1    virtual router id (VRID)
    byte 2    priority (0: the master resigns; 255: the address owner)
    byte 3    count of addresses
    v2: byte 4  authentication type (0 none, 1 simple text, 2 IP AH)
        byte 5  advertisement interval, seconds
    v3: bytes 4-5  4 reserved bits | maximum advertisement interval (12 bits, centiseconds)
    bytes 6-7 checksum
    then      count addresses (4 bytes each over IPv4, 16 over IPv6)
    v2 only:  8 bytes of authentication data (the password for simple text)

The checksum is the Internet checksum of the VRRP message; version 3 also covers the
pseudo-header of the IP version carrying it (source, destination, protocol 112, length), as
TCP and UDP do. :func:`decode` needs the source and destination for that; a v3 packet whose
checksum only matches without the pseudo-header (an implementation that summed it the version 2
way) is reported as ``v2-style`` rather than dropped.

Nothing here raises anything but :class:`PacketError`: whatever arrives on the wire is either
an :class:`Advert` or a counted reason for dropping it.
"""

from __future__ import annotations

import socket
import struct
from typing import NamedTuple

from kakit.exceptions import KakitError

PROTOCOL = 112
"""VRRP's IP protocol number."""
GROUP_V4 = "224.0.0.18"
GROUP_V6 = "ff02::12"
TYPE_ADVERTISEMENT = 1
AUTH_NAMES = {0: "none", 1: "simple", 2: "ah"}
V2_AUTH_LENGTH = 8
HEADER = 8
IPV4_MIN_HEADER = 20


class PacketError(KakitError):
    """A packet that is no usable VRRP advertisement; it is counted and dropped.

    Attributes:
        reason: A short, stable word for counters (``short``, ``version``, ``checksum``...).
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"VRRP packet dropped ({reason}): {detail}")
        self.reason = reason


class Advert(NamedTuple):
    """One VRRP advertisement as sent.

    Attributes:
        version: 2 or 3.
        vrid: The virtual router id, 1..255 (0 is kept: it is what was sent).
        priority: 0..255.
        address_count: The address count the header announces (``len(addresses)``).
        auth_type: v2's authentication type (0 none, 1 simple, 2 AH); None for v3.
        interval: The advertisement interval in seconds (v2 whole seconds, v3 centiseconds
            / 100).
        interval_raw: The interval as on the wire (v2 seconds, v3 centiseconds).
        checksum: The checksum field.
        checksum_state: ``ok``, ``bad``, ``v2-style`` (v3 summed without the pseudo-header) or
            ``unchecked`` (v3 without the addresses needed to check it).
        addresses: The virtual addresses, as text.
        auth_data: v2's 8 authentication bytes (b"" for v3).
        family: 4 or 6: the IP version the addresses belong to.
    """

    version: int
    vrid: int
    priority: int
    address_count: int
    auth_type: int | None
    interval: float
    interval_raw: int
    checksum: int
    checksum_state: str
    addresses: tuple[str, ...]
    auth_data: bytes
    family: int

    @property
    def auth_name(self) -> str:
        """``none``, ``simple``, ``ah`` or ``type N`` (v2); ``-`` for v3, which has none."""
        if self.auth_type is None:
            return "-"
        return AUTH_NAMES.get(self.auth_type, f"type {self.auth_type}")

    @property
    def password(self) -> str:
        """v2 simple-text authentication data up to its first NUL, printable ("" otherwise)."""
        if self.auth_type != 1:
            return ""
        text = self.auth_data.split(b"\0", 1)[0].decode("latin-1")
        return "".join(char if char.isprintable() else "?" for char in text)


class IpDatagram(NamedTuple):
    """The parts of an IPv4 header a listener needs.

    Attributes:
        source: Sender address.
        destination: Destination (224.0.0.18, or a unicast peer).
        ttl: RFC 3768/5798 require 255; anything else was routed and must be dropped.
        protocol: The IP protocol number.
        payload: The bytes after the header, cut to the header's total length.
    """

    source: str
    destination: str
    ttl: int
    protocol: int
    payload: bytes


def internet_checksum(data: bytes) -> int:
    """The 16-bit one's complement of the one's complement sum (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    total = int(sum(struct.unpack(f"!{len(data) // 2}H", data)))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def pseudo_header(source: str, destination: str, length: int) -> bytes:
    """The pseudo-header VRRPv3's checksum covers, for IPv4 or IPv6 addresses.

    Raises:
        PacketError: An address is not IPv4 or IPv6 text.
    """
    try:
        if ":" in source or ":" in destination:
            return (
                socket.inet_pton(socket.AF_INET6, source)
                + socket.inet_pton(socket.AF_INET6, destination)
                + struct.pack("!I3xB", length, PROTOCOL)
            )
        return (
            socket.inet_aton(source)
            + socket.inet_aton(destination)
            + struct.pack("!xBH", PROTOCOL, length)
        )
    except OSError as exc:
        raise PacketError("address", f"{source} > {destination}: {exc}") from None


def decode(
    data: bytes, *, family: int = 4, source: str | None = None, destination: str | None = None
) -> Advert:
    """The advertisement in ``data`` (the IP payload).

    Args:
        data: The VRRP message.
        family: 4 or 6, the IP version it arrived over (the size of its addresses).
        source: The IP source, for v3's checksum.
        destination: The IP destination, for v3's checksum.

    Raises:
        PacketError: Too short for what it announces, not version 2 or 3, not an
            advertisement, a v2 packet over IPv6, or a checksum that does not match.
    """
    if len(data) < HEADER:
        raise PacketError("short", f"{len(data)} bytes, a VRRP header is {HEADER}")
    first, vrid, priority, count, word, checksum = struct.unpack_from("!BBBBHH", data)
    version, kind = first >> 4, first & 0x0F
    if version not in (2, 3):
        raise PacketError("version", f"version {version}")
    if kind != TYPE_ADVERTISEMENT:
        raise PacketError("type", f"type {kind}, an advertisement is {TYPE_ADVERTISEMENT}")
    if version == 2 and family != 4:
        raise PacketError("version", "VRRPv2 over IPv6")
    size = 4 if family == 4 else 16
    needed = HEADER + count * size + (V2_AUTH_LENGTH if version == 2 else 0)
    if len(data) < needed:
        raise PacketError("short", f"{len(data)} bytes, {count} address(es) need {needed}")
    af = socket.AF_INET if family == 4 else socket.AF_INET6
    addresses = tuple(
        socket.inet_ntop(af, data[HEADER + index * size : HEADER + (index + 1) * size])
        for index in range(count)
    )
    if version == 2:
        auth_type: int | None = word >> 8
        interval_raw = word & 0xFF
        interval = float(interval_raw)
        auth_data = data[HEADER + count * size : needed]
        state = "ok" if internet_checksum(data) == 0 else "bad"
    else:
        auth_type = None
        interval_raw = word & 0x0FFF
        interval = interval_raw / 100
        auth_data = b""
        state = _v3_checksum(data, source, destination)
    if state == "bad":
        raise PacketError("checksum", f"checksum {checksum:#06x} does not match")
    return Advert(
        version=version,
        vrid=vrid,
        priority=priority,
        address_count=count,
        auth_type=auth_type,
        interval=interval,
        interval_raw=interval_raw,
        checksum=checksum,
        checksum_state=state,
        addresses=addresses,
        auth_data=auth_data,
        family=family,
    )


def _v3_checksum(data: bytes, source: str | None, destination: str | None) -> str:
    if source is None or destination is None:
        return "unchecked"
    if internet_checksum(pseudo_header(source, destination, len(data)) + data) == 0:
        return "ok"
    if internet_checksum(data) == 0:
        return "v2-style"
    return "bad"


def decode_ipv4(datagram: bytes) -> IpDatagram:
    """Split a raw IPv4 socket's datagram (header included) into header fields and payload.

    Raises:
        PacketError: Not IPv4, a header or total length that does not fit the bytes.
    """
    if len(datagram) < IPV4_MIN_HEADER:
        raise PacketError("short", f"{len(datagram)} bytes, an IPv4 header is 20")
    version_ihl, _, total, _, _, ttl, protocol = struct.unpack_from("!BBHHHBB", datagram)
    if version_ihl >> 4 != 4:
        raise PacketError("ip", f"IP version {version_ihl >> 4}")
    header = (version_ihl & 0x0F) * 4
    # Linux hands raw sockets the datagram with its total length as sent: a mismatch is a
    # truncated or forged packet.
    if header < IPV4_MIN_HEADER or total < header or len(datagram) < total:
        raise PacketError("ip", f"header {header} / total {total} in {len(datagram)} bytes")
    return IpDatagram(
        source=socket.inet_ntoa(datagram[12:16]),
        destination=socket.inet_ntoa(datagram[16:20]),
        ttl=ttl,
        protocol=protocol,
        payload=datagram[header:total],
    )


def encode(
    *,
    version: int,
    vrid: int,
    priority: int,
    addresses: tuple[str, ...],
    interval: float = 1.0,
    auth_type: int = 0,
    password: bytes = b"",
    source: str | None = None,
    destination: str | None = None,
) -> bytes:
    """An advertisement with a correct checksum (tests and fuzzing build packets with it).

    v3 needs ``source`` and ``destination`` for its checksum; IPv6 addresses make it an IPv6
    packet.

    Raises:
        ValueError: A field out of range or v3 without source and destination.
    """
    family = 6 if any(":" in address for address in addresses) else 4
    af = socket.AF_INET if family == 4 else socket.AF_INET6
    body = b"".join(socket.inet_pton(af, address) for address in addresses)
    if version == 2:
        word = auth_type << 8 | int(interval)
        tail = password[:V2_AUTH_LENGTH].ljust(V2_AUTH_LENGTH, b"\0")
    elif version == 3:
        word = round(interval * 100) & 0x0FFF
        tail = b""
    else:
        raise ValueError(f"version {version}")
    head = struct.pack(
        "!BBBBHH", version << 4 | TYPE_ADVERTISEMENT, vrid, priority, len(addresses), word, 0
    )
    message = head + body + tail
    if version == 2:
        checksum = internet_checksum(message)
    else:
        if source is None or destination is None:
            raise ValueError("VRRPv3 needs source and destination for its checksum")
        checksum = internet_checksum(pseudo_header(source, destination, len(message)) + message)
    return message[:6] + struct.pack("!H", checksum) + message[8:]
