"""One round of probes on an interface: ARP for IPv4 addresses, Neighbor Discovery for IPv6.

Both families go through one packet socket in one round, so a node holding an IPv4 and an IPv6
virtual address on the same interface listens ``wait`` seconds once, not twice. The socket sees
every frame of the interface unless told otherwise, so a classic BPF filter is attached before
it is bound: the kernel then queues only ARP and ICMPv6 Neighbor Solicitations and
Advertisements, and a busy interface neither fills the socket's buffer (dropping the one answer
that matters) nor wakes Python for every frame.

Linux does not answer its own probes and a packet socket does not receive the host's own frames
as incoming, so while this node holds an address, any answer for it comes from another host.
"""

from __future__ import annotations

# _socket, not socket: the split-brain check runs under keepalived every second, and a node
# that holds no virtual address only lists its addresses; socket.py's enums cost ~4 ms there.
import _socket
import struct

from kakit.exceptions import CheckError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket

ETH_P_ALL = 0x0003
SO_ATTACH_FILTER = 26  # asm-generic/socket.h (x86, arm, arm64, riscv ...)
_PACKET_OUTGOING = 4

# Accept ARP, and ICMPv6 types 135-136 in an IPv6 header without extension headers (Neighbor
# Discovery never uses one); drop everything else. Each row is (code, jump-true, jump-false, k).
_LOAD_HALF, _LOAD_BYTE, _JUMP_EQUAL, _RETURN = 0x28, 0x30, 0x15, 0x06
_FILTER = (
    (_LOAD_HALF, 0, 0, 12),  # 0: EtherType
    (_JUMP_EQUAL, 6, 0, 0x0806),  # 1: ARP: accept (8)
    (_JUMP_EQUAL, 0, 6, 0x86DD),  # 2: not IPv6: drop (9)
    (_LOAD_BYTE, 0, 0, 20),  # 3: IPv6 next header
    (_JUMP_EQUAL, 0, 4, 58),  # 4: not ICMPv6: drop (9)
    (_LOAD_BYTE, 0, 0, 54),  # 5: ICMPv6 type
    (_JUMP_EQUAL, 1, 0, 135),  # 6: solicitation: accept (8)
    (_JUMP_EQUAL, 0, 1, 136),  # 7: advertisement: accept (8), else drop (9)
    (_RETURN, 0, 0, 0x40000),  # 8: accept the whole frame
    (_RETURN, 0, 0, 0),  # 9: drop
)


class ProbeResult:
    """What one round of probes on one interface heard.

    Attributes:
        mac: This interface's own hardware address.
        answers: For each address probed, the other hosts' hardware addresses that answered
            for it (ARP replies and requests sent from it; Neighbor Advertisements for it and
            solicitations sent from it), in order heard.
    """

    __slots__ = ("answers", "mac")

    def __init__(self, mac: str, answers: dict[str, tuple[str, ...]]) -> None:
        self.mac = mac
        self.answers = answers


def local_addresses() -> dict[str, str]:
    """Every IPv4 and IPv6 address of this network namespace, with its interface's name.

    Raises:
        CheckError: The kernel could not be asked.
    """
    from kakit.core import netlink

    try:
        found = netlink.addresses()
    except OSError as exc:
        raise CheckError(f"cannot list this node's addresses: {exc.strerror or exc}") from exc
    return {entry.address: entry.interface for entry in found}


def normal(address: str) -> str:
    """``address`` as the kernel lists it: ``fd00::0100`` is ``fd00::100``, and a zone
    (``fe80::1%eth0``) is dropped, since the interface holding it is what counts. Unchanged
    if it is no address."""
    family = _socket.AF_INET6 if ":" in address else _socket.AF_INET
    try:
        return _socket.inet_ntop(family, _socket.inet_pton(family, address.split("%")[0]))
    except OSError:
        return address


