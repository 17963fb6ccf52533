"""VRRP advertisements: keepalived's wire format, every reason to drop one, and fuzzing."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kakit.vrrp.packet import PacketError, decode, decode_ipv4, encode, internet_checksum

# keepalived 2.2.7's VRRPv2 advert captured in the lab: VRID 51, priority 150, auth PASS
# "secret12", 10.213.7.100 (tcpdump -v: "vrid 51, prio 150, authtype simple, intvl 1s").
KEEPALIVED_V2 = bytes.fromhex(
    "45c0002800010000ff70c8bc0ad50701e0000012213396010101c8120ad507647365637265743132"
)


class TestWire:
    """Captured and built adverts decode to what was sent."""

    def test_keepalived_v2_capture(self) -> None:
        """The lab's keepalived advert: its header fields, address, password and checksum."""
        datagram = decode_ipv4(KEEPALIVED_V2)
        assert (datagram.source, datagram.destination, datagram.ttl, datagram.protocol) == (
            "10.213.7.1",
            "224.0.0.18",
            255,
            112,
        )
        advert = decode(datagram.payload)
        assert (advert.version, advert.vrid, advert.priority, advert.interval) == (2, 51, 150, 1)
        assert advert.addresses == ("10.213.7.100",)
        assert advert.auth_name == "simple" and advert.password == "secret12"
        assert advert.checksum_state == "ok"

    def test_v3_checksum_covers_the_pseudo_header(self) -> None:
        """A v3 advert checks out with its IP addresses; centiseconds become seconds."""
        data = encode(
            version=3,
            vrid=7,
            priority=100,
            addresses=("10.0.0.1", "10.0.0.2"),
            interval=0.5,
            source="10.0.0.9",
            destination="224.0.0.18",
        )
        advert = decode(data, source="10.0.0.9", destination="224.0.0.18")
        assert advert.checksum_state == "ok"
        assert advert.interval == 0.5 and advert.interval_raw == 50
        assert advert.auth_type is None and advert.auth_name == "-"
        assert advert.addresses == ("10.0.0.1", "10.0.0.2")

    def test_v3_from_another_source_is_a_bad_checksum(self) -> None:
        """The pseudo-header binds the checksum to the sender: another source is dropped."""
        data = encode(
            version=3, vrid=7, priority=100, addresses=("10.0.0.1",),
            source="10.0.0.9", destination="224.0.0.18",
        )  # fmt: skip
        with pytest.raises(PacketError) as caught:
            decode(data, source="10.0.0.8", destination="224.0.0.18")
        assert caught.value.reason == "checksum"

    def test_v3_summed_without_pseudo_header_is_v2_style(self) -> None:
        """keepalived's checksum-compatibility adverts are recognised, not dropped."""
        head = struct.pack("!BBBBHH", 0x31, 7, 100, 1, 100, 0) + bytes([10, 0, 0, 1])
        data = head[:6] + struct.pack("!H", internet_checksum(head)) + head[8:]
        advert = decode(data, source="10.0.0.9", destination="224.0.0.18")
        assert advert.checksum_state == "v2-style"

    def test_v3_over_ipv6(self) -> None:
        """IPv6 adverts carry 16-byte addresses and check against the IPv6 pseudo-header."""
        data = encode(
            version=3, vrid=9, priority=200, addresses=("fd00::100",),
            source="fe80::1", destination="ff02::12",
        )  # fmt: skip
        advert = decode(data, family=6, source="fe80::1", destination="ff02::12")
        assert advert.addresses == ("fd00::100",) and advert.family == 6
        assert advert.checksum_state == "ok"

    def test_v3_without_addresses_is_unchecked(self) -> None:
        """Without the IP addresses a v3 checksum cannot be judged, and says so."""
        data = encode(
            version=3, vrid=1, priority=1, addresses=(), source="10.0.0.1", destination="10.0.0.2"
        )
        assert decode(data).checksum_state == "unchecked"


class TestDropped:
    """Each reason to drop a packet has its own word for the counters."""

    @pytest.mark.parametrize(
        ("data", "reason"),
        [
            (b"\x21\x01", "short"),
            (bytes([0x41, 1, 100, 0, 0, 1, 0, 0]), "version"),
            (bytes([0x22, 1, 100, 0, 0, 1, 0, 0]), "type"),
            (bytes([0x21, 1, 100, 3, 0, 1, 0, 0]) + b"\0" * 8, "short"),
        ],
    )
    def test_reasons(self, data: bytes, reason: str) -> None:
        """Short, unknown version, not an advertisement, fewer addresses than announced."""
        with pytest.raises(PacketError) as caught:
            decode(data)
        assert caught.value.reason == reason

    def test_bad_v2_checksum(self) -> None:
        """One flipped bit in a v2 advert fails its checksum."""
        payload = bytearray(decode_ipv4(KEEPALIVED_V2).payload)
        payload[2] ^= 1
        with pytest.raises(PacketError) as caught:
            decode(bytes(payload))
        assert caught.value.reason == "checksum"

    def test_v2_over_ipv6(self) -> None:
        """VRRPv2 exists only over IPv4."""
        with pytest.raises(PacketError) as caught:
            decode(decode_ipv4(KEEPALIVED_V2).payload, family=6)
        assert caught.value.reason == "version"

    def test_truncated_ip_datagram(self) -> None:
        """An IPv4 total length beyond the bytes received is dropped."""
        with pytest.raises(PacketError) as caught:
            decode_ipv4(KEEPALIVED_V2[:30])
        assert caught.value.reason == "ip"


ipv4 = st.builds(
    lambda n: ".".join(str(b) for b in n.to_bytes(4, "big")), st.integers(0, 2**32 - 1)
)


class TestFuzz:
    """Whatever arrives, the parser answers an advert or a counted reason."""

    @given(st.binary(max_size=120), st.sampled_from([4, 6]))
    def test_any_payload(self, data: bytes, family: int) -> None:
        """Random payloads never raise anything but PacketError."""
        try:
            advert = decode(data, family=family, source="10.0.0.1", destination="224.0.0.18")
        except PacketError:
            return
        assert advert.address_count == len(advert.addresses)

    @given(st.binary(max_size=120))
    def test_any_datagram(self, data: bytes) -> None:
        """Random IPv4 datagrams never raise anything but PacketError."""
        try:
            datagram = decode_ipv4(data)
        except PacketError:
            return
        assert len(datagram.payload) <= len(data)

    @given(
        st.sampled_from([2, 3]),
        st.integers(1, 255),
        st.integers(0, 255),
        st.lists(ipv4, max_size=20),
        st.integers(1, 40),
        ipv4,
    )
    def test_round_trip(
        self, version: int, vrid: int, priority: int, vips: list[str], interval: int, source: str
    ) -> None:
        """What encode builds, decode reads back field for field with a good checksum."""
        data = encode(
            version=version,
            vrid=vrid,
            priority=priority,
            addresses=tuple(vips),
            interval=interval,
            password=b"pw",
            auth_type=1 if version == 2 else 0,
            source=source,
            destination="224.0.0.18",
        )
        advert = decode(data, source=source, destination="224.0.0.18")
        assert (advert.version, advert.vrid, advert.priority) == (version, vrid, priority)
        assert advert.addresses == tuple(vips) and advert.interval == interval
        assert advert.checksum_state == "ok"
        if version == 2:
            assert advert.password == "pw"
