"""keepalived's event vocabulary and the state-event record every tool shares.

A :class:`StateEvent` is what keepalived said happened to one VRRP instance or sync group, as
it reached kakit (notify argv today, the notify FIFO later). Hooks apply it, the outbox stores it
and :class:`kakit.alerts.alert.Alert` says it to people. The state and kind words are defined
here once; the ``Literal`` aliases exist only for the type checker and cost nothing at run time.
"""

from __future__ import annotations

from kakit.core.record import frozen

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Literal, TypeAlias

    State: TypeAlias = Literal["MASTER", "BACKUP", "FAULT", "STOP", "DELETED"]
    Kind: TypeAlias = Literal["INSTANCE", "GROUP"]

STATES: tuple[State, ...] = ("MASTER", "BACKUP", "FAULT", "STOP", "DELETED")
KINDS: tuple[Kind, ...] = ("INSTANCE", "GROUP")


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

    kind: Kind
    name: str
    state: State
    priority: int = -1
    time: float = 0.0

    def label(self) -> str:
        """``VI_1`` or ``group G1`` (or ``keepalived`` when no name was given)."""
        if not self.name:
            return "keepalived"
        return self.name if self.kind == "INSTANCE" else f"group {self.name}"
