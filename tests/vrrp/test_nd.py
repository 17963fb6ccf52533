"""Neighbor Discovery on the wire: the DAD probe, and what the decoder makes of frames."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kakit.vrrp.nd import NdPacket, checksum, claim, decode, probe_frame

MAC = bytes.fromhex("02000ad50701")

# The kernel's own DAD solicitation for fd13:213::100 from 02:00:0a:d5:07:01 (Linux 6.18,
# enhanced_dad off so that no nonce option is added), captured with ``tcpdump -xx``.
KERNEL_DAD = bytes.fromhex(
    "3333ff000100 02000ad50701 86dd"
    "6000 0000 0018 3aff 00000000000000000000000000000000 ff0200000000000000000001ff000100"
    "8700 7981 00000000 fd130213000000000000000000000100"
)

# The advertisement a host holding fd13:213::100 (02:00:0a:d5:07:02) sent back to all nodes,
# with its target link-layer address option, captured the same way.
KERNEL_NA = bytes.fromhex(
    "333300000001 02000ad50702 86dd"
    "6000 0000 0020 3aff fd130213000000000000000000000100 ff020000000000000000000000000001"
    "8800 427b 20000000 fd130213000000000000000000000100 0201 02000ad50702"
)


def rechecked(frame: bytes) -> bytes:
    """``frame`` with its ICMPv6 checksum recomputed (for frames a test has edited)."""
    message = bytearray(frame[54:])
    message[2:4] = b"\0\0"
    pseudo = frame[22:54] + len(message).to_bytes(4, "big") + b"\0\0\0\x3a"
    message[2:4] = checksum(pseudo + bytes(message)).to_bytes(2, "big")
    return frame[:54] + bytes(message)


class TestProbe:
    """What a DAD probe is."""

    def test_same_bytes_as_the_kernels_own(self) -> None:
        """The probe is byte for byte the solicitation the kernel sends for its own DAD."""
        assert probe_frame(MAC, "fd13:213::100") == KERNEL_DAD

    def test_decodes_as_a_solicitation_from_nobody(self) -> None:
        """The probe asks for the target from ``::`` and so claims no address."""
        packet = decode(probe_frame(MAC, "fd13:213::abcd:1234"))
        assert packet is not None and packet.kind == 135
        assert (packet.source, packet.target, packet.link_address) == (
            "::",
            "fd13:213::abcd:1234",
            "",
        )
        assert claim(packet) is None

    def test_solicited_node_group(self) -> None:
        """The probe goes to ff02::1:ff + the target's last 24 bits, at 33:33:ff:XX:XX:XX."""
        frame = probe_frame(MAC, "fd13:213::12:3456")
        assert frame[:6] == bytes.fromhex("3333ff123456")
        assert frame[38:54] == bytes.fromhex("ff0200000000000000000001ff123456")


class TestDecode:
    """Advertisements and solicitations: who they show holding an address."""

    def test_kernel_advertisement_claims_the_target(self) -> None:
        """A holder's answer names the target and the MAC in its link-layer option."""
        packet = decode(KERNEL_NA)
        assert packet is not None and packet.kind == 136
        assert packet.ethernet_source == "02:00:0a:d5:07:02"
        assert claim(packet) == ("fd13:213::100", "02:00:0a:d5:07:02")

    def test_advertisement_without_option_claims_from_the_ethernet_source(self) -> None:
        """Without a link-layer option the frame's Ethernet source is the holder."""
        frame = KERNEL_NA[:-8]
        frame = frame[:18] + (24).to_bytes(2, "big") + frame[20:]
        packet = decode(rechecked(frame))
        assert packet is not None and packet.link_address == ""
        assert claim(packet) == ("fd13:213::100", "02:00:0a:d5:07:02")

    def test_solicitation_from_the_address_claims_it(self) -> None:
        """A host soliciting from an address uses it: that counts; DAD from ``::`` does not."""
        packet = NdPacket(
            kind=135,
            ethernet_source="02:00:0a:d5:07:02",
            source="fd13:213::100",
            target="fd13:213::1",
            link_address="",
        )
        assert claim(packet) == ("fd13:213::100", "02:00:0a:d5:07:02")

    def test_bad_checksum(self) -> None:
        """A frame whose checksum is wrong is no advertisement."""
        assert decode(KERNEL_NA[:56] + b"\0\0" + KERNEL_NA[58:]) is None

    def test_routed(self) -> None:
        """An advertisement with a hop limit below 255 came through a router: ignored."""
        assert decode(KERNEL_NA[:21] + b"\x40" + KERNEL_NA[22:]) is None

    def test_zero_length_option(self) -> None:
        """An option of length 0 makes the packet invalid (RFC 4861 4.6)."""
        assert decode(rechecked(KERNEL_NA[:-7] + b"\0" + KERNEL_NA[-6:])) is None

    def test_trailing_bytes_after_the_payload(self) -> None:
        """Bytes after the IPv6 payload (Ethernet padding) are not read as options."""
        assert decode(KERNEL_NA + b"\0" * 6) is not None

    @given(st.binary(max_size=120))
    def test_fuzz(self, frame: bytes) -> None:
        """Any frame decodes to a solicitation, an advertisement or None, never an exception."""
        packet = decode(frame)
        assert packet is None or packet.kind in (135, 136)

    @given(st.integers(0, len(KERNEL_NA) - 1), st.integers(0, 255))
    def test_fuzz_one_byte(self, index: int, value: int) -> None:
        """A real advertisement with any one byte changed still decodes or is refused cleanly."""
        frame = bytearray(KERNEL_NA)
        frame[index] = value
        packet = decode(rechecked(bytes(frame)))
        assert packet is None or packet.kind in (135, 136)
