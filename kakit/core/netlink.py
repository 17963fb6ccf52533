"""The kernel's interface addresses over rtnetlink: listed, added and removed.

No ``ip`` process: one netlink socket per call, as iproute2 itself does it. Listing costs well
under a millisecond, which matters to the ``realserver`` and ``split-brain`` checks that
keepalived may run every second. Addresses belong to the network namespace of the calling process.

Message layout (``linux/netlink.h``, ``linux/if_addr.h``): a 16-byte ``nlmsghdr`` (length, type,
flags, sequence, port), then an ``ifaddrmsg`` (family, prefix length, flags, scope, interface
index), then attributes of 4-byte-aligned ``(length, type, value)``. A dump ends with
``NLMSG_DONE``; a request with ``NLM_F_ACK`` is answered by ``NLMSG_ERROR`` carrying 0 or a
negative errno.

The C module ``_socket`` is used rather than ``socket``: the latter imports ``enum`` and
``selectors``, about 3 ms that the check would pay on every run for nothing it uses.
"""

from __future__ import annotations

import _socket
import os
import struct

from kakit.core.record import frozen

NLMSG_ERROR = 2
NLMSG_DONE = 3
RTM_NEWADDR = 20
RTM_DELADDR = 21
RTM_GETADDR = 22
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLM_F_DUMP = 0x300
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400
IFA_ADDRESS = 1
IFA_LOCAL = 2
RTM_GETLINK = 18
IFLA_ADDRESS = 1

_HEADER = struct.Struct("=IHHII")
_IFADDR = struct.Struct("=BBBBI")
_ATTR = struct.Struct("=HH")
_IFINFO = struct.Struct("=BxHiII")
_FAMILY_LENGTH = {_socket.AF_INET: 4, _socket.AF_INET6: 16}

TIMEOUT = 5.0
"""Seconds one netlink request may take (the kernel answers in microseconds)."""

MAX_READS = 10_000
"""Datagrams read for one request at most: the loop ends even if the kernel never says DONE."""


@frozen
class Address:
    """One address as the kernel holds it.

    Attributes:
        interface: The interface's name (its index, as text, if it vanished meanwhile).
        address: The address, as ``inet_ntop`` writes it.
        prefix: Its prefix length.
    """

    interface: str
    address: str
    prefix: int


def messages(data: bytes) -> list[tuple[int, int, int, bytes]]:
    """The netlink messages in one datagram: ``(type, flags, sequence, payload)``.

    A truncated or malformed message ends the list: the kernel never sends one, and nothing
    after it can be framed.
    """
    found = []
    offset = 0
    while offset + _HEADER.size <= len(data):
        length, kind, flags, seq, _port = _HEADER.unpack_from(data, offset)
        if length < _HEADER.size or offset + length > len(data):
            break
        found.append((kind, flags, seq, data[offset + _HEADER.size : offset + length]))
        offset += (length + 3) & ~3
    return found


def attributes(payload: bytes, offset: int) -> dict[int, bytes]:
    """The ``(type: value)`` attributes of a payload from ``offset`` (malformed ones end it)."""
    found: dict[int, bytes] = {}
    while offset + _ATTR.size <= len(payload):
        length, kind = _ATTR.unpack_from(payload, offset)
        if length < _ATTR.size or offset + length > len(payload):
            break
        found.setdefault(kind, payload[offset + _ATTR.size : offset + length])
        offset += (length + 3) & ~3
    return found


def address_of(payload: bytes) -> tuple[int, str, int] | None:
    """``(interface index, address, prefix)`` of one ``RTM_NEWADDR`` payload; None if malformed.

    ``IFA_LOCAL`` is the interface's own address (``IFA_ADDRESS`` is the peer's on a
    point-to-point link); IPv6 sends only ``IFA_ADDRESS``.
    """
    if len(payload) < _IFADDR.size:
        return None
    family, prefix, _flags, _scope, index = _IFADDR.unpack_from(payload)
    size = _FAMILY_LENGTH.get(family)
    attrs = attributes(payload, _IFADDR.size)
    raw = attrs.get(IFA_LOCAL, attrs.get(IFA_ADDRESS))
    if size is None or raw is None or len(raw) != size or prefix > size * 8:
        return None
    return index, _socket.inet_ntop(family, raw), prefix


