"""``kakit vrrp listen``: who advertises which VRID, as seen on the wire, and what is wrong.

Only a VRRP master sends adverts, so on a healthy segment each VRID has one sender at a time.
The table keeps every sender of each VRID (until :data:`FORGET` seconds of silence) with what
its adverts say, and :meth:`Table.findings` reads three problems from it:

- **two masters**: two senders of one VRID whose adverts (priority above 0) overlap for two
  advert intervals or more. A handover overlaps by one interval at most: the old master stops
  at the first higher advert it hears (RFC 5798 section 6.4.3); two streams that go on are a
  split brain, typically protocol 112 blocked between the nodes.
- **mismatched settings**: senders of one VRID (now and earlier, e.g. before a failover) that
  disagree on the advert interval, the virtual addresses, the VRRP version or the
  authentication type. keepalived drops such adverts as bogus, which is a split waiting for
  the next failover.
- adverts that are not valid (short, bad checksum, TTL not 255...) are counted by reason and
  never stop the listener.

The socket side reads IPv4 and IPv6 frames of IP protocol 112 from packet sockets (a kernel
filter drops everything else) on one interface or all of them, and feeds the table; it needs
root or CAP_NET_RAW. Packet sockets see frames before the firewall, so a node whose firewall
drops the peer's adverts still sees them here.
"""

from __future__ import annotations

import time
from collections import deque

from kakit.exceptions import KakitError, UsageError
from kakit.vrrp.packet import PROTOCOL, Advert, PacketError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket
    from collections.abc import Callable
    from typing import Any

FORGET = 300.0
"""Seconds of silence after which a sender leaves the table (and its settings stop counting)."""
RATE_WINDOW = 10.0
"""Seconds over which the advert rate is computed."""
REQUIRED_TTL = 255
"""RFC 3768 and 5798: an advert with another TTL (hop limit) was routed and is dropped."""
MAX_READS = 256
"""Datagrams read per wake-up at most, so a flood cannot keep the table from being shown."""
MAX_SENDERS = 64
"""Senders kept per VRID; adverts from more (forged sources, a flood) are counted as ``full``.
A real segment has two or three: without a bound, each forged source address would cost a
row, for :data:`FORGET` seconds."""


class Finding:
    """One problem seen on the wire.

    Attributes:
        vrid: The VRID concerned.
        family: 4 or 6.
        kind: ``two_masters``, ``interval``, ``vips``, ``version`` or ``auth``.
        message: One line for people.
        senders: The sender addresses concerned.
    """

    __slots__ = ("family", "kind", "message", "senders", "vrid")

    def __init__(
        self, vrid: int, family: int, kind: str, message: str, senders: tuple[str, ...]
    ) -> None:
        self.vrid = vrid
        self.family = family
        self.kind = kind
        self.message = message
        self.senders = senders

    def as_json(self) -> dict[str, Any]:
        """The finding as JSON values."""
        return {
            "vrid": self.vrid,
            "family": self.family,
            "kind": self.kind,
            "message": self.message,
            "senders": list(self.senders),
        }


