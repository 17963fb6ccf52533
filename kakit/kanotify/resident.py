"""``kanotify --fifo``: the resident reader of keepalived's notify FIFO.

keepalived writes every event to its notify FIFO in the order it happened, which the notify
scripts it forks cannot give (docs/kanotify.md, "The notify FIFO"). The reader runs either as
keepalived's ``notify_fifo_script`` (keepalived appends the FIFO's path to the command line and
SIGTERMs the reader at every reload and stop) or as a service started before keepalived (it then
creates the FIFO, and keepalived reuses it).

One process does it all, batch by batch (a batch is every line one wake-up found in the pipe):

1. **Record.** Every change of state of the batch is stored in the outbox in one transaction,
   with its held alerts, before any hook runs; so are its LVS events (``vs_down``...) and
   priority reports, which have no hooks (their alerts are due at once; a priority alerts only
   where a rule names ``priority``). A reader killed at any point loses nothing it
   had read: every read is journaled first (:class:`Journal`) and replayed by the next reader.
2. **Hooks**, under the notify lock, in keepalived's order. Hooks act on the node, so only the
   last change of each instance in the batch is applied; the earlier ones are recorded as
   superseded (a flap inside one read converges on its end at once).
3. **Release** the alerts, and wake the delivery task that runs in the same process, so that no
   worker has to start per event. Delivery is network I/O on the same event loop: reading the
   FIFO never waits for it.

Only one reader reads at a time: at a reload keepalived starts the new reader while the old one
still reads on for its grace period, and two readers would split the lines between them. The
second waits for the first's lock; meanwhile keepalived's lines wait in the pipe.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import deque

from kakit.core.events import PRIORITY_KIND, ReportEvent, StateEvent, received_now
from kakit.core.fsutil import ensure_dir
from kakit.core.locks import FileLock
from kakit.core.log import logger
from kakit.exceptions import EXIT_OK, StateError
from kakit.kanotify.fifo import FifoSource, follow
from kakit.keepalived.fifo import FifoLineError, LvsLine, VrrpLine, parse_line

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from kakit.alerts.outbox import Outbox
    from kakit.config import Config
    from kakit.kanotify.metrics import InstanceInfo

#: Seconds between two writes of the metrics text file.
TEXTFILE_EVERY = 15.0
#: Lines read and not handled yet beyond which new lines are dropped (about 60 MiB).
MAX_BACKLOG = 1_000_000
#: Seconds between "still waiting for the other reader" lines.
LOCK_NOTICE = 60.0
#: Seconds between the delivery task's looks at the outbox when nothing woke it (alerts that
#: kacheck, or a worker that held the delivery lock, left behind).
DELIVERY_IDLE = 10.0


def instance_info(config: Config) -> dict[str, InstanceInfo]:
    """Each VRRP instance's interface, router id and addresses, from keepalived.conf.

    They label the exporter-compatible metrics. The file is read once, at start; an unreadable
    file leaves the labels empty, and the reader works on.
    """
    from kakit.kanotify.metrics import InstanceInfo
    from kakit.keepalived.conf import load, vrrp_instances

    return {
        name: InstanceInfo(
            interface=instance.interface,
            vrid=instance.vrid,
            addresses=tuple(address.split("/")[0] for address in instance.addresses),
        )
        for name, instance in vrrp_instances(load(config.keepalived.config)).items()
    }


def lvs_report(line: LvsLine, stamp: dict[str, float | str]) -> ReportEvent:
    """The LVS event of a ``VS`` or ``RS`` line (``rs_down``...), received at ``stamp``."""
    server = (
        f"real server {line.real} of {line.virtual}"
        if line.real
        else f"virtual server {line.virtual}"
    )
    return ReportEvent(
        kind=line.kind,
        name=f"{line.real} {line.virtual}" if line.real else line.virtual,
        event=f"{line.kind.lower()}_{'up' if line.up else 'down'}",
        cause=f"keepalived: LVS {server} {'UP' if line.up else 'DOWN'}",
        time=float(stamp["time"]),
        boot=str(stamp["boot"]),
        mono=float(stamp["mono"]),
    )


def priority_report(line: VrrpLine, stamp: dict[str, float | str]) -> ReportEvent:
    """The priority event of a ``MASTER_PRIORITY``, ``BACKUP_PRIORITY`` or
    ``MASTER_RX_LOWER_PRI`` line, received at ``stamp``."""
    label = line.name if line.kind == "INSTANCE" else f"group {line.name}"
    return ReportEvent(
        kind=PRIORITY_KIND,
        name=line.name,
        event="priority",
        cause=f"keepalived: {label} {line.word} {line.priority}",
        priority=line.priority,
        time=float(stamp["time"]),
        boot=str(stamp["boot"]),
        mono=float(stamp["mono"]),
    )


class LineHandler:
    """Turns batches of FIFO lines into recorded events, hooks and alerts, in order.

    Args:
        config: The loaded configuration.
        wake_delivery: Called after a batch released alerts.
    """

    def __init__(self, config: Config, *, wake_delivery: Callable[[], None] = lambda: None) -> None:
        from kakit.kanotify.metrics import Metrics

        self.config = config
        self.wake_delivery = wake_delivery
        self.metrics = Metrics(instance_info(config), flap_window=max(config.outbox.coalesce, 10.0))
        self.node = config.node_name()
        from kakit.hooks import build_plan

        # Built once: the reader applies the same states for as long as it runs.
        self.plan = build_plan(config)
        self._outbox: Outbox | None = None
        #: The last state each instance and group reported, by ``(kind, name)``.
        self.states: dict[tuple[str, str], str] = {}
        self.lines = 0
        self.refused = 0
        self.transitions = 0
        self.reports = 0
        self.lvs = 0

    def batch(self, lines: list[bytes]) -> None:
        """Handle one batch of lines, in order."""
        events: list[StateEvent] = []
        reports: list[ReportEvent] = []
        stamp = received_now()
        for raw in lines:
            self.lines += 1
            try:
                line = parse_line(raw)
            except FifoLineError as exc:
                self.refused += 1
                self.metrics.line("refused")
                logger.warning(f"{exc}; skipped")
                continue
            # One receive stamp per batch, its monotonic part nudged per line so that the
            # lines of one read keep keepalived's order wherever events are sorted.
            when = {**stamp, "mono": float(stamp["mono"]) + (len(events) + len(reports)) * 1e-6}
            if isinstance(line, LvsLine):
                self.lvs += 1
                self.metrics.line("lvs")
                reports.append(lvs_report(line, when))
                continue
            self.metrics.line("vrrp")
            self.states[(line.kind, line.name)] = line.state
            self.metrics.transition(line.kind, line.name, line.state)
            if not line.transition:
                self.reports += 1
                reports.append(priority_report(line, when))
                continue
            events.append(
                StateEvent(
                    kind=line.kind,
                    name=line.name,
                    state=line.state,
                    priority=line.priority,
                    time=float(stamp["time"]),
                    boot=str(stamp["boot"]),
                    mono=float(when["mono"]),
                )
            )
        if events or reports:
            self.apply(events, reports)

    def all_stopped(self) -> bool:
        """True once every instance and group seen has reported STOP (or was deleted)."""
        return bool(self.states) and all(
            state in ("STOP", "DELETED") for state in self.states.values()
        )

    # -- one batch of changes --------------------------------------------------------------

    def apply(self, events: list[StateEvent], reports: list[ReportEvent] | None = None) -> None:
        """Record, hook and release a batch of changes and reports (see the module doc)."""
        reports = reports or []
        self.transitions += len(events)
        channels = [self.config.channels_for(event.state, event.name) for event in events]
        targets = [self.report_channels(report) for report in reports]
        ids = self._record([*events, *reports], [*channels, *targets])
        outcomes = self._hooks(events) if events else []
        if ids is not None and events:
            try:
                self._open().finish_hooks_many(
                    [
                        (event_id, lines, False)
                        for event_id, (lines, _) in zip(ids[: len(events)], outcomes, strict=True)
                    ]
                )
            except StateError as exc:
                # The messages stay held: the worker sends them later, saying the hooks'
                # outcome was not recorded.
                logger.error(f"cannot record the hooks' outcome of {len(events)} event(s): {exc}")
                self._close()
        elif ids is None:
            self._send_directly(events, channels, outcomes)
            self._send_reports_directly(reports, targets)
        last = {(event.kind, event.name): event for event in events}
        for event, chosen, (lines, failed) in zip(events, channels, outcomes, strict=True):
            # A superseded change is in the outbox and in the alert; one line per instance and
            # read keeps a flood of changes from flooding the log too.
            superseded = last[(event.kind, event.name)] is not event
            log = logger.error if failed else logger.debug if superseded else logger.info
            prio = f" prio {event.priority}" if event.priority >= 0 else ""
            queued = f"queued for {', '.join(chosen)}" if chosen else "no alert channels"
            took = (time.time() - event.time) * 1000
            log(
                f"{event.label()} {event.state}{prio}: {'; '.join(lines) or 'no hooks'}; {queued} ({took:.0f} ms)"
            )
        self._log_reports(reports, targets)
        if any(channels) or any(targets):
            self.wake_delivery()

    def report_channels(self, report: ReportEvent) -> list[str]:
        """The channels an LVS or priority event alerts (a priority only where a rule asks)."""
        instances = (report.name,) if report.kind == PRIORITY_KIND else ()
        return self.config.channels_for_events((report.event,), instances=instances)

    def _log_reports(self, reports: list[ReportEvent], targets: list[list[str]]) -> None:
        """LVS events at info, priority reports at debug; a flood of one server's or one
        instance's reports in one read logs its last at that level, the others at debug."""
        last = {(report.kind, report.name): report for report in reports}
        for report, chosen in zip(reports, targets, strict=True):
            quiet = report.kind == PRIORITY_KIND or last[(report.kind, report.name)] is not report
            queued = f"queued for {', '.join(chosen)}" if chosen else "recorded, no alert channels"
            (logger.debug if quiet else logger.info)(f"{report.cause}: {queued}")

    def _open(self) -> Outbox:
        if self._outbox is None:
            from kakit.alerts.outbox import Outbox

            self._outbox = Outbox(self.config.outbox_path())
        return self._outbox

    def _close(self) -> None:
        if self._outbox is not None:
            self._outbox.close()
            self._outbox = None

    def _record(
        self, events: list[StateEvent | ReportEvent], channels: list[list[str]]
    ) -> list[int] | None:
        """Store the batch in one transaction; None (logged) when the outbox cannot take it."""
        from kakit.kanotify.handle import due_time

        coalesce = self.config.outbox.coalesce
        try:
            outbox = self._open()
            before: dict[tuple[str, str], StateEvent | ReportEvent | None] = {}
            items: list[tuple[StateEvent | ReportEvent, list[str], float]] = []
            for event, targets in zip(events, channels, strict=True):
                key = (event.kind, event.name)
                if key not in before:
                    newest = outbox.newest_event(event.kind, event.name)
                    before[key] = newest[1] if newest else None
                items.append((event, targets, due_time(before[key], event, coalesce)))
                before[key] = event
            return outbox.add_events(items, self.node)
        except StateError as exc:
            logger.error(
                f"{len(events)} event(s) could not be stored, hooks are applied anyway and "
                f"alerts sent directly: {exc}"
            )
            self._close()
            return None

    def _hooks(self, events: list[StateEvent]) -> list[tuple[list[str], bool]]:
        """Apply the last change of each instance, in order; ``(outcome lines, failed)`` each."""
        from kakit.hooks.base import StateChange
        from kakit.kanotify.applied import AppliedStates
        from kakit.kanotify.handle import LOCK_WAIT, notify_lock

        if self.plan is None:
            return [([], False) for _ in events]  # no states section: nothing to apply
        last = {(event.kind, event.name): index for index, event in enumerate(events)}
        try:
            lock = notify_lock(self.config, LOCK_WAIT)
        except StateError as exc:
            lock, problem = None, str(exc)
        else:
            problem = f"another kanotify held the notify lock for {LOCK_WAIT:g} s"
        if lock is None:
            self.metrics.hook_failures += len(last)
            return [([f"hooks NOT applied: {problem}"], True) for _ in events]
        outcomes: list[tuple[list[str], bool]] = []
        try:
            memory = AppliedStates(self.config.paths.state_dir)
            for index, event in enumerate(events):
                final = events[last[(event.kind, event.name)]]
                if final is not event:
                    outcomes.append(
                        (
                            [
                                f"hooks skipped: {final.state}, read later in the same batch, was applied"
                            ],
                            False,
                        )
                    )
                    continue
                applied = memory.read(event.kind, event.name)
                previous = (
                    events[index - 1].state
                    if index and events[index - 1].name == event.name
                    else None
                )
                results = self.plan.apply(
                    StateChange(
                        event=event,
                        previous=previous or (applied.state if applied else None),
                        node=self.node,
                        leaving=applied.state if applied else None,
                    )
                )
                try:
                    memory.write(event)
                except StateError as exc:
                    logger.error(f"cannot remember the applied state: {exc}")
                failed = any(not outcome.ok for outcome in results)
                self.metrics.hook_failures += sum(1 for outcome in results if not outcome.ok)
                outcomes.append(([outcome.summary for outcome in results], failed))
        finally:
            lock.release()
        return outcomes

    def _send_directly(
        self,
        events: list[StateEvent],
        channels: list[list[str]],
        outcomes: list[tuple[list[str], bool]],
    ) -> None:
        """The outbox took nothing: send the last change of each instance now."""
        from kakit.kanotify.handle import Notification

        last = {(event.kind, event.name): index for index, event in enumerate(events)}
        for index in sorted(last.values()):
            if not channels[index]:
                continue
            run = Notification(self.config, events[index])
            run.outcomes = outcomes[index][0]
            run.send_directly()

    def _send_reports_directly(self, reports: list[ReportEvent], channels: list[list[str]]) -> None:
        """The outbox took nothing: send the last report of each server or instance now."""
        from kakit.alerts.alert import Alert
        from kakit.alerts.direct import send_now
        from kakit.kanotify.handle import DIRECT_BUDGET

        last = {(report.kind, report.name): index for index, report in enumerate(reports)}
        for index in sorted(last.values()):
            if not channels[index]:
                continue
            alert = Alert.of_report([reports[index]], node=self.node)
            for channel, (ok, answer) in send_now(
                self.config, alert, channels[index], DIRECT_BUDGET
            ).items():
                log = logger.warning if ok else logger.error
                log(
                    f"{alert.label}: alert {'sent directly' if ok else 'LOST'} for {channel}: {answer}"
                )

    def close(self) -> None:
        """Close the outbox."""
        self._close()


