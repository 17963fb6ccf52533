"""The delivery worker: drains the outbox to the channels, in order, with retries.

Started detached (its own session) by ``kanotify`` after every event, so it survives
keepalived's process-group kills; started by ``kakit outbox retry`` and, at boot, by the
``kakit-outbox`` unit. Only one worker runs at a time (an flock); a second one exits at once,
and the running one re-checks the outbox before it exits, so nothing enqueued meanwhile is left
behind. It keeps running while messages are pending (sleeping until the next is due) and exits
when the outbox is drained.

Per channel, messages go out oldest event first and a retryable failure blocks the channel's
queue until its retry, so order is kept. Channels are independent: a TaskGroup runs them
concurrently and one channel's outage delays nothing else. SQLite calls are made directly from
the event loop: each is a local sub-millisecond write, cheaper than a thread hop.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time

from kakit import notifiers
from kakit.alerts.alert import Alert
from kakit.alerts.messages import message_key, render
from kakit.alerts.outbox import MessageRow, Outbox
from kakit.core.events import BFD_KIND, REPORT_KINDS
from kakit.core.locks import FileLock
from kakit.core.log import logger
from kakit.exceptions import KakitError, UsageError
from kakit.notifiers.base import Message, Notifier, PermanentError, RetryableError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    import httpx

    from kakit.config import Config
    from kakit.core.events import ReportEvent
    from kakit.keepalived.conf import Document

#: Extra time a channel gets beyond its own timeout before the worker gives up on the attempt.
SEND_MARGIN = 5.0
#: Longest sleep between two looks at the outbox (new messages may arrive).
MAX_IDLE = 5.0
#: Seconds the worker keeps keepalived's configuration before reading it again.
KEEPALIVED_CONF_TTL = 60.0


def backoff(
    attempts: int, initial: float, maximum: float, rng: random.Random | None = None
) -> float:
    """Delay before attempt ``attempts + 1``: exponential, capped, +-25 % jitter."""
    base = min(maximum, initial * 2.0 ** max(0, attempts - 1))
    jitter: float = (rng or random).uniform(0.75, 1.25)
    return base * jitter


class ChannelDrainer:
    """Sends one channel's pending messages in order."""

    def __init__(self, worker: Worker, channel: str) -> None:
        self.worker = worker
        self.channel = channel

    async def drain(self) -> None:
        """Send due groups until the channel is empty, blocked by a retry, or rate limited."""
        worker = self.worker
        while True:
            group = worker.outbox.head_group(self.channel)
            if not group:
                return
            now = time.time()
            if group[0].next_attempt > now:
                return
            notifier = worker.notifier(self.channel)
            if notifier is None:
                worker.outbox.mark_failed(
                    [row.id for row in group], f"channel {self.channel!r} is no longer configured"
                )
                logger.error(
                    f"outbox: channel {self.channel}: no longer configured; dropped {len(group)} message(s)"
                )
                continue
            if notifier.rate_limit is not None:
                limit, window = notifier.rate_limit
                recent = worker.outbox.sends_since(self.channel, now - window)
                if len(recent) >= limit:
                    until = recent[len(recent) - limit] + window
                    worker.outbox.defer_channel(self.channel, until)
                    logger.info(
                        f"outbox: channel {self.channel}: {limit} messages in {window:g} s, waiting {until - now:.0f} s"
                    )
                    return
            if not await self.send_group(notifier, group):
                return

    async def send_group(self, notifier: Notifier[Any], group: list[MessageRow]) -> bool:
        """Send one (possibly collapsed) message; False when the channel must wait."""
        worker = self.worker
        ids = [row.id for row in group]
        message = worker.render(group, notifier)
        worker.outbox.mark_sending(ids)
        label = f"{group[-1].event.name} {group[-1].event.state}" + (
            f" (+{len(group) - 1} collapsed)" if len(group) > 1 else ""
        )
        timeout = notifier.timeout + SEND_MARGIN
        try:
            async with asyncio.timeout(timeout):
                answer = await notifier.send(message, worker.client)
        except PermanentError as exc:
            worker.outbox.mark_failed(ids, str(exc))
            logger.error(
                f"outbox: {label} to {self.channel}: permanent failure, not retried: {exc}"
            )
            return True
        except (RetryableError, TimeoutError) as exc:
            # RetryableError includes the channel's own NotifierTimeout; a bare TimeoutError is
            # this worker's deadline, which only a channel ignoring its timeout reaches.
            reason = str(exc) or f"no answer within {timeout:g} s"
            attempts = max(row.attempts for row in group) + 1
            delay = backoff(
                attempts, worker.config.outbox.backoff_initial, worker.config.outbox.backoff_max
            )
            if isinstance(exc, RetryableError) and exc.retry_after:
                delay = max(delay, exc.retry_after)
            worker.outbox.mark_retry(ids, time.time() + delay, reason)
            logger.warning(
                f"outbox: {label} to {self.channel}: attempt {attempts} failed: {reason}; retrying in {delay:.0f} s"
            )
            return False
        except KakitError as exc:
            # A configuration problem met at send time (a plugin's own error).
            worker.outbox.mark_failed(ids, str(exc))
            logger.error(f"outbox: {label} to {self.channel}: {exc}")
            return True
        worker.outbox.mark_sent(group[-1].id, ids[:-1], answer, self.channel)
        logger.info(f"outbox: {label} delivered to {self.channel}: {answer}")
        return True