class Sender:
    """What one address has advertised for one VRID.

    Attributes:
        address: The IP source of its adverts.
        interface: Where they arrived ("" when unknown).
        advert: The latest advert.
        first_seen: Monotonic time of its first advert.
        last_seen: Monotonic time of its latest advert.
        adverts: How many it sent.
        streak_start: Start of its current run of adverts with priority above 0 (None after
            a priority 0 advert or a silence longer than three intervals).
    """

    __slots__ = (
        "address",
        "advert",
        "adverts",
        "first_seen",
        "interface",
        "last_seen",
        "recent",
        "streak_start",
    )

    def __init__(self, address: str, interface: str, advert: Advert, now: float) -> None:
        self.address = address
        self.interface = interface
        self.advert = advert
        self.first_seen = now
        self.last_seen = now
        self.adverts = 0
        self.streak_start: float | None = None
        self.recent: deque[float] = deque(maxlen=64)

    def add(self, advert: Advert, now: float) -> None:
        """Count one advert received at ``now``."""
        silence = now - self.last_seen
        if advert.priority == 0:
            self.streak_start = None
        elif self.streak_start is None or silence > 3 * max(advert.interval, 0.01) + 1:
            self.streak_start = now
        self.advert = advert
        self.last_seen = now
        self.adverts += 1
        self.recent.append(now)

    def rate(self, now: float) -> float:
        """Adverts per second over the last :data:`RATE_WINDOW` seconds."""
        times = [t for t in self.recent if now - t <= RATE_WINDOW]
        if len(times) < 2:
            return 0.0
        return (len(times) - 1) / max(times[-1] - times[0], 1e-3)

    def active(self, now: float) -> bool:
        """Still advertising as master: a streak, and an advert within two intervals."""
        return (
            self.streak_start is not None
            and now - self.last_seen <= 2 * max(self.advert.interval, 0.01) + 0.5
        )

    def as_json(self, now: float) -> dict[str, Any]:
        """The sender's row as JSON values (ages in seconds)."""
        advert = self.advert
        return {
            "address": self.address,
            "interface": self.interface,
            "version": advert.version,
            "priority": advert.priority,
            "interval": advert.interval,
            "auth": advert.auth_name,
            "vips": list(advert.addresses),
            "checksum": advert.checksum_state,
            "adverts": self.adverts,
            "rate": round(self.rate(now), 3),
            "last_seen": round(now - self.last_seen, 3),
            "master": self.active(now),
        }


class Table:
    """Senders per ``(family, vrid)``, and the packets that were dropped, by reason.

    Pure: the caller passes the (monotonic) time, so tests drive it without sockets.
    """

    def __init__(self, forget: float = FORGET) -> None:
        self.forget = forget
        self.vrids: dict[tuple[int, int], dict[str, Sender]] = {}
        self.dropped: dict[str, int] = {}
        self.received = 0

    def drop(self, reason: str) -> None:
        """Count one packet dropped for ``reason``."""
        self.dropped[reason] = self.dropped.get(reason, 0) + 1

    def add(self, source: str, advert: Advert, now: float, interface: str = "") -> None:
        """Enter one valid advert from ``source``."""
        senders = self.vrids.setdefault((advert.family, advert.vrid), {})
        sender = senders.get(source)
        if sender is None:
            if len(senders) >= MAX_SENDERS:
                self.drop("full")
                return
            sender = senders[source] = Sender(source, interface, advert, now)
        self.received += 1
        sender.add(advert, now)

    def receive(
        self,
        source: str,
        payload: bytes,
        ttl: int,
        now: float,
        *,
        destination: str,
        family: int,
        interface: str = "",
    ) -> Advert | None:
        """Decode and enter one datagram's payload; a bad one is counted, never raised."""
        if ttl != REQUIRED_TTL:
            self.drop("ttl")
            return None
        try:
            from kakit.vrrp.packet import decode

            advert = decode(payload, family=family, source=source, destination=destination)
        except PacketError as exc:
            self.drop(exc.reason)
            return None
        self.add(source, advert, now, interface)
        return advert

    def expire(self, now: float) -> None:
        """Forget senders silent for longer than ``forget`` seconds."""
        for key in list(self.vrids):
            senders = self.vrids[key]
            for address in [a for a, s in senders.items() if now - s.last_seen > self.forget]:
                del senders[address]
            if not senders:
                del self.vrids[key]

    def findings(self, now: float) -> list[Finding]:
        """Two masters and mismatched settings, per VRID, in VRID order."""
        found: list[Finding] = []
        for (family, vrid), senders in sorted(self.vrids.items(), key=lambda item: item[0][::-1]):
            found += _two_masters(family, vrid, list(senders.values()), now)
            found += _mismatches(family, vrid, list(senders.values()))
        return found

    def as_json(self, now: float) -> list[dict[str, Any]]:
        """Every VRID with its senders, as JSON values."""
        return [
            {
                "vrid": vrid,
                "family": family,
                "senders": [sender.as_json(now) for sender in senders.values()],
            }
            for (family, vrid), senders in sorted(
                self.vrids.items(), key=lambda item: item[0][::-1]
            )
        ]