def _reader_lock(config: Config) -> FileLock:
    """The lock that makes this the only reader, waited for as long as it takes."""
    directory = ensure_dir(config.paths.state_dir, 0o755)
    lock = FileLock(os.path.join(directory, "fifo-reader.lock"))
    if not lock.try_acquire():
        logger.info(f"another FIFO reader holds {lock.path}: waiting for it to finish")
        while not lock.acquire(LOCK_NOTICE):
            logger.warning(f"still waiting for {lock.path}; keepalived's lines wait in the pipe")
    return lock


def read_fifo(config: Config, path: str | None, *, reconcile_every: float | None = None) -> int:
    """Read the FIFO until SIGTERM; returns the exit code.

    Args:
        config: The loaded configuration.
        path: The FIFO (keepalived's last argument), or None for ``fifo.path``.
        reconcile_every: Seconds between reconciles (default ``fifo.reconcile``).

    Raises:
        StateError: The FIFO cannot be created or opened, or is not root's alone.
    """
    fifo = path or config.fifo.path
    reconcile_every = config.fifo.reconcile if reconcile_every is None else reconcile_every
    lock = _reader_lock(config)
    try:
        ensure_dir(config.paths.data_dir, 0o755)  # the outbox and the delivery lock live there
        if not os.path.exists(fifo):
            ensure_dir(os.path.dirname(os.path.abspath(fifo)), 0o755)
        source = FifoSource(fifo, create=True)
        source.open()
        logger.info(f"reading keepalived's notify FIFO {fifo}")
        handler = LineHandler(config)
        try:
            asyncio.run(_run(source, handler, reconcile_every))
        finally:
            source.close()
        logger.info(
            f"FIFO reader stopped: {handler.lines} lines read ({handler.transitions} changes of "
            f"state, {handler.reports} priority reports, {handler.lvs} LVS, "
            f"{handler.refused} not understood)"
        )
        if config.channels:
            # Alerts of the last moments (keepalived's STOP) may still be waiting: a detached
            # worker sends them, outside keepalived's process group, which is killed next.
            from kakit.alerts.detach import spawn_worker

            spawn_worker(config.source)
        return EXIT_OK
    finally:
        lock.release()


