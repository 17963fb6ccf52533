"""``kanotify --fifo``: the resident reader of keepalived's notify FIFO.

keepalived writes every event to its notify FIFO in the order it happened, which the notify
scripts it forks cannot give (docs/kanotify.md, "The notify FIFO"). The reader runs either as
keepalived's ``notify_fifo_script`` (keepalived appends the FIFO's path to the command line and
SIGTERMs the reader at every reload and stop) or as a service started before keepalived (it then
creates the FIFO, and keepalived reuses it).

Each VRRP transition goes through the same path as a notify-script event
(:func:`kakit.kanotify.handle.handle_event`: outbox, newest-event hooks under the notify lock),
one line after the other, so hooks follow keepalived's order. Priority reports are logged. Lines
that are none of keepalived's formats are logged with their bytes and skipped.

Only one reader reads at a time: at a reload keepalived starts the new reader while the old one
still reads on for its grace period, and two readers would split the lines between them. The
second waits for the first's lock; meanwhile keepalived's lines wait in the pipe.
"""

from __future__ import annotations

import asyncio
import os
import signal

from kakit.core.events import StateEvent, received_now
from kakit.core.fsutil import ensure_dir
from kakit.core.locks import FileLock
from kakit.core.log import logger
from kakit.exceptions import EXIT_OK
from kakit.kanotify.fifo import FifoSource, follow
from kakit.keepalived.fifo import FifoLineError, LvsLine, parse_line

TYPE_CHECKING = False
if TYPE_CHECKING:
    from kakit.config import Config

#: Where the reader creates the FIFO when it runs as a service and no path is given.
DEFAULT_FIFO = "/run/kakit.fifo"
#: Seconds between "still waiting for the other reader" lines.
LOCK_NOTICE = 60.0


class LineHandler:
    """Turns batches of FIFO lines into recorded events, hooks and alerts, in order.

    Args:
        config: The loaded configuration.
        start_worker: Start the delivery worker after a batch that queued alerts.
    """

    def __init__(self, config: Config, *, start_worker: bool = True) -> None:
        from kakit.kanotify.metrics import Metrics

        self.config = config
        self.start_worker = start_worker
        self.metrics = Metrics(flap_window=max(config.outbox.coalesce, 10.0))
        #: The last state each instance and group reported, by ``(kind, name)``.
        self.states: dict[tuple[str, str], str] = {}
        self.lines = 0
        self.refused = 0
        self.transitions = 0
        self.reports = 0
        self.lvs = 0

    def batch(self, lines: list[bytes]) -> None:
        """Handle one batch of lines, in order."""
        from kakit.kanotify.handle import handle_event

        transitions = 0
        for raw in lines:
            self.lines += 1
            try:
                line = parse_line(raw)
            except FifoLineError as exc:
                self.refused += 1
                self.metrics.line("refused")
                logger.warning(f"{exc}; skipped")
                continue
            if isinstance(line, LvsLine):
                self.lvs += 1
                self.metrics.line("lvs")
                server = f"real server {line.real} of {line.virtual}" if line.real else line.virtual
                logger.info(f"LVS {server} {'UP' if line.up else 'DOWN'}")
                continue
            self.metrics.line("vrrp")
            self.states[(line.kind, line.name)] = line.state
            self.metrics.transition(line.kind, line.name, line.state)
            if not line.transition:
                self.reports += 1
                logger.debug(f"{line.kind} {line.name} {line.word} {line.priority}")
                continue
            event = StateEvent(
                kind=line.kind,
                name=line.name,
                state=line.state,
                priority=line.priority,
                **received_now(),  # type: ignore[arg-type]
            )
            handle_event(self.config, event, start_worker=False)
            transitions += 1
            self.transitions += 1
        if transitions and self.start_worker and self.config.channels:
            from kakit.alerts.detach import spawn_worker

            spawn_worker(self.config.source)

    def all_stopped(self) -> bool:
        """True once every instance and group seen has reported STOP (or was deleted)."""
        return bool(self.states) and all(
            state in ("STOP", "DELETED") for state in self.states.values()
        )


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
        path: The FIFO (keepalived's last argument), or None for :data:`DEFAULT_FIFO`.
        reconcile_every: Seconds between reconciles (default
            :data:`kakit.kanotify.reconcile.INTERVAL`).

    Raises:
        StateError: The FIFO cannot be created or opened, or is not root's alone.
    """
    from kakit.kanotify.reconcile import INTERVAL

    fifo = path or DEFAULT_FIFO
    reconcile_every = INTERVAL if reconcile_every is None else reconcile_every
    lock = _reader_lock(config)
    try:
        if not os.path.exists(fifo):
            ensure_dir(os.path.dirname(os.path.abspath(fifo)), 0o755)
        source = FifoSource(fifo, create=True)
        source.open()
        handler = LineHandler(config)
        logger.info(f"reading keepalived's notify FIFO {fifo}")
        try:
            asyncio.run(_follow(source, handler, reconcile_every))
        finally:
            source.close()
        logger.info(
            f"FIFO reader stopped: {handler.lines} lines read ({handler.transitions} changes of "
            f"state, {handler.reports} priority reports, {handler.lvs} LVS, "
            f"{handler.refused} not understood)"
        )
        return EXIT_OK
    finally:
        lock.release()


async def _follow(source: FifoSource, handler: LineHandler, interval: float) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with asyncio.TaskGroup() as group:
        reconciler = group.create_task(_reconcile_every(handler.config, interval, stop))
        try:
            await follow(source, handler.batch, stop, finished=handler.all_stopped)
        finally:
            reconciler.cancel()


async def _reconcile_every(config: Config, interval: float, stop: asyncio.Event) -> None:
    """Reconcile at start and every ``interval`` seconds until stopped.

    Runs between batches on the reader's loop: a reconcile holds it for the time a state's hooks
    take, as one event does, and keepalived's lines wait in the pipe meanwhile.
    """
    from kakit.exceptions import KakitError
    from kakit.kanotify.reconcile import reconcile

    while not stop.is_set():
        try:
            reconcile(config)
        except KakitError as exc:
            logger.error(f"reconcile failed: {exc}")
        try:
            await asyncio.wait_for(stop.wait(), interval)
        except TimeoutError:
            pass