def _two_masters(family: int, vrid: int, senders: list[Sender], now: float) -> list[Finding]:
    active = [s for s in senders if s.active(now)]
    found = []
    for index, one in enumerate(active):
        for other in active[index + 1 :]:
            assert one.streak_start is not None and other.streak_start is not None
            overlap = min(one.last_seen, other.last_seen) - max(
                one.streak_start, other.streak_start
            )
            # A handover overlaps by one interval at most (the old master stops at the first
            # higher advert); two intervals is already more than any handover.
            if overlap >= 2 * max(one.advert.interval, other.advert.interval):
                found.append(
                    Finding(
                        vrid,
                        family,
                        "two_masters",
                        f"VRID {vrid}: two masters: {one.address} (priority "
                        f"{one.advert.priority}) and {other.address} (priority "
                        f"{other.advert.priority}) both advertise, for {overlap:.1f} s",
                        (one.address, other.address),
                    )
                )
    return found


def _mismatches(family: int, vrid: int, senders: list[Sender]) -> list[Finding]:
    if len(senders) < 2:
        return []
    found = []
    aspects: tuple[tuple[str, str, Callable[[Advert], object], Callable[[Advert], str]], ...] = (
        ("interval", "advert intervals", lambda a: a.interval, lambda a: f"{a.interval:g} s"),
        (
            "vips",
            "virtual addresses",
            lambda a: frozenset(a.addresses),
            lambda a: ", ".join(a.addresses) or "none",
        ),
        ("version", "VRRP versions", lambda a: a.version, lambda a: f"v{a.version}"),
        ("auth", "authentication", lambda a: a.auth_type, lambda a: a.auth_name),
    )
    for kind, words, key, show in aspects:
        if len({key(s.advert) for s in senders}) > 1:
            said = "; ".join(f"{s.address}: {show(s.advert)}" for s in senders)
            found.append(
                Finding(
                    vrid,
                    family,
                    kind,
                    f"VRID {vrid}: different {words}: {said}",
                    tuple(s.address for s in senders),
                )
            )
    return found


def _age(seconds: float) -> str:
    return f"{seconds:.1f}s" if seconds < 100 else f"{seconds:.0f}s"


def render(table: Table, now: float, findings: list[Finding]) -> list[str]:
    """The table and its findings as text lines."""
    lines = []
    if not table.vrids:
        lines.append("no VRRP adverts seen")
    for entry in table.as_json(now):
        family = "IPv4" if entry["family"] == 4 else "IPv6"
        lines.append(f"VRID {entry['vrid']} ({family})")
        width = max(len(row["address"]) for row in entry["senders"])
        iface = max(5, *(len(row["interface"]) for row in entry["senders"]))
        lines.append(
            f"  {'sender':<{width}}  {'iface':<{iface}} ver prio  intvl auth    adverts  rate/s"
            "  last    vips"
        )
        for row in entry["senders"]:
            master = " MASTER" if row["master"] else ""
            lines.append(
                f"  {row['address']:<{width}}  {row['interface'] or '-':<{iface}} v{row['version']:<2}"
                f" {row['priority']:>4} {row['interval']:>5g}s {row['auth']:<7}"
                f" {row['adverts']:>7} {row['rate']:>7.2f}  {_age(row['last_seen']):>6}"
                f"  {', '.join(row['vips']) or '-'}{master}"
            )
    dropped = ", ".join(f"{reason} {count}" for reason, count in sorted(table.dropped.items()))
    lines.append(f"adverts: {table.received}; dropped: {dropped or 'none'}")
    if findings:
        lines.append("findings:")
        lines += [f"  {finding.message}" for finding in findings]
    else:
        lines.append("findings: none")
    return lines


def report(table: Table, now: float, interface: str, seconds: float) -> dict[str, Any]:
    """The whole state as JSON values (``--json``)."""
    findings = table.findings(now)
    return {
        "interface": interface or None,
        "seconds": round(seconds, 3),
        "adverts": table.received,
        "dropped": dict(sorted(table.dropped.items())),
        "vrids": table.as_json(now),
        "findings": [finding.as_json() for finding in findings],
    }


# -- sockets ----------------------------------------------------------------------------------