class Backlog:
    """Lines read but not handled yet, between the loop that drains the FIFO and the thread
    that handles them.

    Draining is the loop's only job while a batch is handled (hooks, SQLite, fsync), so the pipe
    is emptied as fast as keepalived fills it whatever a batch costs. The backlog is bounded:
    past :data:`MAX_BACKLOG` lines new ones are counted and dropped with an error, which only a
    reader stuck for minutes under a flood can reach.
    """

    def __init__(self) -> None:
        self.batches: deque[list[bytes]] = deque()
        self.size = 0
        self.dropped = 0
        self.ready = asyncio.Event()
        self.closing = False

    def add(self, lines: list[bytes]) -> None:
        if self.size + len(lines) > MAX_BACKLOG:
            if not self.dropped:
                logger.error(f"the reader is {self.size} lines behind: dropping lines")
            self.dropped += len(lines)
            return
        self.batches.append(lines)
        self.size += len(lines)
        self.ready.set()

    def take(self) -> list[bytes]:
        taken: list[bytes] = []
        while self.batches:
            taken += self.batches.popleft()
        self.size = 0
        return taken


class Journal:
    """The lines read from the FIFO and not yet stored, in a file, so that SIGKILL loses none.

    The loop appends every read to ``<state_dir>/fifo-journal`` before handing it on (one
    ``write()``: the page cache survives the process), and records in ``fifo-journal.done``
    how far the stored batches reach. The next reader replays the rest first. A reader killed
    after a batch was stored but before ``.done`` was written replays that batch again: at most
    one batch of duplicate events, and their hooks are idempotent. Only the loop's thread
    touches the journal. When everything read is stored it is emptied, so it stays small.
    """

    def __init__(self, directory: str) -> None:
        self.path = os.path.join(directory, "fifo-journal")
        self.done_path = self.path + ".done"
        self.fd = -1
        self.written = 0

    def open(self) -> list[bytes]:
        """Open the journal; returns the lines a previous reader read and did not store."""
        flags = os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            with open(os.open(self.path, os.O_RDONLY | flags), "rb") as handle:
                data = handle.read()
            with open(os.open(self.done_path, os.O_RDONLY | flags), "rb") as handle:
                done = int(handle.read().strip() or 0)
        except (OSError, ValueError):
            data, done = b"", 0
        rest = data[done:] if 0 <= done <= len(data) else data
        rest = rest[: rest.rfind(b"\n") + 1]  # a line cut by the kill is not a line
        try:
            self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | flags, 0o600)
            self._done(0)
            self._write(rest)
        except (OSError, StateError) as exc:
            self._give_up(exc)
        return rest.split(b"\n")[:-1]

    def append(self, lines: list[bytes]) -> None:
        """Keep ``lines`` until :meth:`stored` says they are in the outbox."""
        if self.fd >= 0:
            try:
                self._write(b"".join(line + b"\n" for line in lines))
            except OSError as exc:
                self._give_up(exc)

    def stored(self, offset: int, everything: bool) -> None:
        """The journal up to ``offset`` is stored; ``everything``: nothing else is pending."""
        if self.fd < 0:
            return
        try:
            if everything and offset == self.written:
                os.ftruncate(self.fd, 0)
                self.written = 0
                offset = 0
            self._done(offset)
        except (OSError, StateError) as exc:
            self._give_up(exc)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            count = os.write(self.fd, view)
            view = view[count:]
            self.written += count

    def _done(self, offset: int) -> None:
        from kakit.core.fsutil import atomic_write

        atomic_write(self.done_path, f"{offset}\n", 0o600)

    def _give_up(self, exc: OSError | StateError) -> None:
        logger.error(
            f"FIFO journal {self.path} unusable, lines read are kept in memory only: {exc}"
        )
        self.close()


