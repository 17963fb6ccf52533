"""``gateway``: packet loss (and optionally latency) to the default gateway.

Replaces the seed's ``check_vip.sh`` (a flood ping of the gateway). Unlike ``icmplib.ping``,
which waits for each reply before sending the next packet so that every lost packet costs a full
``timeout``, all packets are sent ``interval`` apart while replies are collected in between: a
run takes at most ``(count - 1) * interval + timeout`` (0.29 s with the defaults), whatever the
loss, and never outlives the check's ``deadline``.

Loss is computed from the packets actually sent (icmplib reports 0 % loss when nothing could
be sent: docs/architecture.md, "ICMP"); no packet sent means 100 % loss.
"""

from __future__ import annotations

import time

from kakit.checks.base import Check, CheckResult, RunContext
from kakit.core.converters import Node, duration, integer, ip_address, optional, percent
from kakit.core.record import frozen, option
from kakit.exceptions import CheckError


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
    """Outcome of one burst."""

    __slots__ = ("received", "rtts", "sent", "unreachable")

    def __init__(self) -> None:
        self.sent = 0
        self.received = 0
        self.unreachable = 0
        self.rtts: list[float] = []

    @property
    def loss(self) -> float:
        """Loss in percent; 100 when nothing could be sent."""
        return 100.0 if self.sent == 0 else 100.0 * (self.sent - self.received) / self.sent

    @property
    def avg_rtt_ms(self) -> float | None:
        """Mean round trip of the replies, in ms."""
        return sum(self.rtts) / len(self.rtts) * 1000 if self.rtts else None


def burst(address: str, count: int, interval: float, timeout: float, deadline: float) -> PingStats:
    """Send ``count`` echo requests ``interval`` apart and collect replies.

    Args:
        address: Target IP.
        count: Requests to send.
        interval: Seconds between sends.
        timeout: Seconds to keep listening after the last send.
        deadline: ``time.monotonic()`` limit for the whole burst.

    Raises:
        CheckError: The ICMP socket cannot be opened (no permission, bad address).
    """
    import os

    import icmplib

    family6 = ":" in address
    socket_cls = icmplib.ICMPv6Socket if family6 else icmplib.ICMPv4Socket
    try:
        sock = socket_cls(privileged=True)
    except icmplib.SocketPermissionError:
        try:
            # Unprivileged ICMP datagram sockets work for groups in net.ipv4.ping_group_range.
            sock = socket_cls(privileged=False)
        except icmplib.ICMPLibError as exc:
            raise CheckError(
                f"cannot open an ICMP socket (need root, CAP_NET_RAW or ping_group_range): {exc}"
            ) from exc
    except icmplib.ICMPLibError as exc:
        raise CheckError(f"cannot open an ICMP socket: {exc}") from exc

    stats = PingStats()
    ident = (os.getpid() ^ int(time.monotonic() * 1000)) & 0xFFFF
    pending: dict[tuple[int, int], float] = {}
    start = time.monotonic()
    last_send = start

    def collect(until: float) -> None:
        while pending:
            wait = min(until, deadline) - time.monotonic()
            if wait <= 0:
                return
            try:
                reply = sock.receive(None, wait)
            except icmplib.TimeoutExceeded:
                return
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
            now = time.monotonic()
            if now >= deadline:
                break
            request = icmplib.ICMPRequest(address, id=ident, sequence=sequence, payload_size=56)
            try:
                sock.send(request)
            except icmplib.ICMPLibError:
                stats.sent += 1  # an unsendable packet (no route) is a lost packet
                continue
            stats.sent += 1
            pending[(request.id, sequence)] = request.time
            last_send = time.monotonic()
            if sequence < count - 1:
                collect(last_send + interval)
                remaining_gap = last_send + interval - time.monotonic()
                if remaining_gap > 0:
                    time.sleep(min(remaining_gap, max(0.0, deadline - time.monotonic())))
        collect(last_send + timeout)
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
        address = self.resolve_target()
        budget = (opts.count - 1) * opts.interval + opts.timeout
        deadline = time.monotonic() + ctx.remaining(budget + 0.05)
        stats = burst(address, opts.count, opts.interval, opts.timeout, deadline)
        rtt = stats.avg_rtt_ms
        rtt_text = f", avg rtt {rtt:.2f} ms" if rtt is not None else ""
        unreachable = f", {stats.unreachable} unreachable" if stats.unreachable else ""
        seen = f"gateway {address}: {stats.received}/{stats.sent} replies, {stats.loss:.0f}% loss{rtt_text}{unreachable}"
        if stats.loss >= opts.loss_threshold:
            return CheckResult(ok=False, summary=f"{seen} (threshold {opts.loss_threshold:g}%)")
        if opts.rtt_threshold is not None and rtt is not None and rtt >= opts.rtt_threshold * 1000:
            return CheckResult(
                ok=False, summary=f"{seen} (rtt threshold {opts.rtt_threshold * 1000:g} ms)"
            )
        return CheckResult(ok=True, summary=seen)

    def describe(self) -> str:
        """``gateway auto``."""
        return f"gateway {self.options.target}"
