"""``gateway``: packet loss (and optionally latency) to the default gateway.

Replaces the seed's ``check_vip.sh`` (a flood ping of the gateway). Unlike ``icmplib.ping``,
which waits for each reply before sending the next packet so that every lost packet costs a full
``timeout``, all packets are sent ``interval`` apart while replies are collected in between: a
run takes about ``(count - 1) * interval + timeout`` (0.29 s with the defaults), whatever the
loss. With a ``deadline`` the spacing is computed from it so that every packet still goes out.

Loss is computed from the packets actually sent (icmplib reports 0 % loss when nothing could
be sent: docs/architecture.md, "ICMP"). A packet that could not be sent (no route, no source
address yet, a firewall's ``EPERM``) says nothing about the gateway: when none could be sent, or
fewer than ``count`` and the rest look lost, the check "could not measure". That is unhealthy
(exit 1) but never latches: only loss seen on packets that left the host does.
"""

from __future__ import annotations

import time

from kakit.checks.base import Check, CheckResult, RunContext
from kakit.core.converters import Node, duration, integer, ip_address, optional, percent
from kakit.core.record import frozen, option
from kakit.exceptions import CheckError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MAX_LATE_READS = 64
"""Replies read after the listening time is over, when they were already queued."""


def _target(node: Node) -> str:
    if node.value == "auto":
        return "auto"
    return ip_address(node)


@frozen
class GatewayOptions:
    """Settings of a gateway check.

    Attributes:
        target: ``auto`` (the default route's gateway, read from /proc) or an IP address.
        count: Echo requests per run.
        interval: Seconds between requests.
        timeout: Seconds to wait for a reply after the last request.
        loss_threshold: Loss in percent at or above which the check fails (check_icmp's >=).
        rtt_threshold: Average round trip at or above which it fails (write it as "50ms").
    """

    target: str = option(_target, default="auto")
    count: int = option(integer(1, 1000), default=10)
    interval: float = option(duration(high=10.0, allow_zero=True), default=0.01)
    timeout: float = option(duration(high=30.0), default=0.2)
    loss_threshold: float = option(percent, default=80.0)
    rtt_threshold: float | None = option(optional(duration(high=10.0)), default=None)


class PingStats:
    """Outcome of one burst.

    Attributes:
        planned: Requests the burst was asked to send (``count``).
        sent: Requests that left this host (``sendto`` succeeded).
        received: Echo replies to them.
        unreachable: ICMP errors (host unreachable...) received for them: lost, and seen so.
        rtts: Round trips of the replies, in seconds.
        unsent: Why requests were not sent, with how many each (``deadline``, a ``sendto``
            error such as ``Network is unreachable``).
    """

    __slots__ = ("planned", "received", "rtts", "sent", "unreachable", "unsent")

    def __init__(self, planned: int) -> None:
        self.planned = planned
        self.sent = 0
        self.received = 0
        self.unreachable = 0
        self.rtts: list[float] = []
        self.unsent: dict[str, int] = {}

    def not_sent(self, reason: str) -> None:
        """Count one request that could not be sent, and why."""
        self.unsent[reason] = self.unsent.get(reason, 0) + 1

    @property
    def complete(self) -> bool:
        """Every planned request was sent."""
        return self.sent == self.planned

    @property
    def loss(self) -> float:
        """Loss in percent of the requests sent; 100 when nothing could be sent."""
        return 100.0 if self.sent == 0 else 100.0 * (self.sent - self.received) / self.sent

    @property
    def avg_rtt_ms(self) -> float | None:
        """Mean round trip of the replies, in ms."""
        return sum(self.rtts) / len(self.rtts) * 1000 if self.rtts else None

    def shortfall(self) -> str:
        """``sent 7 of 10: deadline`` (empty when every request was sent)."""
        if self.complete:
            return ""
        why = ", ".join(
            reason if n == self.planned - self.sent else f"{reason} ({n})"
            for reason, n in self.unsent.items()
        )
        return f"sent {self.sent} of {self.planned}: {why}"


