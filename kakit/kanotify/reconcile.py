"""Reconcile: make the node match the hooks of the state applied last, whatever happened since.

Events are hints; the node's own state is the truth to converge on. Someone's ``iptables -F``,
a sysctl reset by a package upgrade, or an event keepalived never wrote (its FIFO is recreated
at every reload, docs/kanotify.md) all leave the node out of step with its VRRP state. The FIFO
reader calls :func:`reconcile` at start and every ``fifo.reconcile`` seconds (default 30). It asks each hook
that can tell (sysctl, firewall) whether the node still holds what the state applied last set,
and applies that state again when not.
"""

from __future__ import annotations

from kakit.core.events import boot_id
from kakit.core.log import logger
from kakit.kanotify.applied import AppliedStates
from kakit.kanotify.handle import notify_lock, run_hooks

TYPE_CHECKING = False
if TYPE_CHECKING:
    from kakit.config import Config

#: Seconds a reconcile waits for the notify lock before leaving the round to the next one.
LOCK_WAIT = 1.0


def reconcile(config: Config, *, wait: float = LOCK_WAIT) -> list[str] | None:
    """Check the node against the state applied last; apply that state again on drift.

    Returns:
        The drift found and corrected (one line per hook), ``[]`` when the node matched or
        nothing was applied yet, None when the notify lock stayed busy (an event is being
        applied: its own hooks are the freshest truth).
    """
    from kakit.hooks import build_plan

    plan = build_plan(config)
    if plan is None:
        return []
    lock = notify_lock(config, wait)
    if lock is None:
        return None
    try:
        applied = AppliedStates(config.paths.state_dir).newest(boot_id())
        if applied is None:
            return []
        drift = plan.drift(applied.state)
        if not drift:
            return []
        outcomes = run_hooks(config, applied, applied.state, applied.state)
    finally:
        lock.release()
    done = "; ".join(outcome.summary for outcome in outcomes)
    log = logger.error if any(not outcome.ok for outcome in outcomes) else logger.warning
    log(f"drift from {applied.label()} {applied.state} corrected: {'; '.join(drift)} -> {done}")
    return drift