def report_of(row: MessageRow) -> ReportEvent:
    """The LVS or priority event an outbox row stores."""
    from kakit.core.events import ReportEvent

    event = row.event
    return ReportEvent(
        kind=event.kind,
        name=event.name,
        event=event.state,
        cause=row.cause,
        priority=event.priority,
        time=event.time,
        boot=event.boot,
        mono=event.mono,
    )


class Worker:
    """One delivery run over the outbox."""

    def __init__(self, config: Config, outbox: Outbox, client: httpx.AsyncClient) -> None:
        self.config = config
        self.outbox = outbox
        self.client = client
        self._notifiers: dict[str, Notifier[Any] | None] = {}
        self._keepalived: tuple[float, Document] | None = None

    def notifier(self, channel: str) -> Notifier[Any] | None:
        """The channel's notifier (built once), None if the channel is gone from the config."""
        if channel not in self._notifiers:
            spec = self.config.channels.get(channel)
            self._notifiers[channel] = (
                None if spec is None else notifiers.load(spec.type)(channel, spec.options)
            )
        return self._notifiers[channel]

    def render(self, group: list[MessageRow], notifier: Notifier[Any]) -> Message:
        """The alert text for a group of messages of one instance (or one check)."""
        spec = self.config.channels[notifier.name]
        last = group[-1]
        if last.event.kind in REPORT_KINDS:  # an LVS server or a priority, not a state
            alert = Alert.of_report([report_of(row) for row in group], node=last.node)
        elif last.check_events:
            bfd = last.event.kind == BFD_KIND
            alert = Alert.of_check(
                last.event.name,
                [event for row in group for event in row.check_events],
                node=last.node,
                cause=last.cause,
                time=last.event.time,
                first=group[0].event.time,
                # A BFD session's alert names every address of the node (which instances track
                # its track file is known where the event is routed, not stored).
                vips=self.addresses() if bfd else self.addresses(check=last.event.name),
                kind="BFD" if bfd else "CHECK",
            )
        else:
            alert = Alert.of(
                [row.event for row in group],
                node=group[0].node,
                previous=self.outbox.previous_state(group[0].event),
                hooks=last.hooks,
                late=any(row.stale for row in group),
                vips=self.addresses(instance=last.event.name)
                if last.event.kind == "INSTANCE"
                else (),
            )
        # The key names the row the send is recorded on (a collapsed group's last), so a
        # re-send of the same group carries the same key.
        return render(
            alert,
            language=spec.language,
            templates=self.config.templates.get(spec.language),
            key=message_key(last.node, last.id, last.created),
        )

    def addresses(self, *, instance: str = "", check: str = "") -> tuple[str, ...]:
        """The virtual addresses of ``instance`` or of the instances tracking ``check``.

        keepalived's configuration is read when an alert is built, never on kacheck's path, and
        kept for :data:`KEEPALIVED_CONF_TTL` seconds: a burst of alerts reads it once, and a
        worker that runs through a long outage still sees an edited file.
        """
        from kakit.keepalived.conf import addresses, load

        now = time.monotonic()
        if self._keepalived is None or now - self._keepalived[0] > KEEPALIVED_CONF_TTL:
            self._keepalived = (now, load(self.config.keepalived.config))
        return addresses(self._keepalived[1], instance=instance, check=check)

    async def run(self, deadline: float | None) -> None:
        """Deliver until the outbox is drained (or ``deadline``, a monotonic time)."""
        # Messages a dead worker left in 'sending' may have reached the channel: they are sent
        # again, after a back-off that grows with each death (outbox.recover_sending).
        config = self.config.outbox
        for row in self.outbox.recover_sending(
            time.time(), lambda deaths: backoff(deaths, config.backoff_initial, config.backoff_max)
        ):
            logger.warning(
                f"outbox: {row.event.name} {row.event.state} to {row.channel}: the delivery worker "
                f"died while sending it ({row.crashes} time(s)); sending it again (it may arrive twice)"
            )
        while deadline is None or time.monotonic() < deadline:
            now = time.time()
            self.outbox.release_stale_held(now)
            for row in self.outbox.expire(now, self.config.outbox.ttl):
                logger.warning(
                    f"outbox: {row.event.name} {row.event.state} to {row.channel} expired after {self.config.outbox.ttl:g} s "
                    f"undelivered (last error: {row.last_error or 'none'})"
                )
            due = self.outbox.due_channels(now)
            if due:
                async with asyncio.TaskGroup() as group:
                    for channel in due:
                        group.create_task(ChannelDrainer(self, channel).drain())
                continue
            next_due = self.outbox.next_due()
            if next_due is None:
                return
            pause = min(MAX_IDLE, max(0.05, next_due - time.time()))
            if deadline is not None:
                pause = min(pause, max(0.0, deadline - time.monotonic()))
            await asyncio.sleep(pause)


