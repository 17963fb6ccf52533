"""One BFD session: the RFC 5880 state machine and its timers, with no I/O.

The runtime feeds it valid packets (:meth:`Session.receive`) and the time (:meth:`Session.expire`,
:meth:`Session.transmitted`); the session answers with what to send and when. Every time is a
monotonic clock reading in seconds, passed in by the caller, so a test drives a session through
a scenario table without sleeping. Intervals are kept in microseconds, as on the wire.

What it implements (RFC 5880 sections 6.2, 6.5, 6.8.1-6.8.7):

- the Down/Init/Up/AdminDown machine and the three-way handshake;
- slow start: while not Up, Desired Min TX is at least one second; on Up it drops to the
  configured value and a Poll Sequence announces it (P on every packet until an F arrives);
- an F answered at once for every P received;
- TX interval = max(our Desired Min TX, the peer's Required Min RX), jittered to 75-100 %
  (75-90 % with a detect multiplier of 1); when a received packet makes it shorter, the next
  transmission is moved forward at once (FRR applies its shorter detection time immediately);
- detection time = the peer's multiplier x max(our Required Min RX, the peer's Desired Min TX);
  on expiry in Init or Up the session goes Down with diag 1, and in every state the peer's
  discriminator is forgotten, so a restarted peer's new one is accepted.

Our Required Min RX never changes and Desired Min TX only drops while Up, so the RFC 6.8.3 rules
for holding back an *increase* until the Poll ends never apply here.
"""

from __future__ import annotations

import random
from typing import NamedTuple

