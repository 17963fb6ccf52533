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
    CheckEventName: TypeAlias = Literal["restart", "restart_failed", "give_up", "latch", "escalate"]
    EventKind: TypeAlias = Literal["CHECK", "BFD"]

_BOOT_ID: list[str] = []


def boot_id() -> str:
    """The kernel's boot id (``/proc/sys/kernel/random/boot_id``), read once per process."""
    if not _BOOT_ID:
        try:
            with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as handle:
                _BOOT_ID.append(handle.read().strip())
        except OSError:
            _BOOT_ID.append("")
    return _BOOT_ID[0]


def received_now() -> dict[str, float | str]:
    """The receive stamp of an event arriving now: wall time, boot id, ``CLOCK_BOOTTIME``."""
    import time

    return {"time": time.time(), "boot": boot_id(), "mono": time.clock_gettime(time.CLOCK_BOOTTIME)}


STATES: tuple[State, ...] = ("MASTER", "BACKUP", "FAULT", "STOP", "DELETED")
KINDS: tuple[Kind, ...] = ("INSTANCE", "GROUP")
#: What kacheck does that people hear about, mildest first (docs/kacheck.md, "Alerts"):
#: ``restart`` a service came back after a restart; ``restart_failed`` a restart (or the config
#: test before it) failed, the budget allows more; ``give_up`` the restart budget is spent or
#: the last allowed restart failed; ``latch`` the check latched; ``escalate`` kacheck stopped
#: keepalived (``on_failure: stop-keepalived``).
CHECK_EVENTS: tuple[CheckEventName, ...] = (
    "restart",
    "restart_failed",
    "give_up",
    "latch",
    "escalate",
)
#: Events of the other sources, each selectable by ``alerts`` rules (``events: [...]``):
#: LVS virtual and real servers going up or down (the FIFO reader), a VRRP priority change
#: (recorded always, alerted only when a rule names it), kaprobe's BFD sessions, and a split
#: brain seen on the wire starting and ending.
LVS_EVENTS: tuple[str, ...] = ("vs_up", "vs_down", "rs_up", "rs_down")
PRIORITY_EVENTS: tuple[str, ...] = ("priority",)
BFD_EVENTS: tuple[str, ...] = ("bfd_up", "bfd_down")
SPLIT_BRAIN_EVENTS: tuple[str, ...] = ("split_brain", "split_brain_over")
#: Every name an ``alerts`` rule's ``events`` may list.
ALERT_EVENTS: tuple[str, ...] = (
    CHECK_EVENTS + LVS_EVENTS + PRIORITY_EVENTS + BFD_EVENTS + SPLIT_BRAIN_EVENTS
)
#: What a rule without ``events`` takes: everything but priority changes, which are frequent
#: by design (a track_file weight moves them) and alert only when a rule asks.
DEFAULT_EVENTS: tuple[str, ...] = tuple(e for e in ALERT_EVENTS if e not in PRIORITY_EVENTS)


def headline(events: tuple[str, ...] | list[str]) -> str:
    """The event an alert covering ``events`` (oldest first, at least one) is about.

    kacheck's events rank by seriousness (a run that restarted and then gave up is a give-up);
    other events say what is true now, so the latest of them wins (a split brain that ended
    inside the coalescing window is over).
    """
    ranked = [event for event in events if event in CHECK_EVENTS]
    if len(ranked) == len(events):
        return max(ranked, key=CHECK_EVENTS.index)
    return events[-1]


#: The outbox's ``kind`` for a kacheck event (its ``name`` is the check, its ``state`` the event).
CHECK_KIND = "CHECK"
#: The outbox's ``kind`` for a priority report (its ``name`` is the instance).
PRIORITY_KIND = "PRIORITY"
#: The outbox's kinds of LVS events: keepalived's own words (the ``name`` is the server as
#: keepalived wrote it: the virtual server, or the real server, a space, its virtual server).
LVS_KINDS = ("VS", "RS")
#: Every outbox kind of a :class:`ReportEvent`.
REPORT_KINDS = (*LVS_KINDS, PRIORITY_KIND)
#: The outbox's ``kind`` for a kaprobe event (its ``name`` is the session, ``local->peer``).
BFD_KIND = "BFD"


@frozen
class StateEvent:
    """One state transition reported by keepalived.

    Attributes:
        kind: ``INSTANCE`` or ``GROUP`` (``INSTANCE`` when keepalived did not say).
        name: The vrrp_instance or vrrp_sync_group name ("" when keepalived did not say).
        state: MASTER, BACKUP, FAULT, STOP or DELETED.
        priority: Effective priority (0 for groups, -1 when unknown).
        time: Unix time at which kakit received it (for people: logs, alerts).
        boot: The kernel's boot id when it was received.
        mono: ``CLOCK_BOOTTIME`` seconds when it was received. Events are ordered by
            ``(boot, mono)`` (:meth:`order`), never by wall time: the wall clock can step back
            (NTP, an operator), and a newer event must never be judged late because of it.
    """

    kind: Kind
    name: str
    state: State
    priority: int = -1
    time: float = 0.0
    boot: str = ""
    mono: float = 0.0

    def order(self, current_boot: str) -> tuple[int, float]:
        """Sort key: events of this boot by their monotonic stamp, after any earlier boot's."""
        if self.boot and self.boot == current_boot:
            return (1, self.mono)
        return (0, self.time)

    def label(self) -> str:
        """``VI_1`` or ``group G1`` (or ``keepalived`` when no name was given)."""
        if not self.name:
            return "keepalived"
        return self.name if self.kind == "INSTANCE" else f"group {self.name}"


@frozen
class ReportEvent:
    """Something keepalived reported that changes no VRRP state: an LVS virtual or real server
    going up or down, or an instance's new priority.

    It is recorded and alerted like a :class:`StateEvent` but has no hooks: its alerts are due
    at once (or after ``coalesce``, inside a flap of the same server or instance).

    Attributes:
        kind: ``VS`` or ``RS`` (:data:`LVS_KINDS`), or ``PRIORITY``.
        name: The server as keepalived wrote it (``[10.0.0.1]:tcp:80``, ``FWM 7``; a real server
            is followed by a space and its virtual server), or the instance.
        event: The alertable name: one of :data:`LVS_EVENTS` or ``priority``.
        cause: keepalived's report in one line, for people.
        priority: The priority reported (-1 for LVS).
        time: Unix time at which kakit received it.
        boot: The kernel's boot id when it was received.
        mono: ``CLOCK_BOOTTIME`` seconds when it was received.
    """

    kind: str
    name: str
    event: str
    cause: str
    priority: int = -1
    time: float = 0.0
    boot: str = ""
    mono: float = 0.0


def lvs_servers(kind: str, name: str) -> tuple[str, str]:
    """``(virtual server, real server)`` of an LVS event's stored name (real "" for ``VS``).

    A real server is ``[address]:proto:port``, without spaces (the FIFO parser insists), so the
    first space of an ``RS`` name ends it; the virtual server may hold one (``FWM 7``).
    """
    if kind != "RS":
        return name, ""
    real, _, virtual = name.partition(" ")
    return virtual, real