def _send_error(exc: BaseException) -> str:
    """The reason an ``ICMPLibError`` from ``send`` stands for, from the ``OSError`` under it.

    icmplib turns every ``sendto`` error into its own exception and reports ``EPERM`` (an
    OUTPUT firewall rule) as a broadcast error; the original error is the exception context.
    """
    cause = exc.__context__
    if isinstance(cause, OSError) and cause.strerror:
        return f"sendto: {cause.strerror}"
    return f"sendto: {exc}"


def plan(count: int, interval: float, timeout: float, left: float) -> tuple[float, float]:
    """``(spacing, listen)`` for a burst that must end within ``left`` seconds.

    The configured ``interval`` and ``timeout`` when ``(count - 1) * interval + timeout`` fits;
    otherwise the listening time after the last request shrinks first (to no less than half of
    what is left) and the spacing then shrinks so that every request still goes out in time.
    """
    if (count - 1) * interval + timeout <= left:
        return interval, timeout
    listen = min(timeout, max(left - (count - 1) * interval, left / 2))
    spacing = interval if count == 1 else min(interval, (left - listen) / (count - 1))
    return max(0.0, spacing), max(0.0, listen)


def open_socket(address: str) -> Any:
    """An ICMP socket for ``address``: raw when allowed, else an unprivileged datagram one.

    Raises:
        CheckError: Neither can be opened (no permission, bad address).
    """
    import icmplib

    socket_cls = icmplib.ICMPv6Socket if ":" in address else icmplib.ICMPv4Socket
    try:
        return socket_cls(privileged=True)
    except icmplib.SocketPermissionError:
        try:
            # Unprivileged ICMP datagram sockets work for groups in net.ipv4.ping_group_range.
            return socket_cls(privileged=False)
        except icmplib.ICMPLibError as exc:
            raise CheckError(
                f"cannot open an ICMP socket (need root, CAP_NET_RAW or ping_group_range): {exc}"
            ) from exc
    except icmplib.ICMPLibError as exc:
        raise CheckError(f"cannot open an ICMP socket: {exc}") from exc


def burst(
    address: str, count: int, interval: float, timeout: float, deadline: float | None
) -> PingStats:
    """Send ``count`` echo requests about ``interval`` apart and collect replies.

    Requests are due at fixed times from the start; one that is late (the machine is busy) goes
    out at once instead of pushing the others back, so a slow process still sends them all.
    With a ``deadline`` the spacing is computed from it (:func:`plan`) so that all fit;
    requests are cut only when the deadline itself has passed, and :meth:`PingStats.shortfall`
    then says so.

    Args:
        address: Target IP.
        count: Requests to send.
        interval: Seconds between sends.
        timeout: Seconds to keep listening after the last send.
        deadline: ``time.monotonic()`` limit for the whole burst, or None.

    Raises:
        CheckError: The ICMP socket cannot be opened (no permission, bad address).
    """
    import os
    import select

    import icmplib

    sock = open_socket(address)
    stats = PingStats(count)
    ident = (os.getpid() ^ int(time.monotonic() * 1000)) & 0xFFFF
    pending: dict[tuple[int, int], float] = {}
    start = time.monotonic()
    spacing, listen = interval, timeout
    if deadline is not None:
        spacing, listen = plan(count, interval, timeout, deadline - start)
    last_send = start

    def collect(until: float) -> None:
        # select() first and then icmplib's receive: its own timeout discards a reply that was
        # queued in time but read late (when this process was not scheduled), a false loss.
        late_reads = 0
        while pending:
            limit = until if deadline is None else min(until, deadline)
            wait = max(0.0, limit - time.monotonic())
            if wait == 0:
                # Past the limit, read only what is already queued (bounded: a raw socket also
                # sees every other ICMP packet of the host).
                late_reads += 1
                if late_reads > MAX_LATE_READS:
                    return
            try:
                readable, _, _ = select.select([sock.sock], [], [], wait)
            except OSError:
                return
            if not readable:
                return
            try:
                reply = sock.receive(None, 1.0)
            except icmplib.ICMPLibError:
                return
            key = (reply.id, reply.sequence)
            sent_at = pending.pop(key, None)
            if sent_at is None:
                continue  # a reply to someone else's ping on the same raw socket
            try:
                reply.raise_for_status()
            except icmplib.ICMPError:
                stats.unreachable += 1
                continue
            stats.received += 1
            stats.rtts.append(max(0.0, reply.time - sent_at))

    try:
        for sequence in range(count):
            if deadline is not None and time.monotonic() >= deadline:
                for _ in range(sequence, count):
                    stats.not_sent("deadline")
                break
            request = icmplib.ICMPRequest(address, id=ident, sequence=sequence, payload_size=56)
            try:
                sock.send(request)
            except icmplib.ICMPLibError as exc:
                stats.not_sent(_send_error(exc))
            else:
                stats.sent += 1
                pending[(request.id, sequence)] = request.time
                last_send = time.monotonic()
            if sequence < count - 1:
                due = start + (sequence + 1) * spacing
                collect(due)
                gap = due - time.monotonic()
                if gap > 0:
                    time.sleep(gap)
        collect(last_send + listen)
    finally:
        sock.close()
    return stats


