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

    from kakit.core.events import Kind, State, StateEvent

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
        event: What kacheck did (``restart`` ... ``escalate``, the most serious of a run) or
            a split brain starting or ending (``split_brain``, ``split_brain_over``: the
            latest), or "" for a keepalived state change.
        check: The kacheck check the event is about ("" for a state change).
        cause: Why this alert exists, in one line: the check's summary for a kacheck event,
            the transition with its priority for a state change.
        vips: The virtual addresses concerned, where keepalived's configuration says: the
            instance's, or those of the instances tracking the check.

    A kacheck alert has ``kind`` ``CHECK``, ``name`` the check, ``state`` "" and ``sequence``
    the events it covers, oldest first.
    """

    node: str
    kind: Kind | Literal["CHECK"]
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
    ) -> Alert:
        """The alert for what kacheck did about ``check``.

        Args:
            check: The check's name.
            events: The kacheck events covered, oldest first; the most serious of them is
                the alert's ``event`` (several runs collapsed, or one run that gave up,
                latched and escalated).
            node: This node's name.
            cause: The check's summary of the latest run.
            time: Unix time of the latest run.
            first: Unix time of the first run covered (default: ``time``).
            vips: The virtual addresses of the instances tracking the check, where known.
        """
        from kakit.core.events import headline

        event = headline(list(events))
        return cls(
            node=node,
            kind="CHECK",
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
            check=check,
            cause=cause,
            vips=tuple(vips),
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
        }


def iso_time(stamp: float) -> str:
    """Local time with UTC offset, ISO 8601, second precision."""
    import time

    local = time.localtime(stamp)
    offset = time.strftime("%z", local)
    return time.strftime("%Y-%m-%dT%H:%M:%S", local) + f"{offset[:3]}:{offset[3:]}"
