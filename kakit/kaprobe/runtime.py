"""The resident BFD speaker: sockets, demultiplexing, one timer per session, outputs.

Everything time-critical runs in loop callbacks, without a task hop: the receive sockets are
read by ``loop.add_reader`` callbacks with ``recvmsg`` (asyncio's datagram protocol hides the
TTL ancillary data), and each session has exactly one ``loop.call_at`` timer, armed for the
earlier of its next transmission and its detection deadline. Nothing polls.

Files (track files, the status file) are written by one writer task through a thread, so an
fsync never delays a packet.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import os
import random
import signal
import socket
import struct
import time

from kakit.core.log import logger
from kakit.exceptions import CheckError
from kakit.kaprobe.packet import (
    DIAG_DETECTION_EXPIRED,
    STATE_NAMES,
    UP,
    PacketError,
    decode,
    diag_name,
    encode,
)
from kakit.kaprobe.session import MICROSECOND, Session, Transition

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from kakit.config import Config
    from kakit.kaprobe.packet import ControlPacket
    from kakit.kaprobe.reports import Reports
    from kakit.kaprobe.spec import ProbeSpec

CONTROL_PORT = 3784
SOURCE_PORTS = (49152, 65535)
GTSM_TTL = 255
TOS_CS6 = 0xC0

# Linux values the socket module lacks on Python 3.11.
IP_RECVTTL = getattr(socket, "IP_RECVTTL", 12)
IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)
_ANCILLARY = 256
_PKTINFO4 = struct.Struct("=I4s4s")
_PKTINFO6 = struct.Struct("=16sI")

COUNTERS = (
    "rx",
    "tx",
    "tx_errors",
    "rx_dropped_ttl",
    "rx_dropped_invalid",
    "rx_dropped_unknown_discr",
    "polls_answered",
    "up",
    "down",
)


def normalise_address(text: str) -> str:
    """The canonical text of an IP address (as ``inet_ntop`` prints it).

    Raises:
        ValueError: Not an IP address.
    """
    return ipaddress.ip_address(text).compressed


def random_discriminator(taken: set[int]) -> int:
    """A random, nonzero discriminator not in ``taken``."""
    while True:
        value = random.SystemRandom().randrange(1, 1 << 32)
        if value not in taken:
            return value


class Probe:
    """One session at run time: the pure :class:`Session`, its socket, timer and counters."""

    def __init__(self, spec: ProbeSpec, prober: Prober, discr: int, now: float) -> None:
        self.spec = spec
        self.prober = prober
        self.session = Session(
            local_discr=discr,
            desired_min_tx=spec.interval_us,
            required_min_rx=spec.interval_us,
            detect_mult=spec.multiplier,
            now=now,
            passive=spec.passive,
        )
        self.family = socket.AF_INET6 if ":" in spec.peer else socket.AF_INET
        self.counters = dict.fromkeys(COUNTERS, 0)
        self.since = time.time()
        self.changed_at = now
        self.sock = self._open_socket()
        self._handle: asyncio.TimerHandle | None = None
        self._armed_at = float("inf")
        self._tx_error: str | None = None

    def _open_socket(self) -> socket.socket:
        """The session's TX socket: bound to (local, a port in 49152-65535), TTL 255, CS6."""
        sock = socket.socket(self.family, socket.SOCK_DGRAM)
        try:
            if self.family == socket.AF_INET:
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, GTSM_TTL)
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, TOS_CS6)
            else:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, GTSM_TTL)
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, TOS_CS6)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_PRIORITY, 6)
            # RFC 5881 4: the source port is in 49152-65535, outside Linux's default ephemeral
            # range, so pick and bind one ourselves.
            for _attempt in range(64):
                port = random.randint(*SOURCE_PORTS)
                try:
                    sock.bind((self.spec.local, port))
                    break
                except OSError as exc:
                    if exc.errno != errno.EADDRINUSE:
                        raise
            else:
                raise OSError(errno.EADDRINUSE, "no free source port in 49152-65535")
            sock.connect((self.spec.peer, CONTROL_PORT))
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            raise CheckError(
                f"BFD session {self.spec.name}: cannot open its socket: {exc.strerror or exc}"
            ) from exc
        return sock

    @property
    def source_port(self) -> int:
        """The UDP source port of our packets."""
        port: int = self.sock.getsockname()[1]
        return port

    # -- timer ---------------------------------------------------------------------------

    def arm(self) -> None:
        """(Re)arm the session's one timer for its next deadline."""
        when = self.session.next_deadline()
        if self._handle is not None:
            if when >= self._armed_at:
                return
            self._handle.cancel()
        self._armed_at = when
        self._handle = self.prober.loop.call_at(when, self._on_timer)

    def disarm(self) -> None:
        """Stop the timer (on shutdown)."""
        if self._handle is not None:
            self._handle.cancel()
        self._handle = None
        self._armed_at = float("inf")

    def _on_timer(self) -> None:
        self._handle = None
        self._armed_at = float("inf")
        session = self.session
        now = self.prober.loop.time()
        if session.detection_due(now):
            # The loop may have run late: packets queued in the socket since the deadline
            # count, so read them before judging the peer dead.
            self.prober.drain()
            now = self.prober.loop.time()
            deadline = session.detect_deadline
            if deadline is not None and session.expire(now):
                logger.warning(
                    f"BFD session {self.spec.name}: detection time "
                    f"{session.detection_time // 1000} ms expired "
                    f"({(now - deadline) * 1e6:.0f} usec overdue)"
                )
        if now >= session.next_tx_at:
            if session.may_transmit():
                self.send(session.packet())
            session.transmitted(now)
        self.consume_transitions()
        self.arm()

    # -- packets -------------------------------------------------------------------------

    def send(self, packet: ControlPacket) -> None:
        """Send one control packet; errors are counted, and logged once per kind."""
        try:
            self.sock.send(encode(packet))
        except OSError as exc:
            self.counters["tx_errors"] += 1
            text = exc.strerror or str(exc)
            if text != self._tx_error:
                logger.warning(f"BFD session {self.spec.name}: send failed: {text}")
                self._tx_error = text
            return
        self.counters["tx"] += 1
        self._tx_error = None

    def receive(self, packet: ControlPacket, now: float) -> None:
        """A packet demultiplexed to this session."""
        self.counters["rx"] += 1
        if self.session.receive(packet, now):
            self.counters["polls_answered"] += 1
            self.send(self.session.packet(final=True))
        self.consume_transitions()
        self.arm()

    def consume_transitions(self) -> None:
        """Report the session's state changes: log, counters, track file, status."""
        transitions = self.session.transitions
        if not transitions:
            return
        self.session.transitions = []
        for change in transitions:
            self._report(change)

    def _report(self, change: Transition) -> None:
        old, new = STATE_NAMES[change.old], STATE_NAMES[change.new]
        reason = f" ({diag_name(change.diag)})" if change.diag else ""
        logger.info(f"BFD session {self.spec.name}: {old} -> {new}{reason}")
        self.since = time.time()
        self.changed_at = change.at
        if new == "Up":
            self.counters["up"] += 1
        elif change.old == UP:
            self.counters["down"] += 1
        was_up, is_up = change.old == UP, change.new == UP
        if was_up != is_up:
            self.prober.track(self.spec, is_up)
            self.prober.report(self.spec, "bfd_up" if is_up else "bfd_down", self.describe(change))
        self.prober.status_changed()

    def describe(self, change: Transition) -> str:
        """The alert's cause: the peer, the local address, the diagnostic, the detection time."""
        s, spec = self.session, self.spec
        if change.new == UP:
            # The detection time now is still the peer's 1 s slow start; the Polls that follow
            # bring it down to what is configured.
            return (
                f"BFD session {spec.local} -> {spec.peer} Up ({STATE_NAMES[change.old]} -> Up); "
                f"{spec.interval_us / 1000:g} ms x {spec.multiplier} configured"
            )
        detection = f"detection time {s.detection_time / 1000:g} ms"
        silent = ""
        if s.last_rx is not None and change.diag == DIAG_DETECTION_EXPIRED:
            silent = f", no packet for {(change.at - s.last_rx) * 1000:.0f} ms"
        return (
            f"BFD session {spec.local} -> {spec.peer} {STATE_NAMES[change.new]}: "
            f"{diag_name(change.diag)} (diag {change.diag}); {detection}{silent}"
        )

    def status(self) -> dict[str, Any]:
        """The session's status record (the status file and ``kaprobe status``)."""
        s = self.session
        return {
            "name": self.spec.name,
            "peer": self.spec.peer,
            "local": self.spec.local,
            "source_port": self.source_port,
            "state": STATE_NAMES[s.state],
            "remote_state": STATE_NAMES[s.remote_state],
            "since": self.since,
            "changed_monotonic": self.changed_at,
            "local_discr": s.local_discr,
            "remote_discr": s.remote_discr,
            "desired_min_tx_us": s.desired_min_tx,
            "required_min_rx_us": s.required_min_rx,
            "remote_min_rx_us": s.remote_min_rx,
            "remote_desired_min_tx_us": s.remote_desired_min_tx,
            "remote_multiplier": s.remote_detect_mult,
            "tx_interval_us": s.tx_interval,
            "detection_time_us": s.detection_time,
            "diag": s.diag,
            "last_down_diag": s.last_down_diag,
            "last_down_reason": diag_name(s.last_down_diag),
            "track_file": self.spec.track_file,
            "track_file_latency_us": self.prober.track_latency.get(self.spec.track_file or ""),
            "counters": dict(self.counters),
        }