async def _handle_backlog(backlog: Backlog, handler: LineHandler, journal: Journal) -> None:
    """Hand the backlog to the handler in its thread, one batch at a time, in order, until the
    reader closes and the backlog is empty.

    Always the same thread: the handler keeps its SQLite connection, which may only be used by
    the thread that opened it.
    """
    from concurrent.futures import ThreadPoolExecutor

    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="kakit-fifo") as thread:
        while True:
            await backlog.ready.wait()
            backlog.ready.clear()
            while backlog.batches:
                offset = journal.written
                await loop.run_in_executor(thread, handler.batch, backlog.take())
                journal.stored(offset, everything=not backlog.batches)
            if backlog.closing:
                await loop.run_in_executor(thread, handler.close)
                return


async def _run(source: FifoSource, handler: LineHandler, interval: float) -> None:
    stop = asyncio.Event()
    wake = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    def wake_delivery() -> None:  # called from the handler's thread
        loop.call_soon_threadsafe(wake.set)

    handler.wake_delivery = wake_delivery
    backlog = Backlog()
    journal = Journal(handler.config.paths.state_dir)
    replay = journal.open()
    if replay:
        logger.warning(f"replaying {len(replay)} line(s) a reader read and did not store")
        backlog.add(replay)

    def read(lines: list[bytes]) -> None:
        journal.append(lines)
        backlog.add(lines)

    async with asyncio.TaskGroup() as group:
        worker = group.create_task(_handle_backlog(backlog, handler, journal))
        helpers = [group.create_task(_reconcile_every(handler, interval, stop))]
        if handler.config.channels:
            from kakit.alerts.delivery import deliver_on_wake

            helpers.append(group.create_task(deliver_on_wake(handler.config, wake, DELIVERY_IDLE)))
        server = await _serve_metrics(handler)
        if handler.config.fifo.textfile:
            helpers.append(group.create_task(_write_textfile(handler)))
        if handler.config.fifo.split_brain is not None:
            from kakit.vrrp.splitbrain import watch

            split_brain = watch(handler.config, handler.config.fifo.split_brain, wake.set, stop)
            helpers.append(group.create_task(split_brain))
        try:
            await follow(source, read, stop, finished=handler.all_stopped)
        finally:
            backlog.closing = True
            backlog.ready.set()
            await worker  # every line read is handled before the reader exits
            for task in helpers:
                task.cancel()
            if server is not None:
                server.close()
            journal.close()
    if backlog.dropped:
        logger.error(f"{backlog.dropped} lines were dropped while the reader was behind")


