"""ARP probes on the wire."""

from __future__ import annotations

import socket
import struct

from hypothesis import given
from hypothesis import strategies as st

from kakit.vrrp.arp import decode, probe_frame

MAC = bytes.fromhex("020000000001")


class TestFrames:
    """What a probe is, and what the decoder makes of frames."""

    def test_probe_is_a_broadcast_request_from_nobody(self) -> None:
        """A probe asks for the target from sender address 0.0.0.0, so no cache learns it."""
        frame = probe_frame(MAC, "10.0.0.100")
        assert frame[:6] == b"\xff" * 6 and frame[6:12] == MAC
        packet = decode(frame)
        assert packet is not None
        assert (packet.op, packet.sender_ip, packet.target_ip) == (1, "0.0.0.0", "10.0.0.100")
        assert packet.sender_mac == "02:00:00:00:00:01"

    def test_reply(self) -> None:
        """A reply names who answers for the address."""
        arp = struct.pack(
            "!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 2, bytes.fromhex("0200000000aa"),
            socket.inet_aton("10.0.0.100"), MAC, bytes(4),
        )  # fmt: skip
        packet = decode(b"\0" * 12 + b"\x08\x06" + arp)
        assert packet is not None and packet.op == 2
        assert (packet.sender_mac, packet.sender_ip) == ("02:00:00:00:00:aa", "10.0.0.100")

    def test_not_arp(self) -> None:
        """An IPv4 frame is no ARP packet."""
        assert decode(b"\0" * 12 + b"\x08\x00" + b"\0" * 28) is None

    @given(st.binary(max_size=80))
    def test_fuzz(self, frame: bytes) -> None:
        """Any frame decodes to an ARP packet or None, never an exception."""
        packet = decode(frame)
        assert packet is None or packet.op in (1, 2)
