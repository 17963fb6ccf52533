"""The contract of the hook family (what a state change does to this node).

A hook is a typed callable: ``StateHook = Callable[[StateChange], HookOutcome]``. A configured
hook is a class in its own module, listed in :data:`kakit.hooks.REGISTRY` under its key in a
state, with class attributes ``name``, ``options_class`` (a frozen record with one field named
like the key, built from the state) and optionally ``every_state = True`` (configured for one
state, it runs on every state change). Its ``__init__(options, settings)`` takes those options
and the shared ``hooks`` section (:class:`kakit.hooks.spec.HookSettings`); ``__call__`` does the
work. A hook whose effect stays on the node may also have ``drift(state) -> str | None``, saying
how the node now differs from what entering ``state`` set (the FIFO reader's reconcile applies
the state again when it does). Hooks are synchronous on purpose: they run inside keepalived's ``notify`` call, whose
budget (150 ms) is smaller than the cost of importing asyncio (docs/benchmarks.md).

A hook must be idempotent (keepalived may report the same state twice, e.g. at reload) and
must *report* failure, never skip silently: it raises :class:`HookError`, and the runner
records the outcome in the alert and carries on with the next hook.
"""

from __future__ import annotations

from kakit.core.record import frozen

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from kakit.core.events import StateEvent


@frozen
class StateChange:
    """What the hooks are told.

    Attributes:
        event: The keepalived event being applied.
        previous: The state this instance/group was in before, if known.
        node: This node's name (for logs and the ``run`` hook's environment).
        leaving: The state whose hooks were applied last and are now being left (its firewall
            rules must go), if any.
    """

    event: StateEvent
    previous: str | None = None
    node: str = ""
    leaving: str | None = None


@frozen
class HookOutcome:
    """One line for the log and the alert: ``sysctl: 3 set, verified``."""

    hook: str
    summary: str
    ok: bool = True


if TYPE_CHECKING:
    StateHook = Callable[[StateChange], HookOutcome]