async def _reconcile_every(handler: LineHandler, interval: float, stop: asyncio.Event) -> None:
    """Reconcile at start and every ``interval`` seconds until stopped."""
    from kakit.alerts.delivery import until
    from kakit.exceptions import KakitError
    from kakit.kanotify.reconcile import converge, reconcile

    while not stop.is_set():
        try:
            # In a thread, as batches are: the loop keeps draining the FIFO meanwhile. The
            # notify lock keeps a reconcile and a batch's hooks apart.
            drift = await asyncio.to_thread(reconcile, handler.config)
            if drift:
                handler.metrics.drift_corrected += 1
            if await asyncio.to_thread(converge, handler.config):
                handler.wake_delivery()
        except KakitError as exc:
            logger.error(f"reconcile failed: {exc}")
        await until(stop, interval)


def exposition(handler: LineHandler) -> str:
    """The metrics text: the handler's counters and the outbox per channel."""
    from kakit.alerts.outbox import Outbox
    from kakit.kanotify.metrics import ChannelStats

    channels: dict[str, ChannelStats] = {}
    try:
        with Outbox(handler.config.outbox_path()) as outbox:
            for name, (waiting, oldest, sent, failed) in outbox.channel_stats(time.time()).items():
                channels[name] = ChannelStats(
                    pending=waiting, oldest=oldest, sent=sent, failed=failed
                )
    except StateError as exc:
        logger.debug(f"metrics without the outbox: {exc}")
    return handler.metrics.render(channels)


async def _serve_metrics(handler: LineHandler) -> asyncio.Server | None:
    """The Prometheus endpoint (``fifo.metrics_address``), or None when off or the port is taken.

    A port already in use costs the metrics, never the reader: hooks and alerts go on.
    """
    from kakit.kanotify.metrics import serve

    settings = handler.config.fifo
    if settings.metrics_address is None:
        return None
    try:
        return await serve(
            lambda: exposition(handler), settings.metrics_address, settings.metrics_port
        )
    except OSError as exc:
        logger.error(
            f"no metrics endpoint on {settings.metrics_address}:{settings.metrics_port}: "
            f"{exc.strerror or exc}"
        )
        return None


async def _write_textfile(handler: LineHandler) -> None:
    """Write the metrics to ``fifo.textfile`` every :data:`TEXTFILE_EVERY` seconds."""
    from kakit.core.fsutil import atomic_write

    path = handler.config.fifo.textfile
    while path is not None:
        try:
            # 0644: node_exporter reads it as its own user.
            await asyncio.to_thread(atomic_write, path, exposition(handler), 0o644)
        except StateError as exc:
            logger.error(f"metrics text file: {exc}")
        await asyncio.sleep(TEXTFILE_EVERY)
