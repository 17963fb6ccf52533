"""Handling one keepalived state event: record it, apply hooks in order, hand alerts over.

keepalived starts notify scripts concurrently and unordered, never waits for them and SIGKILLs
the STOP notify after one second (docs/architecture.md, "How keepalived runs scripts"). The
node's configuration must follow its real state whatever else fails, so:

1. The event and one *held* message per alert channel go to the durable outbox first: even a
   SIGKILL in the next step loses no alert. If the outbox cannot store them (read-only or full
   disk, corrupt or locked database), that is logged loudly and the hooks are applied anyway.
2. Hooks run only under the notify lock, never without it; a notify waits up to
   :data:`LOCK_WAIT` for it. Under the lock the *newest* event received for the instance is
   applied, whichever notify process brought it: a burst of events converges on the last one
   even when processes get the lock in any order, and an event older than what was already
   applied is only recorded and alerted ("arrived late"). Order is by the receive stamp on a
   clock that does not step (:meth:`kakit.core.events.StateEvent.order`). What was applied is
   remembered in the state directory (:mod:`kakit.kanotify.applied`), not in the outbox.
3. The outcome is written to the event and its messages released, and a delivery worker is
   started in its own session (never inside keepalived's process group). An alert the outbox
   could not store is stored again once, and otherwise sent directly within
   :data:`DIRECT_BUDGET`.
"""

from __future__ import annotations

import os
import time

from kakit.core.events import boot_id
from kakit.core.locks import FileLock
from kakit.core.log import logger
from kakit.exceptions import EXIT_FAILURE, EXIT_OK, StateError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from kakit.alerts.outbox import Outbox
    from kakit.config import Config
    from kakit.core.events import ReportEvent, StateEvent
    from kakit.hooks.base import HookOutcome

#: How long a notify waits for another one to finish its hooks. A burst of hundreds of
#: notifies on a starved CPU queues for seconds; giving up is only for a lock that is stuck.
LOCK_WAIT = 60.0
#: Seconds for sending an alert directly when the outbox cannot store it.
DIRECT_BUDGET = 10.0


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


def due_time(
    previous: StateEvent | ReportEvent | None, event: StateEvent | ReportEvent, coalesce: float
) -> float:
    """When ``event``'s alert may go: at once after a quiet period, else after ``coalesce``.

    The first event of an instance (or LVS server) after ``coalesce`` seconds of quiet is the
    news (a lone failover, a real server going down), so it is not held. An event that follows another within ``coalesce`` is part
    of a flap: it is held that long, and the flap's events collapse into one message that
    carries the latest state.
    """
    if (
        previous is not None
        and previous.boot == event.boot
        and 0 <= event.mono - previous.mono < coalesce
    ):
        return event.time + coalesce
    return event.time


def notify_lock(config: Config, wait: float) -> FileLock | None:
    """The notify lock, held; None when another process kept it for ``wait`` seconds.

    The lock file lives in the state directory; when that is unusable, in the data directory,
    and as a last resort the configuration file itself is locked (it always exists and only root
    may change it). Hooks never run without one of them.

    Raises:
        StateError: No candidate could be opened at all.
    """
    candidates = [
        os.path.join(config.paths.state_dir, "notify.lock"),
        os.path.join(config.paths.data_dir, "notify.lock"),
    ]
    if config.source:
        candidates.append(config.source)
    problems = []
    for path in candidates:
        lock = FileLock(path, create=path != config.source)
        try:
            if path != config.source:
                from kakit.core.fsutil import ensure_dir

                ensure_dir(os.path.dirname(path), 0o755)
            return lock if lock.acquire(wait) else None
        except StateError as exc:
            problems.append(str(exc))
    raise StateError("no usable notify lock: " + "; ".join(problems))


