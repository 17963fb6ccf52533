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
#: rtnetlink (linux/rtnetlink.h, linux/if_addr.h).
_RTM_NEWADDR = 20
_RTM_GETADDR = 22
_NLMSG_ERROR = 2
_NLMSG_DONE = 3
_NLM_F_REQUEST_DUMP = 0x301
_IFA_ADDRESS = 1
_IFA_LOCAL = 2
_NLMSG = struct.Struct("=IHHII")
_IFADDRMSG = struct.Struct("=BBBBI")
_RTATTR = struct.Struct("=HH")


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
    try:
        sock = _socket.socket(_socket.AF_NETLINK, _socket.SOCK_RAW, 0)
    except OSError as exc:
        raise CheckError(f"cannot list this node's addresses: {exc.strerror or exc}") from exc
    try:
        sock.settimeout(2.0)
        request = _IFADDRMSG.pack(_socket.AF_INET, 0, 0, 0, 0)
        sock.send(
            _NLMSG.pack(_NLMSG.size + len(request), _RTM_GETADDR, _NLM_F_REQUEST_DUMP, 1, 0)
            + request
        )
        found: dict[str, str] = {}
        while True:
            data = sock.recv(65536)
            if not data:
                return found
            offset = 0
            while offset + _NLMSG.size <= len(data):
                length, kind, _, _, _ = _NLMSG.unpack_from(data, offset)
                if length < _NLMSG.size:
                    return found
                if kind == _NLMSG_DONE:
                    return found
                if kind == _NLMSG_ERROR:
                    raise CheckError("the kernel refused to list addresses")
                if kind == _RTM_NEWADDR:
                    _address(data[offset + _NLMSG.size : offset + length], found)
                offset += (length + 3) & ~3
    except OSError as exc:
        raise CheckError(f"cannot list this node's addresses: {exc.strerror or exc}") from exc
    finally:
        sock.close()


def _address(message: bytes, found: dict[str, str]) -> None:
    """Add the address of one ``RTM_NEWADDR`` message to ``found``."""
    if len(message) < _IFADDRMSG.size:
        return
    family, _, _, _, index = _IFADDRMSG.unpack_from(message)
    if family != _socket.AF_INET:
        return
    attributes: dict[int, bytes] = {}
    offset = _IFADDRMSG.size
    while offset + _RTATTR.size <= len(message):
        length, kind = _RTATTR.unpack_from(message, offset)
        if length < _RTATTR.size:
            break
        attributes[kind] = message[offset + _RTATTR.size : offset + length]
        offset += (length + 3) & ~3
    # IFA_LOCAL is the address itself; IFA_ADDRESS is the peer on point-to-point links.
    raw = attributes.get(_IFA_LOCAL) or attributes.get(_IFA_ADDRESS)
    if raw is None or len(raw) != 4:
        return
    try:
        name = _socket.if_indextoname(index)
    except OSError:
        name = ""
    found[_socket.inet_ntoa(raw)] = name


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
