"""The event in keepalived's ``notify`` command line.

keepalived forks ``notify`` with the configured words plus ``INSTANCE|GROUP NAME STATE PRIO``
appended, and ``notify_master`` and friends with nothing appended (docs/kanotify.md, "What
keepalived does to notify scripts"). The appended fields are therefore read from the *end* of argv. keepalived
runs notify scripts concurrently and unordered, so every event carries the time kakit first saw
it, which orders events that arrive out of order.
"""

from __future__ import annotations

from kakit.core.events import KINDS, STATES, StateEvent, received_now
from kakit.core.log import printable
from kakit.exceptions import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from kakit.core.events import Kind, State


def _state(word: str) -> State:
    for state in STATES:
        if word == state:
            return state
    raise UsageError(f"unknown state {word!r} (expected one of {', '.join(STATES)})")


def _kind(word: str) -> Kind:
    for kind in KINDS:
        if word == kind:
            return kind
    raise UsageError(f"expected INSTANCE or GROUP as the 4th word from the end, got {word!r}")


def parse_notify_args(words: list[str], now: float | None = None) -> StateEvent:
    """Parse the positional words keepalived passed to ``notify``.

    Args:
        words: Positional arguments: the configured extra words followed by
            ``INSTANCE|GROUP NAME STATE PRIO``.
        now: Receive time (default: the current time).

    Raises:
        UsageError: The last four words are not a keepalived notify tail.
    """
    if len(words) < 4:
        raise UsageError(
            f"expected INSTANCE|GROUP NAME STATE PRIORITY at the end of the arguments, got {' '.join(words) or 'nothing'!r}"
        )
    kind_word, name, state_word, priority_text = (printable(word) for word in words[-4:])
    kind = _kind(kind_word)
    state = _state(state_word)
    if not name:
        raise UsageError("empty instance/group name")
    # keepalived writes a plain decimal (0..255). int() would also take "+5", "1_0" and "٣".
    if not (priority_text.isascii() and priority_text.isdigit()):
        raise UsageError(f"priority must be a number 0..255, got {priority_text!r}")
    priority = int(priority_text)
    if priority > 255:
        raise UsageError(f"priority must be 0..255, got {priority}")
    return StateEvent(kind=kind, name=name, state=state, priority=priority, **_stamp(now))


def state_only_event(
    state: str, name: str | None, kind: Kind = "INSTANCE", now: float | None = None
) -> StateEvent:
    """The event of ``notify_master`` & co., which keepalived calls without arguments.

    Raises:
        UsageError: ``state`` is not a keepalived state.
    """
    state = printable(state)
    try:
        upper = _state(state.upper())
    except UsageError:
        raise UsageError(f"unknown state {state!r} (expected one of {', '.join(STATES)})") from None
    return StateEvent(
        kind=kind,
        name=printable(name or ""),
        state=upper,
        priority=-1,
        **_stamp(now),
    )


def _stamp(now: float | None) -> dict[str, Any]:
    """The receive stamp (``now`` fixes the wall time, for tests)."""
    stamp: dict[str, Any] = received_now()
    if now is not None:
        stamp["time"] = now
    return stamp
