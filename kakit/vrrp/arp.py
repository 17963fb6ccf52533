"""ARP probes for an address, the answers to them, and the node's own IPv4 addresses.

A probe (RFC 5227) asks "who has TARGET?" with the sender address 0.0.0.0: whoever holds
TARGET answers, and no neighbour's cache learns anything from it, so probing never moves
traffic (an ordinary request from the VIP would re-point every cache on the segment at us in
the middle of a split). Linux does not answer its own probes and a packet socket does not
receive the host's own frames as incoming, so while this node holds an address, any answer for
it comes from another host.

The node's addresses come from the kernel over rtnetlink (``RTM_GETADDR``), without running
``ip``: the split-brain check runs under keepalived every second, and only a node that holds a
virtual address probes at all.
"""

from __future__ import annotations

# _socket, not socket: the split-brain check runs under keepalived every second, and a node
# that holds no virtual address only lists its addresses; socket.py's enums cost ~4 ms there.
import _socket
import struct

from kakit.exceptions import CheckError

ETH_P_ARP = 0x0806
BROADCAST = b"\xff" * 6
_ARP = struct.Struct("!HHBBH6s4s6s4s")
_ETHERNET = 14
_PACKET_OUTGOING = 4


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


def ipv4_addresses() -> dict[str, str]:
    """Every IPv4 address of this network namespace, with its interface's name.

    Raises:
        CheckError: The kernel could not be asked.
    """
    from kakit.core import netlink

    try:
        found = netlink.addresses()
    except OSError as exc:
        raise CheckError(f"cannot list this node's addresses: {exc.strerror or exc}") from exc
    return {entry.address: entry.interface for entry in found if ":" not in entry.address}


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


class ProbeResult:
    """What one round of probes on one interface heard.

    Attributes:
        mac: This interface's own hardware address.
        answers: For each address probed, the other hosts' hardware addresses that answered
            for it (replies, and requests or announcements sent from it), in order heard.
    """

    __slots__ = ("answers", "mac")

    def __init__(self, mac: str, answers: dict[str, tuple[str, ...]]) -> None:
        self.mac = mac
        self.answers = answers


def probe(interface: str, targets: list[str], *, count: int, wait: float) -> ProbeResult:
    """Probe ``targets`` on ``interface`` ``count`` times over ``wait`` seconds; collect answers.

    The probes are spread over the first half of ``wait`` (a lost one is not the end); the
    wait is bounded whatever arrives.

    Raises:
        CheckError: The packet socket cannot be opened (root or CAP_NET_RAW is needed) or the
            interface has no Ethernet address.
    """
    import select
    import socket
    import time

    try:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
    except PermissionError:
        raise CheckError("ARP probes need root or CAP_NET_RAW") from None
    except OSError as exc:
        raise CheckError(f"cannot open a packet socket: {exc.strerror or exc}") from exc
    answers: dict[str, dict[str, None]] = {target: {} for target in targets}
    try:
        try:
            sock.bind((interface, ETH_P_ARP))
        except OSError as exc:
            raise CheckError(f"cannot probe on {interface}: {exc.strerror or exc}") from exc
        own = sock.getsockname()[4]
        if len(own) != 6:
            raise CheckError(f"{interface} has no Ethernet address to send ARP from")
        mine = mac_text(own)
        frames = [probe_frame(own, target) for target in targets]
        start = time.monotonic()
        end = start + wait
        spacing = wait / 2 / count
        sent = 0
        while True:
            now = time.monotonic()
            if sent < count and now >= start + sent * spacing:
                for frame in frames:
                    try:
                        sock.send(frame)
                    except OSError as exc:
                        raise CheckError(f"cannot send ARP on {interface}: {exc.strerror}") from exc
                sent += 1
                continue
            if now >= end:
                break
            due = end if sent >= count else min(end, start + sent * spacing)
            try:
                readable, _, _ = select.select([sock], [], [], max(0.0, due - now))
                if not readable:
                    continue
                frame, address = sock.recvfrom(2048)
            except OSError as exc:
                raise CheckError(f"cannot read ARP on {interface}: {exc.strerror or exc}") from exc
            if address[2] == _PACKET_OUTGOING:
                continue
            packet = decode(frame)
            if packet is None or packet.sender_mac == mine:
                continue
            if packet.sender_ip in answers:
                answers[packet.sender_ip][packet.sender_mac] = None
    finally:
        sock.close()
    return ProbeResult(mine, {target: tuple(macs) for target, macs in answers.items()})
