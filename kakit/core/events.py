"""keepalived state events: what ``notify`` scripts and FIFO lines report.

keepalived forks ``notify`` with the configured words plus ``INSTANCE|GROUP NAME STATE PRIO``
appended, and ``notify_master`` and friends with nothing appended (keepalived.md section 1).
The appended fields are therefore read from the *end* of argv. keepalived runs notify scripts
concurrently and unordered, so every event carries the time kakit first saw it, which orders
events that arrive out of order.
"""

from __future__ import annotations

import time

from kakit.core.record import frozen
from kakit.exceptions import UsageError

STATES = ("MASTER", "BACKUP", "FAULT", "STOP", "DELETED")
KINDS = ("INSTANCE", "GROUP")


@frozen
class StateEvent:
    """One state transition reported by keepalived.

    Attributes:
        kind: ``INSTANCE`` or ``GROUP`` (``INSTANCE`` when keepalived did not say).
        name: The vrrp_instance or vrrp_sync_group name ("" when keepalived did not say).
        state: MASTER, BACKUP, FAULT, STOP or DELETED.
        priority: Effective priority (0 for groups, -1 when unknown).
        time: Unix time at which kakit received it (orders concurrent notify runs).
    """

    kind: str
    name: str
    state: str
    priority: int = -1
    time: float = 0.0

    def label(self) -> str:
        """``VI_1`` or ``group G1`` (or ``keepalived`` when no name was given)."""
        if not self.name:
            return "keepalived"
        return self.name if self.kind == "INSTANCE" else f"group {self.name}"


def parse_notify_args(words: list[str], now: float | None = None) -> StateEvent:
    """Parse the positional words keepalived passed to ``notify``.

    Args:
        words: Positional arguments: the configured extra words followed by
            ``INSTANCE|GROUP NAME STATE PRIO``.
        now: Receive time (default: the current time).

    Raises:
        UsageError: The last four words are not a keepalived notify tail.
    """
    received = time.time() if now is None else now
    if len(words) < 4:
        raise UsageError(
            f"expected INSTANCE|GROUP NAME STATE PRIORITY at the end of the arguments, got {' '.join(words) or 'nothing'!r}"
        )
    kind, name, state, priority_text = words[-4:]
    if kind not in KINDS:
        raise UsageError(f"expected INSTANCE or GROUP as the 4th word from the end, got {kind!r}")
    if state not in STATES:
        raise UsageError(f"unknown state {state!r} (expected one of {', '.join(STATES)})")
    if not name:
        raise UsageError("empty instance/group name")
    try:
        priority = int(priority_text)
    except ValueError:
        raise UsageError(f"priority must be a number, got {priority_text!r}") from None
    if not -1 <= priority <= 255:
        raise UsageError(f"priority must be 0..255, got {priority}")
    return StateEvent(kind=kind, name=name, state=state, priority=priority, time=received)


def state_only_event(
    state: str, name: str | None, kind: str = "INSTANCE", now: float | None = None
) -> StateEvent:
    """The event of ``notify_master`` & co., which keepalived calls without arguments.

    Raises:
        UsageError: ``state`` is not a keepalived state.
    """
    upper = state.upper()
    if upper not in STATES:
        raise UsageError(f"unknown state {state!r} (expected one of {', '.join(STATES)})")
    return StateEvent(
        kind=kind,
        name=name or "",
        state=upper,
        priority=-1,
        time=time.time() if now is None else now,
    )