class Prober:
    """All sessions of one kaprobe process, their receive sockets and their outputs.

    Args:
        specs: The sessions to run.
        status_path: Where the status file is written.
        admin_down_on_exit: Send AdminDown for a detection time when stopping.
        reports: The alerts and metrics thread, when the configuration asks for either.
    """

    def __init__(
        self,
        specs: list[ProbeSpec],
        *,
        status_path: str,
        admin_down_on_exit: bool = False,
        reports: Reports | None = None,
    ) -> None:
        self.specs = specs
        self.status_path = status_path
        self.admin_down_on_exit = admin_down_on_exit
        self.reports = reports
        self.started = time.time()
        self.loop = asyncio.get_running_loop()
        self.probes: list[Probe] = []
        self.by_discr: dict[int, Probe] = {}
        self.by_address: dict[tuple[str, str], Probe] = {}
        self.receivers: list[socket.socket] = []
        self.dropped: dict[str, int] = dict.fromkeys(
            ("rx_dropped_ttl", "rx_dropped_invalid", "rx_dropped_unknown_discr"), 0
        )
        self._writes: asyncio.Queue[tuple[str, int, float] | None] = asyncio.Queue()
        #: Microseconds from a session's change to its track file being replaced, by path.
        self.track_latency: dict[str, int] = {}
        self._status_dirty = asyncio.Event()
        self._stop = asyncio.Event()

    # -- setup ---------------------------------------------------------------------------

    def open(self) -> None:
        """Open the receive sockets and the sessions' sockets.

        Raises:
            CheckError: A socket cannot be opened (UDP 3784 taken, address not configured).
        """
        families = {socket.AF_INET6 if ":" in spec.peer else socket.AF_INET for spec in self.specs}
        for family in sorted(families):
            self.receivers.append(self._open_receiver(family))
        now = self.loop.time()
        for spec in self.specs:
            discr = random_discriminator(set(self.by_discr))
            probe = Probe(spec, self, discr, now)
            self.probes.append(probe)
            self.by_discr[discr] = probe
            self.by_address[(spec.peer, spec.local)] = probe
            if spec.track_file:
                self.track(spec, up=False)
        for sock in self.receivers:
            self.loop.add_reader(sock.fileno(), self._on_readable, sock)

    def _open_receiver(self, family: int) -> socket.socket:
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            if family == socket.AF_INET:
                sock.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
                sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
                sock.bind(("0.0.0.0", CONTROL_PORT))
            else:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT, 1)
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
                sock.bind(("::", CONTROL_PORT))
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            hint = ""
            if exc.errno == errno.EADDRINUSE:
                hint = " (another BFD speaker, keepalived's bfd_instance or bfdd, owns it here)"
            raise CheckError(
                f"cannot listen on UDP {CONTROL_PORT}: {exc.strerror or exc}{hint}"
            ) from exc
        return sock

    # -- receive -------------------------------------------------------------------------

    def drain(self) -> None:
        """Read every queued packet of every receive socket (before declaring a session Down)."""
        for sock in self.receivers:
            self._on_readable(sock)

    def _on_readable(self, sock: socket.socket) -> None:
        while True:
            try:
                data, ancillary, _flags, source = sock.recvmsg(512, _ANCILLARY)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                logger.warning(f"BFD receive failed: {exc.strerror or exc}")
                return
            self.handle(data, ancillary, source[0], self.loop.time())

    def handle(
        self, data: bytes, ancillary: list[tuple[int, int, bytes]], source: str, now: float
    ) -> None:
        """Check and demultiplex one received datagram (RFC 5881 5, RFC 5880 6.8.6)."""
        ttl, destination = _read_ancillary(ancillary)
        source = source.split("%", 1)[0]
        by_address = self.by_address.get((source, destination or ""))
        if ttl != GTSM_TTL:
            self._drop(by_address, "rx_dropped_ttl", f"TTL {ttl} from {source}")
            return
        try:
            packet = decode(data)
        except PacketError as exc:
            self._drop(by_address, "rx_dropped_invalid", f"{exc} from {source}")
            return
        probe = self.by_discr.get(packet.your_discr) if packet.your_discr else by_address
        if probe is None or (packet.your_discr and probe.spec.peer != source):
            self._drop(
                by_address,
                "rx_dropped_unknown_discr",
                f"no session for your discriminator {packet.your_discr} from {source}",
            )
            return
        probe.receive(packet, now)

    def _drop(self, probe: Probe | None, counter: str, why: str) -> None:
        if probe is None:
            self.dropped[counter] += 1
        else:
            probe.counters[counter] += 1
        logger.debug(f"BFD packet dropped: {why}")

    # -- outputs -------------------------------------------------------------------------

    def track(self, spec: ProbeSpec, up: bool) -> None:
        """Queue the session's track-file value for its new state."""
        if spec.track_file:
            value = spec.up_value if up else spec.down_value
            self._writes.put_nowait((spec.track_file, value, self.loop.time()))

    def report(self, spec: ProbeSpec, event: str, cause: str) -> None:
        """Hand a ``bfd_up`` / ``bfd_down`` event to the reports thread (never waits)."""
        if self.reports is not None:
            from kakit.kaprobe.reports import session_event

            self.reports.event(session_event(spec.name, event, cause, spec.track_file))

    def status_changed(self) -> None:
        """Ask the writer for a fresh status file soon."""
        self._status_dirty.set()

    def status(self) -> dict[str, Any]:
        """The whole status record."""
        return {
            "pid": os.getpid(),
            "started": self.started,
            "written": time.time(),
            "dropped": dict(self.dropped),
            "sessions": [probe.status() for probe in self.probes],
        }

    async def _writer(self) -> None:
        """Write track files in order, each through a thread.

        Without fsync: keepalived reads the file the moment it is renamed into place (inotify),
        and an fsync on a busy disk would delay that by milliseconds or more; after a crash
        kaprobe writes every track file again when it starts (and /run is a tmpfs).
        """
        from kakit.kacheck.watch import write_track_file

        while (item := await self._writes.get()) is not None:
            path, value, queued = item
            try:
                await asyncio.to_thread(write_track_file, path, value, durable=False)
            except OSError as exc:  # StateError is an OSError
                logger.error(f"cannot write track file {path}: {exc}")
                continue
            latency = self.loop.time() - queued
            self.track_latency[path] = round(latency * 1e6)
            logger.info(f"track file {path}: {value} ({latency * 1000:.1f} ms after the change)")

    async def _status_writer(self) -> None:
        """Rewrite the status file on a change and at least every second (for the counters)."""
        from kakit.core.fsutil import atomic_write
        from kakit.core.smalljson import dumps

        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await self._status_dirty.wait()
            self._status_dirty.clear()
            text = dumps(self.status())
            try:
                await asyncio.to_thread(atomic_write, self.status_path, text + "\n", 0o644)
            except OSError as exc:
                logger.error(f"cannot write status file {self.status_path}: {exc}")
            if self._stop.is_set():
                return

    # -- run -----------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask :meth:`serve` to finish."""
        self._stop.set()

    async def serve(self) -> None:
        """Run every session until :meth:`stop`, then stop gracefully."""
        for probe in self.probes:
            probe.arm()
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._writer())
                status = group.create_task(self._status_writer())
                await self._stop.wait()
                for probe in self.probes:
                    probe.disarm()
                if self.admin_down_on_exit:
                    await self._send_admin_down()
                self._writes.put_nowait(None)
                self._status_dirty.set()
                await status
        finally:
            self.close()

    async def _send_admin_down(self) -> None:
        """AdminDown on every session for one detection time (RFC 5880 6.8.16).

        The packets keep the rate the session had, so the peer hears the first one at once and
        the rest before its detection time could run out.
        """
        now = self.loop.time()
        interval = min(p.session.tx_interval for p in self.probes) * MICROSECOND
        longest = max(p.session.detect_mult * p.session.tx_interval for p in self.probes)
        for probe in self.probes:
            probe.session.admin_down(now)
            probe.consume_transitions()
        deadline = now + longest * MICROSECOND
        while True:
            for probe in self.probes:
                probe.send(probe.session.packet())
            now = self.loop.time()
            if now >= deadline:
                return
            await asyncio.sleep(min(deadline - now, interval))

    def close(self) -> None:
        """Close every socket."""
        for sock in self.receivers:
            with contextlib.suppress(ValueError, OSError):
                self.loop.remove_reader(sock.fileno())
            sock.close()
        for probe in self.probes:
            probe.disarm()
            probe.sock.close()


