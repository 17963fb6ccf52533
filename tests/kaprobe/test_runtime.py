"""The runtime's receive path: TTL check, reception checks and demultiplexing, per family.

Datagrams are handed to :meth:`Prober.handle` with the ancillary data the kernel would attach
(TTL or hop limit, destination address), so no socket on UDP 3784 is needed; each session's own
socket is bound on loopback.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import struct
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kakit.kaprobe.packet import DOWN, INIT, UP, ControlPacket, PacketError, decode, encode
from kakit.kaprobe.runtime import IP_PKTINFO, Probe, Prober
from kakit.kaprobe.spec import ProbeSpec


def in_loop(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test in a fresh event loop (the suite has no async plugin)."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


FAMILIES = [
    pytest.param("127.0.0.2", "127.0.0.1", id="ipv4"),
    pytest.param("::1", "::1", id="ipv6"),
]


def ancillary(peer: str, local: str, ttl: int) -> list[tuple[int, int, bytes]]:
    """What recvmsg returns with IP_RECVTTL + IP_PKTINFO (or their IPv6 forms)."""
    if ":" in local:
        return [
            (socket.IPPROTO_IPV6, socket.IPV6_HOPLIMIT, struct.pack("=i", ttl)),
            (
                socket.IPPROTO_IPV6,
                socket.IPV6_PKTINFO,
                socket.inet_pton(socket.AF_INET6, local) + struct.pack("=I", 1),
            ),
        ]
    address = socket.inet_pton(socket.AF_INET, local)
    return [
        (socket.IPPROTO_IP, socket.IP_TTL, struct.pack("=i", ttl)),
        (socket.IPPROTO_IP, IP_PKTINFO, struct.pack("=I", 1) + address + address),
    ]


async def one_session(peer: str, local: str, tmp_path: object) -> tuple[Prober, Probe]:
    """A prober with one session and no receive socket."""
    prober = Prober([], status_path=f"{tmp_path}/status.json")
    spec = ProbeSpec(peer=peer, local=local)
    probe = Probe(spec, prober, 0x1111, prober.loop.time())
    prober.probes.append(probe)
    prober.by_discr[0x1111] = probe
    prober.by_address[(peer, local)] = probe
    return prober, probe


def from_peer(state: int, your: int = 0x1111) -> bytes:
    """A valid packet from the peer (discriminator 0x2222)."""
    return encode(ControlPacket(state=state, my_discr=0x2222, your_discr=your))


@pytest.mark.parametrize(("peer", "local"), FAMILIES)
class TestHandle:
    """Prober.handle for IPv4 and IPv6."""

    @in_loop
    async def test_handshake_by_address_then_discriminator(
        self, peer: str, local: str, tmp_path: object
    ) -> None:
        """Your discriminator 0 is matched by addresses, then by our discriminator."""
        prober, probe = await one_session(peer, local, tmp_path)
        try:
            prober.handle(from_peer(DOWN, your=0), ancillary(peer, local, 255), peer, 1.0)
            assert probe.session.state == INIT
            prober.handle(from_peer(UP), ancillary(peer, local, 255), peer, 1.1)
            assert probe.session.state == UP
            assert probe.counters["rx"] == 2
        finally:
            prober.close()

    @pytest.mark.parametrize(
        ("data", "ttl", "counter"),
        [
            (from_peer(INIT), 254, "rx_dropped_ttl"),
            (from_peer(INIT)[:3] + b"\x28" + from_peer(INIT)[4:], 255, "rx_dropped_invalid"),
            (from_peer(INIT)[:1] + b"\x81" + from_peer(INIT)[2:], 255, "rx_dropped_invalid"),
            (from_peer(INIT, your=0x9999), 255, "rx_dropped_unknown_discr"),
        ],
        ids=["ttl-254", "length", "M-bit", "unknown-discr"],
    )
    @in_loop
    async def test_dropped_and_counted(
        self, peer: str, local: str, tmp_path: object, data: bytes, ttl: int, counter: str
    ) -> None:
        """A bad packet is counted on the session its addresses name and changes nothing."""
        prober, probe = await one_session(peer, local, tmp_path)
        try:
            prober.handle(data, ancillary(peer, local, ttl), peer, 1.0)
            assert probe.counters[counter] == 1
            assert (probe.session.state, probe.counters["rx"]) == (DOWN, 0)
        finally:
            prober.close()

    @in_loop
    async def test_unknown_source_counted_globally(
        self, peer: str, local: str, tmp_path: object
    ) -> None:
        """A packet that names no session at all is counted in the prober's own counters."""
        prober, probe = await one_session(peer, local, tmp_path)
        stranger = "127.0.0.9" if ":" not in peer else "fe80::9"
        try:
            prober.handle(from_peer(DOWN, your=0), ancillary(stranger, local, 255), stranger, 1.0)
            assert prober.dropped["rx_dropped_unknown_discr"] == 1
            assert probe.session.state == DOWN
        finally:
            prober.close()


@in_loop
async def test_session_socket_source_port(tmp_path: object) -> None:
    """Each session sends from its own port in 49152-65535."""
    _prober, probe = await one_session("127.0.0.2", "127.0.0.1", tmp_path)
    try:
        assert 49152 <= probe.source_port <= 65535
        assert probe.sock.getsockopt(socket.IPPROTO_IP, socket.IP_TTL) == 255
    finally:
        probe.sock.close()


@in_loop
async def test_garbage_changes_nothing(tmp_path: object) -> None:
    """Random datagrams never raise, and one that fails the checks changes no session state."""
    prober, probe = await one_session("127.0.0.2", "127.0.0.1", tmp_path)
    prober.handle(
        from_peer(DOWN, your=0), ancillary("127.0.0.2", "127.0.0.1", 255), "127.0.0.2", 1.0
    )

    @settings(max_examples=300, deadline=None)
    @given(st.binary(max_size=48))
    def feed(data: bytes) -> None:
        before = (probe.session.state, probe.session.remote_discr, probe.counters["rx"])
        prober.handle(data, ancillary("127.0.0.2", "127.0.0.1", 255), "127.0.0.2", 1.5)
        try:
            decode(data)
        except PacketError:
            after = (probe.session.state, probe.session.remote_discr, probe.counters["rx"])
            assert after == before

    try:
        feed()
    finally:
        prober.close()