#: Linux packet-socket constants (the socket module names only some of them).
_ETH_P_IP = 0x0800
_ETH_P_IPV6 = 0x86DD
_SOL_PACKET = 263
_PACKET_ADD_MEMBERSHIP = 1
_PACKET_MR_MULTICAST = 0
_PACKET_OUTGOING = 4
_SO_ATTACH_FILTER = 26
_ETH_P_ALL = 0x0003
#: BPF's ancillary load of the frame's ethertype (SKF_AD_OFF + SKF_AD_PROTOCOL).
_SKF_AD_PROTOCOL = 0xFFFFF000
#: The Ethernet addresses of 224.0.0.18 and ff02::12, joined so that a NIC's multicast filter
#: lets the adverts in on a host that runs no keepalived.
_GROUP_MACS = {4: bytes.fromhex("01005e000012"), 6: bytes.fromhex("333300000012")}
#: Where the protocol (IPv4) or next header (IPv6) byte is in the IP header.
_PROTOCOL_OFFSET = {4: 9, 6: 6}
IPV6_HEADER = 40


def _filter(family: int) -> bytes:
    """A classic BPF program keeping only IP protocol 112, so the kernel drops the rest."""
    import struct

    ethertype = _ETH_P_IP if family == 4 else _ETH_P_IPV6
    program = [
        (0x28, 0, 0, _SKF_AD_PROTOCOL),  # ldh the frame's ethertype
        (0x15, 0, 3, ethertype),  # jeq, else drop
        (0x30, 0, 0, _PROTOCOL_OFFSET[family]),  # ldb [offset]
        (0x15, 0, 1, PROTOCOL),  # jeq #112, next, skip one
        (0x06, 0, 0, 0xFFFF),  # ret: keep
        (0x06, 0, 0, 0),  # ret: drop
    ]
    return b"".join(struct.pack("=HBBI", *instruction) for instruction in program)


def open_sockets(interface: str = "") -> list[tuple[int, socket.socket]]:
    """Packet sockets for IPv4 and IPv6 protocol 112 on ``interface`` (or every interface).

    Packet sockets see frames before the firewall and also the host's own adverts: a node
    whose INPUT chain drops protocol 112 (the classic split brain) still shows both masters.

    Raises:
        UsageError: No such interface, or no permission (root or CAP_NET_RAW is needed).
        KakitError: The sockets cannot be opened.
    """
    import ctypes
    import socket
    import struct

    index = 0
    if interface:
        try:
            index = socket.if_nametoindex(interface)
        except OSError:
            raise UsageError(f"no interface {interface!r} here") from None
    opened: list[tuple[int, socket.socket]] = []
    try:
        for family in (4, 6):
            # ETH_P_ALL: only such sockets also see the frames this host sends (its own
            # adverts); the filter keeps the one ethertype and protocol.
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(_ETH_P_ALL))
            opened.append((family, sock))
            code = ctypes.create_string_buffer(_filter(family))
            # struct sock_fprog: the instruction count and a pointer to the program.
            fprog = struct.pack("HL", len(code.raw) // 8, ctypes.addressof(code))
            sock.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, fprog)
            if interface:
                sock.bind((interface, _ETH_P_ALL))
            indexes = [index] if index else [i for i, _ in socket.if_nameindex()]
            for where in indexes:
                # struct packet_mreq: ifindex, type, address length, address (8 bytes).
                mreq = struct.pack("=iHH8s", where, _PACKET_MR_MULTICAST, 6, _GROUP_MACS[family])
                try:
                    sock.setsockopt(_SOL_PACKET, _PACKET_ADD_MEMBERSHIP, mreq)
                except OSError:
                    pass  # loopback and other links without multicast
    except PermissionError:
        for _, sock in opened:
            sock.close()
        raise UsageError("listening for VRRP needs root or CAP_NET_RAW") from None
    except OSError as exc:
        for _, sock in opened:
            sock.close()
        raise KakitError(f"cannot open a packet socket for VRRP: {exc.strerror or exc}") from exc
    return opened