class GatewayCheck(Check[GatewayOptions]):
    """Fails when loss (or average RTT) to the gateway reaches its threshold."""

    type_name = "gateway"

    def resolve_target(self) -> str:
        """The address to ping (the default route's gateway for ``auto``)."""
        if self.options.target != "auto":
            return self.options.target
        from kakit.checks.routes import default_gateway

        return default_gateway().gateway

    def run(self, ctx: RunContext) -> CheckResult:
        """Ping the gateway once (a burst of ``count`` packets)."""
        opts = self.options
        try:
            address = self.resolve_target()
            stats = burst(address, opts.count, opts.interval, opts.timeout, ctx.deadline)
        except CheckError as exc:
            # No route, no socket: nothing was measured (see CheckResult.measured).
            return CheckResult(
                ok=False,
                summary=f"gateway {opts.target}: could not measure: {exc}",
                measured=False,
            )
        rtt = stats.avg_rtt_ms
        rtt_text = f", avg rtt {rtt:.2f} ms" if rtt is not None else ""
        unreachable = f", {stats.unreachable} unreachable" if stats.unreachable else ""
        shortfall = stats.shortfall()
        if stats.sent == 0:
            return CheckResult(
                ok=False,
                summary=f"gateway {address}: could not measure: {shortfall}",
                measured=False,
            )
        seen = (
            f"{stats.received}/{stats.sent} replies, {stats.loss:.0f}% loss{rtt_text}{unreachable}"
        )
        failed = ""
        if stats.loss >= opts.loss_threshold:
            failed = f" (threshold {opts.loss_threshold:g}%)"
        elif (
            opts.rtt_threshold is not None and rtt is not None and rtt >= opts.rtt_threshold * 1000
        ):
            failed = f" (rtt threshold {opts.rtt_threshold * 1000:g} ms)"
        if not failed:
            note = f" ({shortfall})" if shortfall else ""
            return CheckResult(ok=True, summary=f"gateway {address}: {seen}{note}")
        if shortfall:
            # Loss among fewer packets than asked for is no measurement to latch on.
            return CheckResult(
                ok=False,
                summary=f"gateway {address}: could not measure: {shortfall}; {seen}{failed}",
                measured=False,
            )
        return CheckResult(ok=False, summary=f"gateway {address}: {seen}{failed}")

    def describe(self) -> str:
        """``gateway auto``."""
        return f"gateway {self.options.target}"