def _attach_filter(sock: _socket.socket) -> None:
    """Attach :data:`_FILTER` (``struct sock_fprog`` points at the program, so it is built in an
    array whose address is known and which lives until the kernel has copied it)."""
    import array

    program = array.array("B", b"".join(struct.pack("=HBBI", *row) for row in _FILTER))
    address, _ = program.buffer_info()
    sock.setsockopt(_socket.SOL_SOCKET, SO_ATTACH_FILTER, struct.pack("HP", len(_FILTER), address))


def open_socket(interface: str) -> socket.socket:
    """A packet socket on ``interface`` that receives ARP and Neighbor Discovery frames only.

    Raises:
        CheckError: It cannot be opened (root or CAP_NET_RAW is needed) or bound.
    """
    import socket

    try:
        # Protocol 0 receives nothing until bound: no unfiltered frame is queued before the
        # filter is in place.
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    except PermissionError:
        raise CheckError("ARP and ND probes need root or CAP_NET_RAW") from None
    except OSError as exc:
        raise CheckError(f"cannot open a packet socket: {exc.strerror or exc}") from exc
    try:
        _attach_filter(sock)
        sock.bind((interface, ETH_P_ALL))
    except OSError as exc:
        sock.close()
        raise CheckError(f"cannot probe on {interface}: {exc.strerror or exc}") from exc
    return sock


def probe(interface: str, targets: list[str], *, count: int, wait: float) -> ProbeResult:
    """Probe ``targets`` on ``interface`` ``count`` times over ``wait`` seconds; collect answers.

    IPv4 targets get ARP probes (:mod:`kakit.vrrp.arp`), IPv6 ones DAD Neighbor Solicitations
    (:mod:`kakit.vrrp.nd`). The probes are spread over the first half of ``wait`` (a lost one
    is not the end); the wait is bounded whatever arrives.

    Raises:
        CheckError: The packet socket cannot be opened (root or CAP_NET_RAW is needed) or the
            interface has no Ethernet address.
    """
    import select
    import time

    from kakit.vrrp import arp, nd

    keys = {normal(target): target for target in targets}
    sock = open_socket(interface)
    answers: dict[str, dict[str, None]] = {target: {} for target in targets}
    try:
        own = sock.getsockname()[4]
        if len(own) != 6:
            raise CheckError(f"{interface} has no Ethernet address to probe from")
        mine = arp.mac_text(own)
        try:
            frames = [
                (nd.probe_frame(own, key), nd.ETH_P_IPV6)
                if ":" in key
                else (arp.probe_frame(own, key), arp.ETH_P_ARP)
                for key in keys
            ]
        except OSError:
            raise CheckError(
                f"cannot probe for {', '.join(targets)}: not all are addresses"
            ) from None
        start = time.monotonic()
        end = start + wait
        spacing = wait / 2 / count
        sent = 0
        while True:
            now = time.monotonic()
            if sent < count and now >= start + sent * spacing:
                for frame, protocol in frames:
                    try:
                        sock.sendto(frame, (interface, protocol))
                    except OSError as exc:
                        raise CheckError(
                            f"cannot send probes on {interface}: {exc.strerror}"
                        ) from exc
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
                raise CheckError(
                    f"cannot read probes on {interface}: {exc.strerror or exc}"
                ) from exc
            if address[2] == _PACKET_OUTGOING:
                continue
            claimed = _claim(frame)
            if claimed is not None and claimed[0] in keys and claimed[1] != mine:
                answers[keys[claimed[0]]][claimed[1]] = None
    finally:
        sock.close()
    return ProbeResult(mine, {target: tuple(macs) for target, macs in answers.items()})


def _claim(frame: bytes) -> tuple[str, str] | None:
    """``(address, MAC)`` a received frame shows another host holding, or None."""
    from kakit.vrrp import arp, nd

    if frame[12:14] == b"\x08\x06":
        packet = arp.decode(frame)
        return None if packet is None else (packet.sender_ip, packet.sender_mac)
    found = nd.decode(frame)
    return None if found is None else nd.claim(found)
