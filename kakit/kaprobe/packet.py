"""The BFD control packet (RFC 5880 section 4.1), without an authentication section.

Layout, network byte order, 24 bytes::

    byte 0    version (3 bits, always 1) | diagnostic (5 bits)
    byte 1    state (2 bits) | P | F | C | A | D | M
    byte 2    detect multiplier
    byte 3    length of the BFD payload (24)
    4-7       my discriminator
    8-11      your discriminator
    12-15     desired min TX interval, microseconds
    16-19     required min RX interval, microseconds
    20-23     required min echo RX interval, microseconds

:func:`decode` applies every reception check of RFC 5880 section 6.8.6 that the packet alone
can answer; the ones that need the session table (an unknown "your discriminator") are the
runtime's.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from kakit.exceptions import KakitError

VERSION = 1
LENGTH = 24

ADMIN_DOWN = 0
DOWN = 1
INIT = 2
UP = 3
STATE_NAMES = ("AdminDown", "Down", "Init", "Up")

# Diagnostic codes (RFC 5880 section 4.1); keepalived 2.2.7 drops packets with a diag above 8.
DIAG_NONE = 0
DIAG_DETECTION_EXPIRED = 1
DIAG_NEIGHBOR_DOWN = 3
DIAG_ADMIN_DOWN = 7
DIAG_NAMES = (
    "none",
    "control detection time expired",
    "echo function failed",
    "neighbor signaled session down",
    "forwarding plane reset",
    "path down",
    "concatenated path down",
    "administratively down",
    "reverse concatenated path down",
)

_POLL = 0x20
_FINAL = 0x10
_CPI = 0x08
_AUTH = 0x04
_DEMAND = 0x02
_MULTIPOINT = 0x01

_FORMAT = struct.Struct("!BBBBIIIII")


class PacketError(KakitError):
    """A received control packet failed a reception check; it is discarded.

    Attributes:
        reason: A short, stable word for counters and logs (``version``, ``length``...).
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"BFD packet discarded ({reason}): {detail}")
        self.reason = reason


class ControlPacket(NamedTuple):
    """One BFD control packet; intervals in microseconds, as on the wire."""

    state: int
    my_discr: int
    your_discr: int = 0
    diag: int = DIAG_NONE
    detect_mult: int = 3
    desired_min_tx: int = 1_000_000
    required_min_rx: int = 1_000_000
    required_min_echo_rx: int = 0
    poll: bool = False
    final: bool = False
    demand: bool = False
    cpi: bool = False


def diag_name(diag: int) -> str:
    """The RFC name of a diagnostic code (``reserved N`` above 8)."""
    return DIAG_NAMES[diag] if 0 <= diag < len(DIAG_NAMES) else f"reserved {diag}"


def encode(packet: ControlPacket) -> bytes:
    """The 24 wire bytes of ``packet`` (version 1, no authentication, M clear).

    Raises:
        ValueError: A field does not fit its wire width, or P and F are both set.
    """
    if packet.poll and packet.final:
        # RFC 5880 4.1: never both; keepalived 2.2.7 discards such a packet.
        raise ValueError("P and F must not both be set")
    if not (0 <= packet.diag <= 31 and 0 <= packet.state <= 3 and 1 <= packet.detect_mult <= 255):
        raise ValueError(f"field out of range in {packet!r}")
    flags = (
        packet.state << 6
        | (_POLL if packet.poll else 0)
        | (_FINAL if packet.final else 0)
        | (_CPI if packet.cpi else 0)
        | (_DEMAND if packet.demand else 0)
    )
    try:
        return _FORMAT.pack(
            VERSION << 5 | packet.diag,
            flags,
            packet.detect_mult,
            LENGTH,
            packet.my_discr,
            packet.your_discr,
            packet.desired_min_tx,
            packet.required_min_rx,
            packet.required_min_echo_rx,
        )
    except struct.error as exc:
        raise ValueError(f"field out of range in {packet!r}: {exc}") from exc


def decode(data: bytes) -> ControlPacket:
    """Parse a received UDP payload and apply the packet's own reception checks, in RFC order.

    Args:
        data: The whole UDP payload.

    Raises:
        PacketError: The packet must be discarded; ``reason`` says which check failed.
    """
    if len(data) < LENGTH:
        raise PacketError("length", f"{len(data)} bytes, the mandatory section is {LENGTH}")
    (vers_diag, flags, mult, length, my_discr, your_discr, des_tx, req_rx, echo_rx) = (
        _FORMAT.unpack_from(data)
    )
    if vers_diag >> 5 != VERSION:
        raise PacketError("version", f"version {vers_diag >> 5}")
    auth = bool(flags & _AUTH)
    if length < (26 if auth else LENGTH):
        raise PacketError("length", f"length field {length} too small")
    if length > len(data):
        raise PacketError("length", f"length field {length} beyond the {len(data)}-byte payload")
    if mult == 0:
        raise PacketError("multiplier", "detect multiplier 0")
    if flags & _MULTIPOINT:
        raise PacketError("multipoint", "M bit set")
    if my_discr == 0:
        raise PacketError("discriminator", "my discriminator 0")
    state = flags >> 6
    if your_discr == 0 and state not in (DOWN, ADMIN_DOWN):
        raise PacketError("discriminator", f"your discriminator 0 in state {STATE_NAMES[state]}")
    if auth:
        # No authentication is configured (kaprobe has none), so the A bit alone is a discard.
        raise PacketError("auth", "A bit set and no authentication configured")
    return ControlPacket(
        state=state,
        my_discr=my_discr,
        your_discr=your_discr,
        diag=vers_diag & 0x1F,
        detect_mult=mult,
        desired_min_tx=des_tx,
        required_min_rx=req_rx,
        required_min_echo_rx=echo_rx,
        poll=bool(flags & _POLL),
        final=bool(flags & _FINAL),
        demand=bool(flags & _DEMAND),
        cpi=bool(flags & _CPI),
    )


__all__ = [
    "ADMIN_DOWN",
    "DOWN",
    "INIT",
    "LENGTH",
    "UP",
    "ControlPacket",
    "PacketError",
    "decode",
    "diag_name",
    "encode",
]
