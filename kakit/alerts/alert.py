"""The alert: what kakit tells people about one event, or about a flap collapsed into one.

One typed record carries every fact an alert states, from the outbox to each channel's body:
the text renderer (:mod:`kakit.alerts.messages`), user templates, the webhook's JSON body and
Alertmanager's labels all read the same fields, so a field added here is a placeholder
everywhere and the lists of names cannot drift apart.
"""

from __future__ import annotations

from kakit.core.record import frozen

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any, Literal

    from kakit.core.events import EventKind, Kind, ReportEvent, State, StateEvent

#: The alert's fields, in the order they appear in JSON bodies.
FIELDS = (
    "node",
    "kind",
    "name",
    "label",
    "state",
    "previous",
    "sequence",
    "priority",
    "time",
    "hooks",
    "late",
    "flaps",
    "span",
    "test",
    "event",
    "check",
    "cause",
    "vips",
    "virtual",
    "real",
)
#: What text templates (title, text, markdown) may use: the fields, the change written out
#: (``BACKUP → MASTER``) and the note (flap, late and test remarks, in the message's language).
#: A kacheck alert adds ``action``: its event in words (``escalated: keepalived stopped``).
TEXT_PLACEHOLDERS = (*FIELDS, "change", "note", "action")
#: What JSON body templates may use: the fields, the change, and the rendered message.
BODY_PLACEHOLDERS = ("title", "text", "markdown", "language", *FIELDS, "change")

ARROW = " → "


