"""Handling one keepalived state event: enqueue, apply hooks in order, hand over to delivery.

keepalived starts notify scripts concurrently and unordered, never waits for them and SIGKILLs
the STOP notify after one second (keepalived.md section 1). So, in this order:

1. The event and one message per alert channel go to the durable outbox first, *held*: even a
   SIGKILL in the next step loses no alert.
2. Under a lock, hooks are applied only if no *newer* event for the same instance has been
   applied already (kakit orders events by the time it received them): a late BACKUP must not
   undo the MASTER that arrived before it. A late event is still recorded and alerted truthfully.
3. The hooks' outcome is written to the event and its messages released; a detached worker in its
   own session delivers them (never inside keepalived's process group).
"""

from __future__ import annotations

import os
import time

from kakit.alerts.outbox import Outbox
from kakit.core.fsutil import ensure_dir
from kakit.core.locks import FileLock
from kakit.core.log import logger
from kakit.exceptions import EXIT_FAILURE, EXIT_OK

TYPE_CHECKING = False
if TYPE_CHECKING:
    from kakit.config import Config
    from kakit.core.events import StateEvent
    from kakit.hooks.base import HookOutcome

#: How long a notify run waits for another one to finish its hooks.
LOCK_WAIT = 5.0


def run_hooks(
    config: Config, event: StateEvent, previous: str | None, leaving: str | None
) -> list[HookOutcome]:
    """Apply the configured hooks for ``event.state`` (none configured: no outcomes)."""
    from kakit.hooks import build_plan

    plan = build_plan(config)
    if plan is None:
        return []
    from kakit.hooks.base import StateChange

    change = StateChange(event=event, previous=previous, node=config.node_name(), leaving=leaving)
    return plan.apply(change)


def handle_event(config: Config, event: StateEvent, *, start_worker: bool = True) -> int:
    """Record, hook and queue one event; returns the exit code (1 if a hook failed)."""
    node = config.node_name()
    channels = config.channels_for(event.state, event.name)
    with Outbox(config.outbox_path()) as outbox:
        event_id = outbox.add_event(
            event, node, channels, send_after=event.time + config.outbox.coalesce
        )
        lock = FileLock(os.path.join(config.paths.state_dir, "notify.lock"))
        ensure_dir(config.paths.state_dir, 0o755)
        locked = lock.acquire(LOCK_WAIT)
        try:
            applied = outbox.last_applied(event.kind, event.name)
            stale = applied is not None and applied[0] > event.time
            just_applied = None
            if stale:
                assert applied is not None
                outcomes_text = [f"hooks skipped: {applied[1]} received later was already applied"]
                failed = False
            else:
                previous = outbox.previous_state(event.kind, event.name, event.time)
                outcomes = run_hooks(config, event, previous, applied[1] if applied else None)
                outcomes_text = [outcome.summary for outcome in outcomes]
                failed = any(not outcome.ok for outcome in outcomes)
                just_applied = event
            if not locked:
                outcomes_text.append(f"(hooks lock not obtained within {LOCK_WAIT:g} s)")
            outbox.finish_hooks(event_id, outcomes_text, stale, applied=just_applied)
        finally:
            lock.release()
    took = (time.time() - event.time) * 1000
    prio = f" prio {event.priority}" if event.priority >= 0 else ""
    hooks = "; ".join(outcomes_text) or "no hooks"
    queued = f"queued for {', '.join(channels)}" if channels else "no alert channels"
    late = " (late: a newer event was applied first)" if stale else ""
    log = logger.error if failed else logger.info
    log(f"{event.label()} {event.state}{prio}{late}: {hooks}; {queued} ({took:.0f} ms)")
    if channels and start_worker:
        from kakit.alerts.detach import spawn_worker

        spawn_worker(config.source)
    return EXIT_FAILURE if failed else EXIT_OK
