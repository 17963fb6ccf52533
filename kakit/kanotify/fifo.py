"""Reading keepalived's notify FIFO: open it safely, drain it fast, follow it across reloads.

:class:`FifoSource` is the FIFO itself. keepalived holds the FIFO open read-write and silently
drops lines once the pipe holds 64 KiB, so the reader drains whatever is there on every wake-up
and hands the lines on in one batch. :func:`follow` is the loop around it (docs/kanotify.md,
"The notify FIFO"):

- The FIFO is opened read-write, as keepalived does: the reader never sees end-of-file, and so
  never spins, while keepalived restarts or reloads.
- Lines written into the FIFO become hooks run as root, so the FIFO must be root's and writable
  by nobody else. A symbolic link is refused (``O_NOFOLLOW``), as keepalived refuses it.
- keepalived recreates the FIFO at reload when it created it. Run as a service, the reader
  checks every second whether the path now names another FIFO, drains the old one and opens the
  new one. Run as keepalived's ``notify_fifo_script``, it is restarted by keepalived instead.
- On SIGTERM keepalived is stopping or reloading, and writes its STOP lines *after* the signal:
  the reader goes on reading for ``grace`` seconds (keepalived kills it after one second), or
  until every instance and group it knows of has reported STOP.
"""

from __future__ import annotations

import asyncio
import os
import stat
import time

from kakit.core.log import logger
from kakit.core.trust import require_safe
from kakit.exceptions import StateError
from kakit.keepalived.fifo import LineSplitter

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

#: One ``read()``: the pipe's whole default capacity, so one wake-up usually empties it.
CHUNK = 65536
#: Seconds between checks that the path still names the FIFO being read.
RECHECK = 1.0
#: Seconds between looks at ``finished`` while reading on after SIGTERM.
STOP_POLL = 0.05
#: Seconds to read on after SIGTERM: keepalived sends SIGKILL one second after SIGTERM.
GRACE = 0.8


