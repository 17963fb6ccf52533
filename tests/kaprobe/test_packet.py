"""The BFD control packet: wire layout, the RFC 5880 6.8.6 checks, and fuzzing."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kakit.exceptions import KakitError
from kakit.kaprobe.packet import (
    ADMIN_DOWN,
    DOWN,
    INIT,
    UP,
    ControlPacket,
    PacketError,
    decode,
    encode,
)

# keepalived's Up+P packet captured in the lab (docs/kaprobe.md).
KEEPALIVED_UP_POLL = bytes.fromhex("20e00318c9de6b29bf84aaf30000c3500000c35000000000")


def raw(
    *,
    vers: int = 1,
    diag: int = 0,
    flags: int = UP << 6,
    mult: int = 3,
    length: int = 24,
    my: int = 7,
    your: int = 9,
) -> bytes:
    """A 24-byte packet with the given header fields."""
    return struct.pack("!BBBBIIIII", vers << 5 | diag, flags, mult, length, my, your, 1, 2, 0)


class TestWire:
    """Encoding and decoding agree with captured packets."""

    def test_decodes_keepalived_capture(self) -> None:
        """keepalived's Up+Poll packet decodes to its fields, microseconds as on the wire."""
        packet = decode(KEEPALIVED_UP_POLL)
        assert packet.state == UP
        assert packet.poll and not packet.final
        assert packet.detect_mult == 3
        assert packet.my_discr == 0xC9DE6B29
        assert packet.your_discr == 0xBF84AAF3
        assert packet.desired_min_tx == packet.required_min_rx == 50_000
        assert encode(packet) == KEEPALIVED_UP_POLL

    def test_encode_is_24_bytes_version_1(self) -> None:
        """What we send is 24 bytes, version 1, length 24, no A/D/M bits."""
        data = encode(ControlPacket(state=DOWN, my_discr=1, final=True))
        assert len(data) == 24
        assert data[0] >> 5 == 1
        assert data[3] == 24
        assert data[1] & 0x07 == 0

    def test_never_poll_and_final(self) -> None:
        """P and F together cannot be encoded (keepalived discards them)."""
        with pytest.raises(ValueError, match="P and F"):
            encode(ControlPacket(state=UP, my_discr=1, poll=True, final=True))


class TestReceptionChecks:
    """Each check of RFC 5880 6.8.6 about the packet itself discards it with a reason."""

    @pytest.mark.parametrize(
        ("data", "reason"),
        [
            (raw(vers=2), "version"),
            (raw()[:23], "length"),
            (raw(length=23), "length"),
            (raw(length=25), "length"),
            (raw(flags=UP << 6 | 0x04, length=24), "length"),
            (raw(mult=0), "multiplier"),
            (raw(flags=UP << 6 | 0x01), "multipoint"),
            (raw(my=0), "discriminator"),
            (raw(flags=UP << 6, your=0), "discriminator"),
            (raw(flags=INIT << 6, your=0), "discriminator"),
            (raw(flags=UP << 6 | 0x04, length=26) + b"\0\0", "auth"),
        ],
        ids=[
            "version-2",
            "short-payload",
            "length-23",
            "length-beyond-payload",
            "auth-length-24",
            "mult-0",
            "M-bit",
            "my-discr-0",
            "your-0-up",
            "your-0-init",
            "auth-bit",
        ],
    )
    def test_discarded(self, data: bytes, reason: str) -> None:
        """The packet is refused with the check's reason."""
        with pytest.raises(PacketError) as caught:
            decode(data)
        assert caught.value.reason == reason

    @pytest.mark.parametrize("state", [DOWN, ADMIN_DOWN])
    def test_your_discriminator_zero_allowed_while_down(self, state: int) -> None:
        """A peer that does not know us yet (Down, AdminDown) may send your discriminator 0."""
        assert decode(raw(flags=state << 6, your=0)).your_discr == 0

    def test_trailing_bytes_beyond_length_accepted(self) -> None:
        """A payload longer than Length passes (RFC: only Length > payload is an error)."""
        assert decode(raw() + b"\0\0").state == UP

    def test_error_is_a_kakit_error(self) -> None:
        """PacketError belongs to kakit's exception tree."""
        assert issubclass(PacketError, KakitError)


packets = st.builds(
    ControlPacket,
    state=st.integers(0, 3),
    my_discr=st.integers(1, 2**32 - 1),
    your_discr=st.integers(1, 2**32 - 1),
    diag=st.integers(0, 31),
    detect_mult=st.integers(1, 255),
    desired_min_tx=st.integers(0, 2**32 - 1),
    required_min_rx=st.integers(0, 2**32 - 1),
    required_min_echo_rx=st.integers(0, 2**32 - 1),
    poll=st.booleans(),
    final=st.just(False),
    demand=st.booleans(),
    cpi=st.booleans(),
)


class TestFuzz:
    """The parser never fails in an unexpected way."""

    @given(st.binary(max_size=64))
    def test_garbage_raises_only_packet_error(self, data: bytes) -> None:
        """Any byte string decodes or raises PacketError, nothing else."""
        try:
            packet = decode(data)
        except PacketError:
            return
        assert packet.my_discr != 0 and packet.detect_mult != 0

    @given(packets)
    def test_round_trip(self, packet: ControlPacket) -> None:
        """decode(encode(p)) == p for every encodable packet."""
        assert decode(encode(packet)) == packet