class Notification:
    """One notify run: the event, where it was recorded, and what became of its hooks."""

    def __init__(self, config: Config, event: StateEvent) -> None:
        self.config = config
        self.event = event
        self.node = config.node_name()
        self.channels = config.channels_for(event.state, event.name)
        self.outbox: Outbox | None = None
        self.event_id: int | None = None
        self.outcomes: list[str] | None = []
        self.failed = False
        self.stale = False

    def record(self) -> None:
        """Store the event and its held messages; on failure, say so and carry on."""
        from kakit.alerts.outbox import Outbox

        try:
            self.outbox = Outbox(self.config.outbox_path())
            newest = self.outbox.newest_event(self.event.kind, self.event.name)
            self.event_id = self.outbox.add_event(
                self.event,
                self.node,
                self.channels,
                send_after=due_time(
                    newest[1] if newest else None, self.event, self.config.outbox.coalesce
                ),
            )
        except StateError as exc:
            logger.error(
                f"{self.event.label()} {self.event.state}: the event could not be stored, hooks are "
                f"applied anyway and alerts kept in memory: {exc}"
            )
            self.close()

    def apply(self) -> None:
        """Under the notify lock, apply the newest event of the instance (see the module doc)."""
        try:
            lock = notify_lock(self.config, LOCK_WAIT)
        except StateError as exc:
            self.outcomes = [f"hooks NOT applied: {exc}"]
            self.failed = True
            return
        if lock is None:
            self.outcomes = [
                f"hooks NOT applied: another kanotify held the notify lock for {LOCK_WAIT:g} s"
            ]
            self.failed = True
            return
        try:
            self._apply_newest()
        finally:
            lock.release()

    def _apply_newest(self) -> None:
        from kakit.kanotify.applied import AppliedStates

        event, boot = self.event, boot_id()
        memory = AppliedStates(self.config.paths.state_dir)
        last = memory.read(event.kind, event.name)
        target, target_id = event, self.event_id
        if self.outbox is not None:
            newest = self.outbox.newest_event(event.kind, event.name)
            if newest is not None and newest[1].order(boot) > event.order(boot):
                target_id, target = newest
        if last is not None and last.order(boot) >= target.order(boot):
            if (last.boot, last.mono) == (event.boot, event.mono):
                # A later notify applied our event while we waited and recorded its outcome.
                self.outcomes = None
            else:
                self.outcomes = [f"hooks skipped: {last.state} received later was already applied"]
                self.stale = True
            return
        previous = self.outbox.previous_state(target) if self.outbox is not None else None
        if previous is None and last is not None:
            previous = last.state
        results = run_hooks(self.config, target, previous, last.state if last else None)
        lines = [outcome.summary for outcome in results]
        failed = any(not outcome.ok for outcome in results)
        try:
            memory.write(target)
        except StateError as exc:
            logger.error(f"cannot remember the applied state (ordering of later events): {exc}")
        if target is event:
            self.outcomes, self.failed = lines, failed
            return
        # We applied a newer event that another notify brought and is still waiting to apply.
        self.outcomes = [f"hooks skipped: {target.state} received later was applied instead"]
        self.stale = True
        if self.outbox is not None and target_id is not None:
            try:
                self.outbox.finish_hooks(target_id, lines, stale=False)
            except StateError as exc:
                logger.error(f"cannot record the hooks' outcome of {target.label()}: {exc}")
        log = logger.error if failed else logger.info
        log(
            f"{target.label()} {target.state} (received later, applied now): {'; '.join(lines) or 'no hooks'}"
        )

    def hand_over(self) -> None:
        """Release the messages to the worker, or store or send them another way."""
        if self.outcomes is None:
            return
        if self.outbox is not None and self.event_id is not None:
            try:
                self.outbox.finish_hooks(self.event_id, self.outcomes, self.stale)
                return
            except StateError as exc:
                # The messages stay held; the worker sends them after HELD_GRACE, saying the
                # outcome was not recorded.
                logger.error(f"{self.event.label()}: cannot record the hooks' outcome: {exc}")
                return
        if not self.channels:
            return
        self.record()
        if self.outbox is not None and self.event_id is not None:
            try:
                self.outbox.finish_hooks(self.event_id, self.outcomes, self.stale)
                return
            except StateError:
                return  # held: the worker sends it, saying the outcome was not recorded
        self.send_directly()

    def send_directly(self) -> None:
        """The last resort for an alert the outbox could not take: send it now."""
        from kakit.alerts.alert import Alert
        from kakit.alerts.direct import send_now
        from kakit.keepalived.conf import addresses, load

        vips = addresses(load(self.config.keepalived.config), instance=self.event.name)
        alert = Alert.of(
            [self.event],
            node=self.node,
            previous=None,
            hooks=self.outcomes,
            late=self.stale,
            vips=vips if self.event.kind == "INSTANCE" else (),
        )
        for channel, (ok, answer) in send_now(
            self.config, alert, self.channels, DIRECT_BUDGET
        ).items():
            if ok:
                logger.warning(f"{self.event.label()}: alert sent directly to {channel}: {answer}")
            else:
                logger.error(f"{self.event.label()}: alert LOST for {channel}: {answer}")

    def close(self) -> None:
        """Close the outbox connection."""
        if self.outbox is not None:
            self.outbox.close()
            self.outbox = None


def handle_event(config: Config, event: StateEvent, *, start_worker: bool = True) -> int:
    """Record, hook and queue one event; returns the exit code (1 if a hook failed)."""
    run = Notification(config, event)
    try:
        run.record()
        run.apply()
        run.hand_over()
        stored = run.outbox is not None
    finally:
        run.close()
    took = (time.time() - event.time) * 1000
    prio = f" prio {event.priority}" if event.priority >= 0 else ""
    if run.outcomes is None:
        hooks = "hooks already applied by a later notify"
    else:
        hooks = "; ".join(run.outcomes) or "no hooks"
    queued = f"queued for {', '.join(run.channels)}" if run.channels else "no alert channels"
    late = " (late: a newer event was applied first)" if run.stale else ""
    log = logger.error if run.failed else logger.info
    log(f"{event.label()} {event.state}{prio}{late}: {hooks}; {queued} ({took:.0f} ms)")
    if run.channels and stored and start_worker:
        from kakit.alerts.detach import spawn_worker

        spawn_worker(config.source)
    return EXIT_FAILURE if run.failed else EXIT_OK