@frozen
class Alert:
    """Everything one alert states.

    Attributes:
        node: This node's name.
        kind: ``INSTANCE`` or ``GROUP``.
        name: The instance or sync group ("" when keepalived did not say).
        label: How people read it: ``VI_1``, ``group G1`` or ``keepalived``.
        state: The latest state.
        previous: The state before the first event, if known.
        sequence: Every state in order, starting with ``previous`` when it differs.
        priority: The latest priority, None when keepalived did not say.
        time: Unix time of the latest event.
        hooks: The hooks' outcome lines for the latest event; None when not recorded (the
            notify process was interrupted).
        late: An event arrived after a newer one had been applied (its hooks were skipped).
        flaps: How many events this alert covers (1 for a lone event).
        span: Seconds between the first and the latest event.
        test: A test alert (``kanotify test``): no state changed.
        event: What kacheck did (``restart`` ... ``escalate``, the most serious of a run), what
            a kaprobe session did last (``bfd_down``, ``bfd_up``), a split brain starting or
            ending (``split_brain``, ``split_brain_over``: the latest), or "" for a keepalived
            state change.
        check: The kacheck check the event is about ("" for a state change).
        cause: Why this alert exists, in one line: the check's summary for a kacheck event,
            the transition with its priority for a state change.
        vips: The virtual addresses concerned, where keepalived's configuration says: the
            instance's, or those of the instances tracking the check.
        virtual: An LVS event's virtual server as keepalived wrote it (``[10.0.0.1]:tcp:80``,
            ``FWM 7``); "" otherwise.
        real: An LVS real server's event: the real server (``[10.0.0.2]:tcp:80``); "" otherwise.

    A kacheck alert has ``kind`` ``CHECK``, ``name`` the check, ``state`` "" and ``sequence``
    the events it covers, oldest first. A kaprobe alert is the same with ``kind`` ``BFD``,
    ``name`` the session (``local->peer``), ``check`` "", and a ``cause`` naming the peer, the
    local address, the diagnostic and the detection time. An LVS alert (kind ``VS`` or ``RS``) and a priority
    alert (kind ``PRIORITY``, ``name`` the instance) likewise, with ``event`` the latest.
    """

    node: str
    kind: Kind | EventKind | Literal["VS", "RS", "PRIORITY"]
    name: str
    label: str
    state: State | Literal[""]
    previous: str | None
    sequence: tuple[str, ...]
    priority: int | None
    time: float
    hooks: tuple[str, ...] | None
    late: bool = False
    flaps: int = 1
    span: float = 0.0
    test: bool = False
    event: str = ""
    check: str = ""
    cause: str = ""
    vips: tuple[str, ...] = ()
    virtual: str = ""
    real: str = ""

    @classmethod
    def of(
        cls,
        events: Sequence[StateEvent],
        *,
        node: str,
        previous: str | None,
        hooks: Sequence[str] | None,
        late: bool = False,
        test: bool = False,
        vips: Sequence[str] = (),
    ) -> Alert:
        """The alert for ``events`` of one instance, oldest first (at least one).

        Args:
            events: The events; several when a flap was collapsed.
            node: This node's name.
            previous: The instance's state before the first event, if known.
            hooks: The hooks' outcome of the latest event (None: not recorded).
            late: Whether any of the events arrived late.
            test: Mark as a test alert.
            vips: The instance's virtual addresses, where known.
        """
        last = events[-1]
        states = [event.state for event in events]
        sequence = ([previous] if previous and previous != states[0] else []) + states
        cause = f"keepalived: {last.label()} {ARROW.join(sequence)}"
        if last.priority >= 0:
            cause += f" (priority {last.priority})"
        return cls(
            node=node,
            kind=last.kind,
            name=last.name,
            label=last.label(),
            state=last.state,
            previous=previous,
            sequence=tuple(sequence),
            priority=last.priority if last.priority >= 0 else None,
            time=last.time,
            hooks=None if hooks is None else tuple(hooks),
            late=late,
            flaps=len(events),
            span=last.time - events[0].time,
            test=test,
            cause=cause,
            vips=tuple(vips),
        )

    @classmethod
    def of_check(
        cls,
        check: str,
        events: Sequence[str],
        *,
        node: str,
        cause: str,
        time: float,
        first: float | None = None,
        vips: Sequence[str] = (),
        kind: EventKind = "CHECK",
    ) -> Alert:
        """The alert for what kacheck did about ``check`` (or what a BFD session did).

        Args:
            check: The check's name (for ``kind`` ``BFD``: the session's).
            events: The events covered, oldest first. For kacheck the most serious of them is
                the alert's ``event`` (several runs collapsed, or one run that gave up,
                latched and escalated); for a BFD session, the latest (its state now).
            node: This node's name.
            cause: The check's summary of the latest run (the session's latest event).
            time: Unix time of the latest run.
            first: Unix time of the first run covered (default: ``time``).
            vips: The virtual addresses of the instances tracking the check, where known.
            kind: ``CHECK`` or ``BFD``.
        """
        from kakit.core.events import headline

        event = headline(list(events))
        return cls(
            node=node,
            kind=kind,
            name=check,
            label=check,
            state="",
            previous=None,
            sequence=tuple(events),
            priority=None,
            time=time,
            hooks=(),
            flaps=len(events),
            span=time - (time if first is None else first),
            event=event,
            check=check if kind == "CHECK" else "",
            cause=cause,
            vips=tuple(vips),
        )

    @classmethod
    def of_report(cls, events: Sequence[ReportEvent], *, node: str) -> Alert:
        """The alert for LVS or priority events of one server or instance, oldest first.

        Args:
            events: The events (at least one); several when a flap was collapsed.
            node: This node's name.
        """
        from kakit.core.events import LVS_KINDS, PRIORITY_KIND, lvs_servers

        last = events[-1]
        virtual, real = lvs_servers(last.kind, last.name) if last.kind in LVS_KINDS else ("", "")
        if real:
            label = f"real server {real} of {virtual}"
        elif virtual:
            label = f"virtual server {virtual}"
        else:
            label = last.name
        return cls(
            node=node,
            kind=last.kind,  # type: ignore[arg-type]
            name=last.name,
            label=label,
            state="",
            previous=None,
            # A priority alert's sequence is the priorities it covers, an LVS alert's its events.
            sequence=tuple(
                str(event.priority) if event.kind == PRIORITY_KIND else event.event
                for event in events
            ),
            priority=last.priority if last.priority >= 0 else None,
            time=last.time,
            hooks=(),
            flaps=len(events),
            span=last.time - events[0].time,
            event=last.event,
            cause=last.cause,
            virtual=virtual,
            real=real,
        )

    @property
    def change(self) -> str:
        """The sequence written out: ``BACKUP → MASTER``."""
        return ARROW.join(self.sequence)

    def as_json(self) -> dict[str, Any]:
        """The fields as JSON values: lists for sequences, ISO 8601 local time."""
        return {
            "node": self.node,
            "kind": self.kind,
            "name": self.name,
            "label": self.label,
            "state": self.state,
            "previous": self.previous,
            "sequence": list(self.sequence),
            "priority": self.priority,
            "time": iso_time(self.time),
            "hooks": list(self.hooks or ()),
            "late": self.late,
            "flaps": self.flaps,
            "span": round(self.span, 3),
            "test": self.test,
            "event": self.event,
            "check": self.check,
            "cause": self.cause,
            "vips": list(self.vips),
            "virtual": self.virtual,
            "real": self.real,
        }


def iso_time(stamp: float) -> str:
    """Local time with UTC offset, ISO 8601, second precision."""
    import time

    local = time.localtime(stamp)
    offset = time.strftime("%z", local)
    return time.strftime("%Y-%m-%dT%H:%M:%S", local) + f"{offset[:3]}:{offset[3:]}"