def _request(kind: int, flags: int, payload: bytes) -> list[bytes]:
    """Send one request and collect the payloads answered, up to DONE or the ACK.

    Raises:
        OSError: The socket failed, the kernel refused the request (its errno), or it timed
            out.
    """
    seq = 1
    sock = _socket.socket(_socket.AF_NETLINK, _socket.SOCK_RAW | _socket.SOCK_CLOEXEC)
    try:
        sock.settimeout(TIMEOUT)
        sock.bind((0, 0))
        sock.send(_HEADER.pack(_HEADER.size + len(payload), kind, flags, seq, 0) + payload)
        found: list[bytes] = []
        for _ in range(MAX_READS):
            for answer, _flags, answer_seq, body in messages(sock.recv(1 << 16)):
                if answer_seq != seq:
                    continue  # not ours (a multicast group would be; none is joined)
                if answer == NLMSG_DONE:
                    return found
                if answer == NLMSG_ERROR:
                    code = -struct.unpack_from("=i", body)[0] if len(body) >= 4 else 0
                    if code:
                        raise OSError(code, os.strerror(code))
                    return found
                found.append(body)
    finally:
        sock.close()
    raise OSError(f"no end to the kernel's answer after {MAX_READS} reads")


def _index_name(index: int, names: dict[int, str]) -> str:
    if index not in names:
        try:
            names[index] = _socket.if_indextoname(index)
        except OSError:
            names[index] = str(index)
    return names[index]


def addresses() -> list[Address]:
    """Every IPv4 and IPv6 address of this network namespace.

    Raises:
        OSError: Netlink failed.
    """
    payloads = _request(
        RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, _IFADDR.pack(_socket.AF_UNSPEC, 0, 0, 0, 0)
    )
    names: dict[int, str] = {}
    found = []
    for payload in payloads:
        parsed = address_of(payload)
        if parsed is not None:
            index, address, prefix = parsed
            found.append(
                Address(interface=_index_name(index, names), address=address, prefix=prefix)
            )
    return found


def hardware_addresses() -> set[str]:
    """The link-layer addresses (``aa:bb:...``) of every interface of this network namespace.

    Raises:
        OSError: Netlink failed.
    """
    payloads = _request(
        RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, _IFINFO.pack(_socket.AF_UNSPEC, 0, 0, 0, 0)
    )
    found = set()
    for payload in payloads:
        if len(payload) >= _IFINFO.size:
            raw = attributes(payload, _IFINFO.size).get(IFLA_ADDRESS, b"")
            if len(raw) == 6 and any(raw):
                found.add(":".join(f"{byte:02x}" for byte in raw))
    return found


def change(add: bool, interface: str, address: str) -> None:
    """Add (or delete) ``address`` as a host address (/32 or /128) on ``interface``.

    Adding an address already there fails with ``EEXIST``, deleting one that is not with
    ``EADDRNOTAVAIL``: callers look first.

    Raises:
        OSError: No such interface, not permitted (not root), or refused by the kernel.
    """
    family = _socket.AF_INET6 if ":" in address else _socket.AF_INET
    packed = _socket.inet_pton(family, address)
    index = _socket.if_nametoindex(interface)
    body = _IFADDR.pack(family, len(packed) * 8, 0, 0, index)
    for kind in (IFA_LOCAL, IFA_ADDRESS):
        body += _ATTR.pack(_ATTR.size + len(packed), kind) + packed
    flags = NLM_F_REQUEST | NLM_F_ACK | (NLM_F_CREATE | NLM_F_EXCL if add else 0)
    _request(RTM_NEWADDR if add else RTM_DELADDR, flags, body)
