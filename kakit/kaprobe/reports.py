"""What kaprobe says besides its track files: alerts and metrics, on a thread of their own.

BFD's timing runs on the main thread's event loop (:mod:`kakit.kaprobe.runtime`) and must never
wait for a disk or a network. Everything else kaprobe reports runs on a second thread with its
own asyncio loop:

- a session going Up or Down is stored in kakit's outbox (SQLite, fsynced) as a ``bfd_up`` or
  ``bfd_down`` event, routed by the ``alerts`` rules, and delivered from there by the same
  in-process task the FIFO reader runs (:func:`kakit.alerts.delivery.deliver_on_wake`);
- the Prometheus endpoint and the node_exporter text file (:mod:`kakit.kaprobe.metrics`).

The timing loop hands an event over with one ``call_soon_threadsafe`` (a write to the other
loop's wake-up pipe) and never waits for this thread. The two threads share the GIL, which
Python hands over at least every switch interval (kaprobe sets 1 ms, :data:`SWITCH_INTERVAL`).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading

from kakit.core.events import BFD_KIND, received_now
from kakit.core.log import logger
from kakit.core.record import frozen
from kakit.exceptions import KakitError, StateError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from kakit.config import Config

#: Seconds between two looks at the outbox when nothing woke the delivery task.
DELIVERY_IDLE = 10.0
#: Seconds between two writes of the metrics text file.
TEXTFILE_EVERY = 15.0
#: Seconds a direct send (the outbox could not store the alert) may take per channel.
DIRECT_BUDGET = 10.0
#: Seconds :meth:`Reports.stop` waits for stored events to be written.
STOP_WAIT = 10.0
#: The GIL switch interval kaprobe runs with: the longest the reports thread can keep the timing
#: loop from running (Python's default is 5 ms, a third of a 5 ms x 3 detection time).
SWITCH_INTERVAL = 0.001
#: SCHED_FIFO priority of the reports thread under ``--realtime`` (the timing loop has 50).
REPORTS_PRIORITY = 1


@frozen
class SessionEvent:
    """A BFD session went Up or Down, as the alert says it.

    Attributes:
        session: The session's name, ``local->peer``.
        event: ``bfd_up`` or ``bfd_down``.
        cause: One line naming the peer, the local address, the diagnostic and the detection
            time.
        track_file: The session's track file (instances tracking it select ``alerts`` rules).
        stamp: When it happened (:func:`kakit.core.events.received_now`).
    """

    session: str
    event: str
    cause: str
    track_file: str | None
    stamp: dict[str, float | str]


class Reports:
    """The reports thread: outbox writes and delivery, the metrics endpoint and text file.

    Args:
        config: The loaded configuration.
        metrics: Returns the metrics text (called on the reports thread).
    """

    def __init__(self, config: Config, metrics: Callable[[], str]) -> None:
        self.config = config
        self.metrics = metrics
        self.alerting = bool(config.alerts and config.channels)
        self.stored = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[SessionEvent | None] | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="kaprobe-reports", daemon=True)

    @staticmethod
    def wanted(config: Config) -> bool:
        """Whether ``config`` asks for anything the reports thread does."""
        settings = config.probe_settings()
        return bool(
            (config.alerts and config.channels)
            or settings.metrics_address is not None
            or settings.textfile
        )

    def start(self) -> None:
        """Start the thread and wait until it takes events."""
        sys.setswitchinterval(SWITCH_INTERVAL)
        if self.alerting:
            # The delivery worker's imports (httpx...) are paid here, once, not when the first
            # session goes Down.
            import kakit.alerts.delivery  # noqa: F401
        self._thread.start()
        self._ready.wait()

    def event(self, event: SessionEvent) -> None:
        """Hand ``event`` to the thread; returns at once (call from the timing loop)."""
        if self.alerting and self._loop is not None and self._queue is not None:
            try:
                self._loop.call_soon_threadsafe(self._queue.put_nowait, event)
            except RuntimeError:  # the thread's loop is closed: it died
                logger.error(f"{event.session}: {event.event} alert LOST: no reports thread")

    def stop(self) -> None:
        """Write the events handed over so far, stop the thread, and leave what is not
        delivered yet to a detached delivery worker."""
        if self._loop is not None and self._queue is not None:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, None)
        self._thread.join(STOP_WAIT)
        if self._thread.is_alive():
            logger.error("kaprobe's reports thread did not finish: events may be unstored")
        if self.stored:
            from kakit.alerts.detach import spawn_worker

            try:
                spawn_worker(self.config.source)
            except OSError as exc:
                logger.error(f"cannot start the delivery worker: {exc}")

    # -- the thread ------------------------------------------------------------------------

    def _main(self) -> None:
        import os

        # A thread inherits kaprobe --realtime's SCHED_FIFO priority. This one goes to the
        # lowest real-time priority: below the timing loop, which preempts it at once, but
        # above ordinary processes, which must never keep it off the CPU while it holds the GIL
        # the timing loop is waiting for (at normal priority a busy machine could, for tens of
        # milliseconds: a priority inversion through the GIL).
        with contextlib.suppress(OSError):
            if os.sched_getscheduler(0) in (os.SCHED_FIFO, os.SCHED_RR):
                os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(REPORTS_PRIORITY))
        try:
            asyncio.run(self._run())
        finally:
            self._ready.set()  # never leave start() waiting, whatever happened

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        wake = asyncio.Event()
        self._ready.set()
        settings = self.config.probe_settings()
        helpers: list[asyncio.Task[None]] = []
        server = None
        async with asyncio.TaskGroup() as group:
            if self.alerting:
                from kakit.alerts.delivery import deliver_on_wake

                helpers.append(group.create_task(deliver_on_wake(self.config, wake, DELIVERY_IDLE)))
            if settings.metrics_address is not None:
                server = await self._serve(settings.metrics_address, settings.metrics_port)
            if settings.textfile:
                helpers.append(group.create_task(self._write_textfile(settings.textfile)))
            try:
                while (event := await self._queue.get()) is not None:
                    if await self._store(event):
                        wake.set()
            finally:
                for task in helpers:
                    task.cancel()
                if server is not None:
                    server.close()

    async def _serve(self, address: str, port: int) -> asyncio.Server | None:
        """The endpoint, or None when the port is taken (the metrics are lost, BFD goes on)."""
        from kakit.kanotify.metrics import serve

        try:
            return await serve(self.metrics, address, port)
        except OSError as exc:
            logger.error(f"no metrics endpoint on {address}:{port}: {exc.strerror or exc}")
            return None

    async def _write_textfile(self, path: str) -> None:
        from kakit.core.fsutil import atomic_write

        while True:
            try:
                # 0644: node_exporter reads it as its own user.
                atomic_write(path, self.metrics(), 0o644)
            except StateError as exc:
                logger.error(f"metrics text file: {exc}")
            await asyncio.sleep(TEXTFILE_EVERY)

    async def _store(self, event: SessionEvent) -> bool:
        """Route and store one event; True when it is in the outbox, waiting for delivery.

        An alert the outbox cannot take is sent at once instead (lose no alert).
        """
        config = self.config
        instances: tuple[str, ...] = ()
        if event.track_file and any(route.instances for route in config.alerts):
            from kakit.keepalived.conf import instances_tracking_file, load

            document = load(config.keepalived.config)
            instances = tuple(i.name for i in instances_tracking_file(document, event.track_file))
        channels = config.channels_for_events((event.event,), instances=instances)
        if not channels:
            return False
        from kakit.alerts.outbox import queue_event

        try:
            queue_event(
                config,
                event.session,
                (event.event,),
                event.cause,
                channels,
                kind=BFD_KIND,
                stamp=event.stamp,
            )
        except StateError as exc:
            logger.error(f"{event.session}: {event.event} not stored, sending it now: {exc}")
            await self._send_directly(event, channels)
            return False
        self.stored += 1
        logger.info(f"{event.session}: {event.event} alert queued for {', '.join(channels)}")
        return True

    async def _send_directly(self, event: SessionEvent, channels: list[str]) -> None:
        from kakit.alerts.alert import Alert
        from kakit.alerts.direct import send_now

        alert = Alert.of_check(
            event.session,
            (event.event,),
            node=self.config.node_name(),
            cause=event.cause,
            time=float(event.stamp["time"]),
            kind="BFD",
        )
        try:
            results = await asyncio.to_thread(send_now, self.config, alert, channels, DIRECT_BUDGET)
        except KakitError as exc:
            logger.error(f"{event.session}: {event.event} alert LOST: {exc}")
            return
        for channel, (ok, answer) in results.items():
            if not ok:
                logger.error(f"{event.session}: {event.event} alert LOST on {channel}: {answer}")


def session_event(session: str, event: str, cause: str, track_file: str | None) -> SessionEvent:
    """A :class:`SessionEvent` stamped now."""
    return SessionEvent(
        session=session, event=event, cause=cause, track_file=track_file, stamp=received_now()
    )
