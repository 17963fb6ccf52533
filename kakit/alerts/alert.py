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
    from typing import Any

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
)
#: What text templates (title, text, markdown) may use: the fields, the change written out
#: (``BACKUP → MASTER``) and the note (flap, late and test remarks, in the message's language).
TEXT_PLACEHOLDERS = (*FIELDS, "change", "note")
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
    """

    node: str
    kind: Kind
    name: str
    label: str
    state: State
    previous: str | None
    sequence: tuple[str, ...]
    priority: int | None
    time: float
    hooks: tuple[str, ...] | None
    late: bool = False
    flaps: int = 1
    span: float = 0.0
    test: bool = False

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
    ) -> Alert:
        """The alert for ``events`` of one instance, oldest first (at least one).

        Args:
            events: The events; several when a flap was collapsed.
            node: This node's name.
            previous: The instance's state before the first event, if known.
            hooks: The hooks' outcome of the latest event (None: not recorded).
            late: Whether any of the events arrived late.
            test: Mark as a test alert.
        """
        last = events[-1]
        states = [event.state for event in events]
        sequence = ([previous] if previous and previous != states[0] else []) + states
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
        }


def iso_time(stamp: float) -> str:
    """Local time with UTC offset, ISO 8601, second precision."""
    import time

    local = time.localtime(stamp)
    offset = time.strftime("%z", local)
    return time.strftime("%Y-%m-%dT%H:%M:%S", local) + f"{offset[:3]}:{offset[3:]}"