def _read_ancillary(ancillary: list[tuple[int, int, bytes]]) -> tuple[int | None, str | None]:
    """The received TTL / hop limit and the packet's destination address."""
    ttl: int | None = None
    destination: str | None = None
    for level, kind, data in ancillary:
        if level == socket.IPPROTO_IP:
            if kind == socket.IP_TTL:
                ttl = int.from_bytes(data[:4], "little" if _LITTLE else "big")
            elif kind == IP_PKTINFO and len(data) >= _PKTINFO4.size:
                destination = socket.inet_ntop(socket.AF_INET, _PKTINFO4.unpack_from(data)[2])
        elif level == socket.IPPROTO_IPV6:
            if kind == socket.IPV6_HOPLIMIT:
                ttl = int.from_bytes(data[:4], "little" if _LITTLE else "big")
            elif kind == socket.IPV6_PKTINFO and len(data) >= _PKTINFO6.size:
                destination = socket.inet_ntop(socket.AF_INET6, _PKTINFO6.unpack_from(data)[0])
    return ttl, destination


_LITTLE = struct.pack("=H", 1) == b"\x01\x00"


def set_realtime(priority: int = 50) -> bool:
    """Try SCHED_FIFO for this process; log one clear line either way.

    Returns:
        True if the process now runs SCHED_FIFO.
    """
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except OSError as exc:
        logger.warning(
            f"--realtime: SCHED_FIFO not permitted ({exc.strerror or exc}; needs root or "
            "CAP_SYS_NICE): running at normal priority, timers below 50 ms x 3 may flap"
        )
        return False
    logger.info(f"--realtime: running SCHED_FIFO priority {priority}")
    return True