class FifoSource:
    """keepalived's notify FIFO, opened for reading.

    Args:
        path: The FIFO's path.
        create: Create the FIFO (mode 0600) when it is missing: the reader runs as a service
            and may start before keepalived, which then reuses it.
    """

    def __init__(self, path: str, *, create: bool = False) -> None:
        self.path = path
        self.create = create
        self.fd = -1
        self.identity: tuple[int, int] = (0, 0)
        self.splitter = LineSplitter()

    def open(self) -> None:
        """Open the FIFO (creating it if asked); refuse one that someone else could write.

        Raises:
            StateError: The path is missing, not a FIFO, a link, or not root's alone.
        """
        self.fd, self.identity = self._open()

    def reopen(self) -> list[bytes]:
        """Switch to the FIFO the path names now; returns the old one's last lines.

        The new FIFO is opened before the old one is closed: if it is refused, reading goes on
        from the old one and the error is raised.
        """
        fd, identity = self._open()
        tail = self.read()
        os.close(self.fd)
        self.fd, self.identity = fd, identity
        return tail

    def _open(self) -> tuple[int, tuple[int, int]]:
        directory = os.path.dirname(os.path.abspath(self.path))
        require_safe(directory, "FIFO directory")
        if self.create:
            try:
                os.mkfifo(self.path, 0o600)
            except FileExistsError:
                pass
            except OSError as exc:
                raise StateError(f"cannot create FIFO {self.path}: {exc.strerror}") from exc
        flags = os.O_RDWR | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(self.path, flags)
        except OSError as exc:
            raise StateError(f"cannot open FIFO {self.path}: {exc.strerror}") from exc
        info = os.fstat(fd)
        why = _why_refused(info)
        if why is not None:
            os.close(fd)
            raise StateError(f"refusing FIFO {self.path}: {why}")
        return fd, (info.st_dev, info.st_ino)

    def read(self) -> list[bytes]:
        """Every complete line the pipe holds now (without newlines), in order."""
        lines: list[bytes] = []
        while True:
            try:
                data = os.read(self.fd, CHUNK)
            except BlockingIOError:
                return lines
            except InterruptedError:
                continue
            if not data:  # only if a reader opened it read-only; we hold a write end
                return lines
            lines += self.splitter.feed(data)

    def replaced(self) -> bool:
        """True when the path no longer names the FIFO being read (keepalived recreated it)."""
        try:
            info = os.stat(self.path, follow_symlinks=False)
        except OSError:
            return False  # removed: keepalived is between closing and recreating it
        return (info.st_dev, info.st_ino) != self.identity

    def close(self) -> None:
        """Close the FIFO (the path stays: keepalived may still be writing to it)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _why_refused(info: os.stat_result) -> str | None:
    if not stat.S_ISFIFO(info.st_mode):
        return "not a FIFO"
    owners = {0, os.geteuid()}
    if info.st_uid not in owners:
        return f"owned by uid {info.st_uid}, not root"
    if stat.S_IMODE(info.st_mode) & 0o022:
        return f"writable by group or others (mode {stat.S_IMODE(info.st_mode):04o})"
    return None


async def follow(
    source: FifoSource,
    handle: Callable[[list[bytes]], None],
    stop: asyncio.Event,
    *,
    finished: Callable[[], bool] = lambda: False,
    grace: float = GRACE,
    recheck: float | None = RECHECK,
) -> None:
    """Hand every line of ``source`` to ``handle``, batch by batch, until stopped.

    Args:
        source: The FIFO, opened.
        handle: Called with each batch of lines, in order; it must not block for long (lines
            pile up in the pipe meanwhile, and keepalived drops them past 64 KiB).
        stop: Set on SIGTERM: read on for ``grace`` seconds, then return.
        finished: After ``stop``, True once nothing more is expected (every instance and
            group reported STOP): return at once.
        grace: Seconds to keep reading after ``stop``.
        recheck: Seconds between checks that keepalived has not recreated the FIFO (service
            mode); None not to check (keepalived restarts a ``notify_fifo_script`` itself).
    """
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()

    async def wake_on_stop() -> None:
        await stop.wait()
        wake.set()

    async with asyncio.TaskGroup() as group:
        watcher = group.create_task(wake_on_stop())
        loop.add_reader(source.fd, wake.set)
        try:
            await _drain(source, handle, stop, wake, finished, grace, recheck)
        finally:
            watcher.cancel()
            if source.fd >= 0:
                loop.remove_reader(source.fd)
                lines = source.read()
                if lines:
                    handle(lines)


async def _drain(
    source: FifoSource,
    handle: Callable[[list[bytes]], None],
    stop: asyncio.Event,
    wake: asyncio.Event,
    finished: Callable[[], bool],
    grace: float,
    recheck: float | None,
) -> None:
    loop = asyncio.get_running_loop()
    stopping_at: float | None = None
    refused = ""  # the last refusal of a recreated FIFO, logged once rather than every second
    while True:
        wait: float | None = recheck
        if stop.is_set():
            if stopping_at is None:
                stopping_at = time.monotonic() + grace
            wait = stopping_at - time.monotonic()
            if wait <= 0 or finished():
                return
            # ``finished`` may turn true without a line arriving (lines are handled elsewhere):
            # look again every 50 ms during the grace, which lasts less than a second.
            wait = min(wait, STOP_POLL)
        try:
            await asyncio.wait_for(wake.wait(), wait)
        except TimeoutError:
            pass
        wake.clear()
        lines = source.read()
        if lines:
            handle(lines)
        if stopping_at is None and recheck is not None and source.replaced():
            loop.remove_reader(source.fd)
            try:
                tail = source.reopen()
            except StateError as exc:
                if str(exc) != refused:
                    logger.error(f"{exc}; reading on from the FIFO opened before")
                refused = str(exc)
            else:
                refused = ""
                logger.info(f"FIFO {source.path} was recreated (keepalived reload): reading it")
                if tail:
                    handle(tail)
            loop.add_reader(source.fd, wake.set)