def read_one(family: int, sock: socket.socket, table: Table, now: float) -> None:
    """Read one frame's IP datagram from ``sock`` into ``table`` (a bad one is counted)."""
    import socket

    from kakit.vrrp.packet import decode_ipv4

    data, address = sock.recvfrom(65535)
    interface = str(address[0])
    if address[2] == _PACKET_OUTGOING:
        interface += " (sent)"
    if family == 4:
        try:
            datagram = decode_ipv4(data)
        except PacketError as exc:
            table.drop(exc.reason)
            return
        if datagram.protocol != PROTOCOL:
            return
        table.receive(
            datagram.source,
            datagram.payload,
            datagram.ttl,
            now,
            destination=datagram.destination,
            family=4,
            interface=interface,
        )
        return
    if len(data) < IPV6_HEADER or data[0] >> 4 != 6:
        table.drop("ip")
        return
    length = int.from_bytes(data[4:6], "big")
    if data[6] != PROTOCOL:
        return  # extension headers: not VRRP as keepalived sends it
    if len(data) < IPV6_HEADER + length:
        table.drop("ip")
        return
    table.receive(
        socket.inet_ntop(socket.AF_INET6, data[8:24]),
        data[IPV6_HEADER : IPV6_HEADER + length],
        data[7],
        now,
        destination=socket.inet_ntop(socket.AF_INET6, data[24:40]),
        family=6,
        interface=interface,
    )


def listen(
    interface: str,
    seconds: float | None,
    *,
    tick: float = 1.0,
    on_tick: Callable[[Table, float], None] | None = None,
    table: Table | None = None,
) -> Table:
    """Listen for ``seconds`` (None: until interrupted), calling ``on_tick`` every ``tick``.

    Raises:
        UsageError: No such interface, no permission.
        KakitError: The sockets cannot be opened.
    """
    import select

    table = table if table is not None else Table()
    sockets = open_sockets(interface)
    by_fd = {sock.fileno(): (family, sock) for family, sock in sockets}
    for _, sock in sockets:
        sock.setblocking(False)
    start = time.monotonic()
    next_tick = start + tick
    try:
        while True:
            now = time.monotonic()
            if seconds is not None and now - start >= seconds:
                break
            until = next_tick if seconds is None else min(next_tick, start + seconds)
            readable, _, _ = select.select(list(by_fd), [], [], max(0.0, until - now))
            reads = 0
            for fd in readable:
                family, sock = by_fd[fd]
                # Non-blocking: drain what is queued, bounded, then show the table.
                while reads < MAX_READS:
                    try:
                        read_one(family, sock, table, time.monotonic())
                    except BlockingIOError:
                        break
                    except OSError:
                        table.drop("socket")
                        break
                    reads += 1
            now = time.monotonic()
            if now >= next_tick:
                table.expire(now)
                if on_tick is not None:
                    on_tick(table, now)
                next_tick = now + tick
    finally:
        for _, sock in sockets:
            sock.close()
    return table


#: ``--once``'s listening time: long enough to see two masters overlap by more than a
#: handover's at the usual one-second adverts, with a margin for the first advert's wait.
ONCE_SECONDS = 6.0


def run(interface: str, *, once: bool, as_json: bool, duration: float | None) -> int:
    """``kakit vrrp listen``: listen, print, and return the exit code (1 when findings).

    Without ``once`` the table is printed every second (redrawn on a terminal) until
    ``duration`` ends or the user interrupts.

    Raises:
        UsageError: No such interface, no permission.
    """
    import json
    import sys

    start = time.monotonic()
    terminal = sys.stdout.isatty()

    def show(table: Table, now: float) -> None:
        lines = render(table, now, table.findings(now))
        if terminal:
            sys.stdout.write("\x1b[H\x1b[2J")  # redraw in place
        else:
            lines.append("")
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()

    table = Table()
    seconds = duration if duration is not None else (ONCE_SECONDS if once else None)
    try:
        listen(interface, seconds, on_tick=None if once else show, table=table)
    except KeyboardInterrupt:
        pass
    now = time.monotonic()
    findings = table.findings(now)
    if as_json:
        print(json.dumps(report(table, now, interface, now - start), indent=2))
    else:
        show(table, now)
    return 1 if findings else 0