async def run_prober(
    specs: list[ProbeSpec],
    *,
    status_path: str,
    admin_down_on_exit: bool = False,
    ready: Callable[[Prober], None] | None = None,
    config: Config | None = None,
) -> None:
    """Run the sessions until SIGTERM or SIGINT.

    Args:
        specs: The sessions.
        status_path: Where the status file is written.
        admin_down_on_exit: Send AdminDown for a detection time when stopping.
        ready: Called with the prober once its sockets are open (tests).
        config: The configuration, for alerts and metrics (none without it).

    Raises:
        CheckError: A socket could not be opened.
    """
    prober = Prober(specs, status_path=status_path, admin_down_on_exit=admin_down_on_exit)
    prober.open()
    from kakit.kaprobe.reports import Reports

    if config is not None and Reports.wanted(config):
        from kakit.kaprobe.metrics import render

        prober.reports = Reports(config, lambda: render(prober.status()))
        prober.reports.start()
    loop = prober.loop
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, prober.stop)
    import gc

    # Everything allocated so far lives for the whole run: keep the collector off it.
    gc.collect()
    gc.freeze()
    if ready is not None:
        ready(prober)
    for spec in specs:
        logger.info(
            f"BFD session {spec.name}: {spec.interval_us / 1000:g} ms x {spec.multiplier}"
            + (f", track file {spec.track_file}" if spec.track_file else "")
        )
    try:
        await prober.serve()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        if prober.reports is not None:
            await asyncio.to_thread(prober.reports.stop)
