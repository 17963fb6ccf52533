"""Specification of the FIFO reader's source: safe to open, drained in order, followed across reloads."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from typing import TYPE_CHECKING

import pytest

from kakit.exceptions import StateError
from kakit.kanotify.fifo import FifoSource, follow

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


def lines_of(count: int, start: int = 0) -> list[bytes]:
    return [f'INSTANCE "VI_{n}" MASTER {n % 256}'.encode() for n in range(start, start + count)]


def write_lines(path: Path, lines: list[bytes]) -> None:
    """Write one line per write(), as keepalived does; wait while the pipe is full.

    keepalived itself drops a line that does not fit: the wait keeps this test about order,
    not about how fast this machine is at the moment.
    """
    fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    try:
        for line in lines:
            while True:
                try:
                    os.write(fd, line + b"\n")
                    break
                except BlockingIOError:
                    time.sleep(0.001)
    finally:
        os.close(fd)


def run_reader(
    source: FifoSource,
    during: Callable[[Callable[[], None]], None],
    *,
    grace: float = 0.3,
    recheck: float | None = 0.05,
    finished: Callable[[], bool] = lambda: False,
) -> list[bytes]:
    """Follow ``source`` while ``during`` runs in a thread; ``during`` calls ``stop()`` (SIGTERM)."""
    got: list[bytes] = []

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def set_stop() -> None:
            loop.call_soon_threadsafe(stop.set)

        def guarded() -> None:
            try:
                during(set_stop)
            finally:
                set_stop()

        worker = threading.Thread(target=guarded)
        worker.start()
        try:
            async with asyncio.timeout(20):
                await follow(
                    source, got.extend, stop, grace=grace, recheck=recheck, finished=finished
                )
        finally:
            await asyncio.to_thread(worker.join)

    asyncio.run(main())
    return got


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "notify.fifo"
    os.mkfifo(path, 0o600)
    return path


def test_every_line_arrives_in_order(fifo: Path) -> None:
    """Lines written before the reader starts and while it runs all arrive, in order."""
    before, after = lines_of(500), lines_of(5000, start=500)
    source = FifoSource(str(fifo))
    source.open()
    write_lines(fifo, before)  # buffered in the pipe, as keepalived's are before the reader runs

    def writer(stop: Callable[[], None]) -> None:
        for start in range(0, len(after), 100):
            write_lines(fifo, after[start : start + 100])
        stop()

    assert run_reader(source, writer) == before + after


def test_lines_written_after_sigterm_arrive_within_grace(fifo: Path) -> None:
    """keepalived writes STOP after signalling the reader: those lines are still read."""
    source = FifoSource(str(fifo))
    source.open()

    def writer(stop: Callable[[], None]) -> None:
        stop()
        write_lines(fifo, [b'INSTANCE "VI_1" STOP 100', b'GROUP "G1" STOP 0'])

    assert run_reader(source, writer, grace=1.0, finished=lambda: False) == [
        b'INSTANCE "VI_1" STOP 100',
        b'GROUP "G1" STOP 0',
    ]


def test_reader_returns_at_once_when_nothing_more_is_expected(fifo: Path) -> None:
    """Once every instance has said STOP, the reader does not wait out its grace."""
    source = FifoSource(str(fifo))
    source.open()

    def writer(stop: Callable[[], None]) -> None:
        write_lines(fifo, [b'INSTANCE "VI_1" STOP 100'])
        stop()

    assert run_reader(source, writer, grace=600.0, finished=lambda: True) == [
        b'INSTANCE "VI_1" STOP 100'
    ]


def test_a_recreated_fifo_is_followed(fifo: Path) -> None:
    """keepalived's reload replaces the FIFO: the reader drains the old one and reads the new."""
    source = FifoSource(str(fifo))
    source.open()

    def reload(stop: Callable[[], None]) -> None:
        # keepalived holds each FIFO open read-write while it runs.
        old = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
        os.write(old, b'INSTANCE "VI_1" MASTER 100\n')
        os.unlink(fifo)
        os.mkfifo(fifo, 0o600)
        new = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
        os.write(old, b'INSTANCE "VI_1" STOP 100\n')
        os.close(old)
        os.write(new, b'INSTANCE "VI_1" BACKUP 100\n')
        time.sleep(0.5)  # several recheck periods: the reader has moved to the new FIFO
        os.write(new, b'INSTANCE "VI_1" MASTER 100\n')
        time.sleep(0.2)
        stop()
        os.close(new)

    assert run_reader(source, reload) == [
        b'INSTANCE "VI_1" MASTER 100',
        b'INSTANCE "VI_1" STOP 100',
        b'INSTANCE "VI_1" BACKUP 100',
        b'INSTANCE "VI_1" MASTER 100',
    ]


def test_service_mode_creates_a_private_fifo(tmp_path: Path) -> None:
    """Started before keepalived, the reader creates the FIFO root-only; keepalived reuses it."""
    path = tmp_path / "new.fifo"
    source = FifoSource(str(path), create=True)
    source.open()
    try:
        info = path.stat()
        assert oct(info.st_mode & 0o777) == "0o600"
        assert info.st_uid == os.geteuid()
    finally:
        source.close()


def world_writable(path: Path) -> None:
    os.mkfifo(path, 0o600)
    os.chmod(path, 0o622)


def regular_file(path: Path) -> None:
    path.write_text("x")


def not_roots(path: Path) -> None:
    os.mkfifo(path, 0o600)
    os.chown(path, 65534, 65534)


def symlink(path: Path) -> None:
    os.mkfifo(path.parent / "elsewhere", 0o600)
    os.symlink(path.parent / "elsewhere", path)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (world_writable, r"writable by group or others \(mode 0622\)"),
        (regular_file, "not a FIFO"),
        (not_roots, "owned by uid 65534"),
        (symlink, "cannot open FIFO .*: Too many levels of symbolic links"),
    ],
    ids=["world-writable", "regular-file", "not-root", "symlink"],
)
def test_a_fifo_someone_else_can_write_is_refused(
    tmp_path: Path, make: Callable[[Path], None], message: str
) -> None:
    """Lines become hooks run as root: only root may be able to write them."""
    path = tmp_path / "notify.fifo"
    make(path)
    with pytest.raises(StateError, match=message):
        FifoSource(str(path)).open()
