"""The rtnetlink address messages: framed and parsed without ever raising on bad bytes."""

from __future__ import annotations

import ipaddress
import socket
import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kakit.core.netlink import (
    IFA_ADDRESS,
    IFA_LOCAL,
    RTM_NEWADDR,
    address_of,
    attributes,
    messages,
)

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))


def attribute(kind: int, value: bytes) -> bytes:
    """One rtattr, padded to 4 bytes as the kernel sends it."""
    raw = struct.pack("=HH", 4 + len(value), kind) + value
    return raw + b"\0" * (-len(raw) % 4)


def newaddr(family: int, prefix: int, index: int, attrs: bytes) -> bytes:
    """An RTM_NEWADDR message with the given attributes."""
    payload = struct.pack("=BBBBI", family, prefix, 0, 0, index) + attrs
    return struct.pack("=IHHII", 16 + len(payload), RTM_NEWADDR, 2, 1, 0) + payload


class TestParse:
    """What the kernel sends is read back; anything else is skipped, never a crash."""

    def test_ipv4_prefers_the_local_address(self) -> None:
        """IFA_LOCAL (the interface's own address) wins over IFA_ADDRESS (a peer's)."""
        data = newaddr(
            socket.AF_INET,
            32,
            7,
            attribute(IFA_ADDRESS, bytes([10, 213, 0, 9]))
            + attribute(IFA_LOCAL, bytes([10, 213, 0, 1])),
        )
        [(kind, _flags, seq, payload)] = messages(data)
        assert (kind, seq) == (RTM_NEWADDR, 1)
        assert address_of(payload) == (7, "10.213.0.1", 32)

    def test_ipv6_has_only_the_address(self) -> None:
        """An IPv6 address comes as IFA_ADDRESS alone."""
        packed = ipaddress.ip_address("2001:db8::100").packed
        [(_kind, _flags, _seq, payload)] = messages(
            newaddr(socket.AF_INET6, 128, 1, attribute(IFA_ADDRESS, packed))
        )
        assert address_of(payload) == (1, "2001:db8::100", 128)

    def test_two_messages_in_one_datagram(self) -> None:
        """Messages follow each other at 4-byte boundaries."""
        one = newaddr(socket.AF_INET, 8, 1, attribute(IFA_LOCAL, bytes([127, 0, 0, 1])))
        two = newaddr(socket.AF_INET, 32, 1, attribute(IFA_LOCAL, bytes([10, 0, 0, 1])))
        assert [address_of(payload) for *_rest, payload in messages(one + two)] == [
            (1, "127.0.0.1", 8),
            (1, "10.0.0.1", 32),
        ]

    def test_wrong_length_address_is_skipped(self) -> None:
        """An IPv4 message carrying 16 address bytes is not an address."""
        data = newaddr(socket.AF_INET, 32, 1, attribute(IFA_LOCAL, bytes(16)))
        assert address_of(messages(data)[0][3]) is None

    @FUZZ
    @given(st.binary(max_size=300))
    def test_any_bytes(self, data: bytes) -> None:
        """Arbitrary datagrams parse to some list, and each payload to an address or None."""
        for *_header, payload in messages(data):
            found = address_of(payload)
            assert found is None or isinstance(found[1], str)
            attributes(payload, 0)

    @FUZZ
    @given(st.ip_addresses(), st.integers(0, 255), st.binary(max_size=40))
    def test_any_address_round_trips(
        self, address: ipaddress.IPv4Address | ipaddress.IPv6Address, index: int, junk: bytes
    ) -> None:
        """Every address the kernel could send reads back as inet_ntop writes it, junk after."""
        family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
        data = newaddr(family, address.max_prefixlen, index, attribute(IFA_ADDRESS, address.packed))
        [(_kind, _flags, _seq, payload)] = messages(data + junk[:15])
        assert address_of(payload) == (
            index,
            socket.inet_ntop(family, address.packed),
            address.max_prefixlen,
        )


class TestHardwareAddresses:
    """The link-layer addresses of this namespace's interfaces, from the kernel."""

    def test_same_as_ip_link(self) -> None:
        """Every Ethernet address `ip link` shows is listed, and nothing else."""
        import subprocess

        from kakit.core.netlink import hardware_addresses

        out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True)
        words = out.stdout.split()
        shown = {
            words[i + 1]
            for i, word in enumerate(words[:-1])
            if word == "link/ether" and words[i + 1] != "00:00:00:00:00:00"
        }
        assert hardware_addresses() == shown
