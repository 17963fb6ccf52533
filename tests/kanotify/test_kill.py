"""A FIFO reader killed with SIGKILL in the middle of a flood loses no line it had read."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from tests.alerts.test_outage import wait_for
from tests.conftest import config_text
from tests.kanotify.test_cli import kanotify_path

LINES = 3000


def stored(tmp_path: Path) -> int:
    try:
        with sqlite3.connect(tmp_path / "lib" / "outbox.sqlite", timeout=5) as db:
            return int(db.execute("SELECT COUNT(*) FROM events").fetchone()[0])
    except sqlite3.Error:
        return 0


def start(config: Path, fifo: Path) -> subprocess.Popen[bytes]:
    reader = subprocess.Popen(
        [kanotify_path(), "-c", str(config), "--fifo", "--reconcile", "3600", str(fifo)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for(fifo.exists, "the FIFO created by the reader")
    return reader


def flood_and_kill(tmp_path: Path, line_of: Callable[[int], bytes]) -> tuple[int, int, str]:
    """Write :data:`LINES` lines, SIGKILL the reader halfway, start another; returns the events
    stored before the kill and in the end, and the log."""
    slow = tmp_path / "slow.sh"
    slow.write_text("#!/bin/sh\nsleep 0.2\n")
    slow.chmod(0o755)
    config = tmp_path / "kakit.yaml"
    config.write_text(config_text(tmp_path, f"states: {{MASTER: {{run: [[{slow}]]}}}}\n"))
    fifo = tmp_path / "notify.fifo"
    reader = start(config, fifo)
    # keepalived's own end: held open read-write, so lines wait in the pipe while no reader runs.
    writer = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
    try:
        sent = 0
        for index in range(LINES):
            line = line_of(index)
            while True:
                try:
                    os.write(writer, line)
                    sent += 1
                    break
                except BlockingIOError:
                    time.sleep(0.001)
            if index == LINES // 2:
                time.sleep(0.5)  # a few slow batches in flight
                reader.send_signal(signal.SIGKILL)
                reader.wait()
                before = stored(tmp_path)
                reader = start(config, fifo)
        wait_for(lambda: stored(tmp_path) >= LINES, "every line stored", timeout=60)
        time.sleep(0.5)
        total = stored(tmp_path)
    finally:
        os.close(writer)
        reader.send_signal(signal.SIGTERM)
        reader.wait(10)
    assert sent == LINES
    return before, total, (tmp_path / "kakit.log").read_text()


def test_sigkill_mid_flood_loses_nothing_read(tmp_path: Path) -> None:
    """Slow hooks keep lines waiting in the reader; SIGKILL; the next reader stores them all."""

    def line_of(index: int) -> bytes:
        state = "MASTER" if index % 2 else "BACKUP"
        return f'INSTANCE "VI_{index % 7}" {state} {index % 256}\n'.encode()

    before, total, log = flood_and_kill(tmp_path, line_of)
    assert before <= LINES // 2 + 1
    # At most one batch is stored twice (stored, then killed before the journal said so).
    assert LINES <= total < LINES + LINES // 2, total
    # The kill came while lines read were still waiting in the reader: the next one replayed them.
    assert "line(s) a reader read and did not store" in log


def test_sigkill_mid_lvs_flood_loses_nothing_read(tmp_path: Path) -> None:
    """A flood of real servers flapping, with a failover's slow hooks in it: SIGKILL halfway
    loses no LVS event, and every one is stored with its servers."""

    def line_of(index: int) -> bytes:
        if index % 500 == 0:
            return b'INSTANCE "VI_1" MASTER 100\n'  # slow hooks: lines pile up in the reader
        state = "UP" if index % 2 else "DOWN"
        return f"RS [10.213.0.{index % 5 + 2}]:tcp:80 FWM 7 {state}\n".encode()

    _, total, _ = flood_and_kill(tmp_path, line_of)
    assert LINES <= total < LINES + LINES // 2, total
    with sqlite3.connect(tmp_path / "lib" / "outbox.sqlite") as db:
        servers = {row[0] for row in db.execute("SELECT name FROM events WHERE kind = 'RS'")}
    assert servers == {f"[10.213.0.{host}]:tcp:80 FWM 7" for host in range(2, 7)}
