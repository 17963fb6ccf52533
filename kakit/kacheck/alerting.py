"""Telling someone what kacheck did: restarts, give-ups, latches and stopping keepalived.

A run that did any of these stores one alert in the outbox (:mod:`kakit.alerts.outbox`), the
same pipeline kanotify feeds, and starts the delivery worker detached; the ``channels`` and
``alerts`` rules decide where it goes. kacheck never waits on a channel: keepalived reads its
answer within the script's timeout, so:

- Nothing here runs unless the run did something (this module is imported only then), and a
  configuration without ``alerts`` stops at the first line.
- The outbox write waits at most :data:`ENQUEUE_WAIT` for another process's write lock. If
  the outbox stays busy longer (a burst of kanotify writers on a starved CPU), or cannot be
  written at all, the alert is **lost**, with an error log line saying so; the check's verdict
  is not delayed. Nothing is retried later, so an alert is never stored twice (docs/kacheck.md,
  "Alerts").
- ``give_up`` is said once per outage: a spent budget is seen again every second, and only the
  first run alerts it (the mark is kept in the check's state and cleared by a healthy run or a
  new restart).
"""

from __future__ import annotations

from kakit.core.log import logger
from kakit.exceptions import StateError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from kakit.checks.base import CheckResult
    from kakit.config.schema import Config
    from kakit.kacheck.state import CheckState

#: Seconds kacheck waits for the outbox's write lock before it gives the alert up. A write
#: takes a millisecond; half a second covers a busy burst and stays far inside a 1 s interval.
ENQUEUE_WAIT = 0.5
#: The check-state key marking a give-up already alerted.
GAVE_UP = "gave_up"


def unannounced(state: CheckState, result: CheckResult) -> list[str]:
    """The events of ``result`` to alert: a repeated ``give_up`` is dropped (once per outage)."""
    events = list(result.events)
    if "give_up" in events:
        if state.data.get(GAVE_UP):
            events.remove("give_up")
        else:
            state.data[GAVE_UP] = True
    elif result.ok or events:
        state.data.pop(GAVE_UP, None)
    return events


def tracking_instances(config: Config, check: str) -> tuple[str, ...]:
    """Names of the instances whose track scripts run ``kacheck check`` (empty when unknown)."""
    from kakit.keepalived.conf import instances_tracking, load

    document = load(config.keepalived.config)
    return tuple(instance.name for instance in instances_tracking(document, check))


def queue_alert(config: Config, check: str, events: list[str], cause: str) -> str:
    """Store one alert for what a run of ``check`` did, and start the delivery worker.

    Args:
        config: The configuration (its ``alerts`` rules, outbox and node name).
        check: The check's name.
        events: What the run did, mildest first.
        cause: The check's summary, said in the alert.

    Returns:
        A fragment for the run's log line ("" when no rule takes these events).
    """
    if not config.alerts or not events:
        return ""
    instances: tuple[str, ...] = ()
    if any(route.instances for route in config.alerts):
        # Only a rule that selects instances needs keepalived's configuration here.
        instances = tracking_instances(config, check)
    channels = config.channels_for_check(tuple(events), check, instances)
    if not channels:
        return ""
    from kakit.alerts.outbox import queue_event

    try:
        queue_event(config, check, tuple(events), cause, channels, busy=ENQUEUE_WAIT)
    except StateError as exc:
        logger.error(f"{check}: {', '.join(events)} alert LOST (not queued): {exc}")
        return "; alert NOT queued"
    from kakit.alerts.detach import spawn_worker

    try:
        spawn_worker(config.source)
    except OSError as exc:
        # Stored: the next worker (any later event, `kakit outbox retry`, the boot unit) sends it.
        logger.error(f"{check}: cannot start the delivery worker: {exc}")
    return f"; alert queued for {', '.join(channels)}"