from kakit.kaprobe.packet import (
    ADMIN_DOWN,
    DIAG_ADMIN_DOWN,
    DIAG_DETECTION_EXPIRED,
    DIAG_NEIGHBOR_DOWN,
    DIAG_NONE,
    DOWN,
    INIT,
    UP,
    ControlPacket,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

SLOW_START_TX = 1_000_000
"""Microseconds: the least Desired Min TX while the session is not Up (RFC 5880 6.8.3)."""

MICROSECOND = 1e-6


class Transition(NamedTuple):
    """A state change: from, to, the diagnostic sent with it, and when."""

    old: int
    new: int
    diag: int
    at: float


class Session:
    """The state of one BFD session (the RFC's ``bfd.*`` variables) and its timers.

    Args:
        local_discr: Our nonzero discriminator.
        desired_min_tx: Desired Min TX once Up, microseconds.
        required_min_rx: Required Min RX, microseconds.
        detect_mult: Our detect multiplier (1-255).
        now: The monotonic time the session starts; the first packet is due then.
        passive: Send nothing until the peer has been heard (RFC 5880 6.1).
        uniform: ``random.uniform``-like jitter source; tests pass a fixed one.

    Attributes:
        state: Our state (packet.DOWN...).
        diag: The diagnostic we send.
        remote_discr: The peer's discriminator, 0 when unknown.
        transitions: Every state change, oldest first (the runtime consumes and clears it).
    """

    def __init__(
        self,
        *,
        local_discr: int,
        desired_min_tx: int,
        required_min_rx: int,
        detect_mult: int,
        now: float,
        passive: bool = False,
        uniform: Callable[[float, float], float] = random.uniform,
    ) -> None:
        if not 0 < local_discr <= 0xFFFFFFFF:
            raise ValueError(f"local discriminator must be 1..2**32-1, got {local_discr}")
        self.local_discr = local_discr
        self.configured_min_tx = desired_min_tx
        self.required_min_rx = required_min_rx
        self.detect_mult = detect_mult
        self.passive = passive
        self._uniform = uniform
        self.state = DOWN
        self.diag = DIAG_NONE
        self.last_down_diag = DIAG_NONE
        self.desired_min_tx = max(desired_min_tx, SLOW_START_TX)
        self.remote_discr = 0
        self.remote_state = DOWN
        self.remote_min_rx = 1
        self.remote_desired_min_tx = 0
        self.remote_detect_mult = 0
        self.remote_demand = False
        self.poll_active = False
        self.last_rx: float | None = None
        self.detect_deadline: float | None = None
        self.next_tx_at = now
        self.transitions: list[Transition] = []

    # -- derived values ------------------------------------------------------------------

    @property
    def tx_interval(self) -> int:
        """The negotiated TX interval before jitter, microseconds."""
        return max(self.desired_min_tx, self.remote_min_rx)

    @property
    def detection_time(self) -> int:
        """Our detection time, microseconds (0 before the peer has been heard)."""
        return self.remote_detect_mult * max(self.required_min_rx, self.remote_desired_min_tx)

    def jittered_interval(self) -> float:
        """The next TX interval in seconds, reduced by a random 0-25 % (10-25 % at mult 1)."""
        high = 0.9 if self.detect_mult == 1 else 1.0
        return self.tx_interval * MICROSECOND * self._uniform(0.75, high)

    def may_transmit(self) -> bool:
        """Whether periodic transmission is allowed now (RFC 5880 6.8.7)."""
        if self.remote_min_rx == 0:
            return False
        if self.passive and self.remote_discr == 0:
            return False
        demand_quiet = self.remote_demand and self.state == UP and self.remote_state == UP
        return not (demand_quiet and not self.poll_active)

    def next_deadline(self) -> float:
        """When the session next needs the clock: the next TX or the detection deadline."""
        if self.detect_deadline is None:
            return self.next_tx_at
        return min(self.next_tx_at, self.detect_deadline)

    # -- packets -------------------------------------------------------------------------

    def packet(self, *, final: bool = False) -> ControlPacket:
        """The control packet to send now; ``final`` for the answer to a Poll."""
        return ControlPacket(
            state=self.state,
            my_discr=self.local_discr,
            your_discr=self.remote_discr,
            diag=self.diag,
            detect_mult=self.detect_mult,
            desired_min_tx=self.desired_min_tx,
            required_min_rx=self.required_min_rx,
            required_min_echo_rx=0,
            poll=self.poll_active and not final,
            final=final,
        )

    def transmitted(self, now: float) -> None:
        """A periodic packet went out at ``now``: schedule the next one."""
        self.next_tx_at = now + self.jittered_interval()

    def receive(self, packet: ControlPacket, now: float) -> bool:
        """Apply a packet that passed the reception checks and was demultiplexed to us.

        Args:
            packet: The decoded packet.
            now: Its arrival time.

        Returns:
            True when a packet with F must be sent at once (the peer set P).
        """
        old_interval = self.tx_interval
        self.remote_discr = packet.my_discr
        self.remote_state = packet.state
        self.remote_demand = packet.demand
        self.remote_min_rx = packet.required_min_rx
        self.remote_desired_min_tx = packet.desired_min_tx
        self.remote_detect_mult = packet.detect_mult
        if packet.final:
            self.poll_active = False
        self.last_rx = now
        self.detect_deadline = now + self.detection_time * MICROSECOND
        if self.state != ADMIN_DOWN:
            self._run_machine(packet.state, now)
        if self.tx_interval < old_interval:
            # A shorter interval takes effect at once (RFC 5880 6.8.3): waiting for the slot
            # booked at the old rate would overrun the peer's new, shorter detection time.
            self.next_tx_at = min(self.next_tx_at, now + self.jittered_interval())
        return packet.poll

    def _run_machine(self, remote: int, now: float) -> None:
        if remote == ADMIN_DOWN:
            if self.state != DOWN:
                self._change(DOWN, DIAG_NEIGHBOR_DOWN, now)
        elif self.state == DOWN:
            if remote == DOWN:
                self._change(INIT, self.diag, now)
            elif remote == INIT:
                self._change(UP, DIAG_NONE, now)
        elif self.state == INIT:
            if remote in (INIT, UP):
                self._change(UP, DIAG_NONE, now)
        elif remote == DOWN:
            self._change(DOWN, DIAG_NEIGHBOR_DOWN, now)

    # -- time ----------------------------------------------------------------------------

    def detection_due(self, now: float) -> bool:
        """Whether the detection time has run out at ``now``."""
        return self.detect_deadline is not None and now >= self.detect_deadline

    def expire(self, now: float) -> bool:
        """Apply the detection time running out (call after draining the socket).

        Returns:
            True if the session went Down (diag 1).
        """
        if not self.detection_due(now):
            return False
        self.detect_deadline = None
        # RFC 5880 6.8.1: a Detection Time without a packet forgets the peer's discriminator,
        # which lets a restarted peer (a new discriminator) be demultiplexed again.
        self.remote_discr = 0
        self.remote_state = DOWN
        if self.state in (INIT, UP):
            self._change(DOWN, DIAG_DETECTION_EXPIRED, now)
            return True
        return False

    def admin_down(self, now: float) -> None:
        """Take the session administratively down (diag 7), as on a graceful stop."""
        self._change(ADMIN_DOWN, DIAG_ADMIN_DOWN, now)
        self.detect_deadline = None

    def _change(self, new: int, diag: int, now: float) -> None:
        old = self.state
        if new == old:
            return
        self.state = new
        self.diag = diag
        if new in (DOWN, ADMIN_DOWN):
            self.last_down_diag = diag
        if new == UP:
            fast = self.configured_min_tx
            if fast != self.desired_min_tx:
                self.desired_min_tx = fast
                self.poll_active = True
        elif old == UP:
            # Back to slow start; no Poll, the peer is not Up with us any more.
            self.desired_min_tx = max(self.configured_min_tx, SLOW_START_TX)
            self.poll_active = False
        self.transitions.append(Transition(old, new, diag, now))