async def deliver(config: Config, *, max_seconds: float | None = None) -> int:
    """Run the worker if no other worker runs; returns the exit code."""
    import httpx

    lock = FileLock(os.path.join(config.paths.data_dir, "delivery.lock"))
    deadline = None if max_seconds is None else time.monotonic() + max_seconds
    while True:
        if not lock.try_acquire():
            return 0  # the running worker will see our messages
        try:
            with Outbox(config.outbox_path()) as outbox:
                async with httpx.AsyncClient(trust_env=False) as client:
                    await Worker(config, outbox, client).run(deadline)
        finally:
            lock.release()
        # A message stored after the last look but before the lock was released would wait for
        # the next event: look once more, outside the lock.
        with Outbox(config.outbox_path()) as outbox:
            next_due = outbox.next_due()
        if next_due is None or (deadline is not None and time.monotonic() >= deadline):
            return 0


async def deliver_on_wake(config: Config, wake: asyncio.Event, idle: float) -> None:
    """Deliver the outbox whenever ``wake`` is set (and every ``idle`` seconds regardless),
    until cancelled: the in-process delivery of the resident tools (the FIFO reader, kaprobe).

    :func:`deliver` takes the delivery lock: when another worker holds it (one kacheck
    started), that worker sends these alerts too, and this pass returns at once. The idle
    pass picks up alerts such a worker, or kacheck, left behind.
    """
    while True:
        try:
            await deliver(config)
        except KakitError as exc:
            logger.error(f"outbox: {exc}")
        await until(wake, idle)
        wake.clear()


async def until(event: asyncio.Event, seconds: float) -> None:
    """Wait for ``event``, at most ``seconds``."""
    try:
        await asyncio.wait_for(event.wait(), seconds)
    except TimeoutError:
        pass


def main(argv: list[str] | None = None) -> int:
    """``python -m kakit.alerts.delivery [-c FILE] [--max-seconds N]``."""
    from kakit.core.entry import Arguments, run_tool

    usage = "usage: python -m kakit.alerts.delivery [-c FILE] [--max-seconds N]\n"

    class WorkerArguments(Arguments):
        max_seconds: float | None = None

    def parse(items: list[str]) -> WorkerArguments:
        args = WorkerArguments()
        items = list(items)
        while items:
            item = items.pop(0)
            if item in ("-c", "--config") and items:
                args.config = items.pop(0)
            elif item == "--max-seconds" and items:
                value = items.pop(0)
                try:
                    args.max_seconds = float(value)
                except ValueError:
                    raise UsageError(f"--max-seconds: expected a number, got {value!r}") from None
            else:
                raise UsageError(f"{usage.strip()} (got {item!r})")
        return args

    def body(config: Config, args: WorkerArguments) -> int:
        return asyncio.run(deliver(config, max_seconds=args.max_seconds))

    return run_tool(
        list(sys.argv[1:] if argv is None else argv),
        ident="kakit-delivery",
        usage=usage,
        parse=parse,
        body=body,
        log_prefix="outbox: ",
    )


if __name__ == "__main__":
    sys.exit(main())
