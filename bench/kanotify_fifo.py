"""The FIFO reader's budgets (issue: the resident kanotify), printed beside their baselines.

1. **Drain rate.** A writer plays keepalived: one ``write()`` per line, non-blocking, and a
   line that does not fit in the pipe is dropped (keepalived drops it silently). Changes of state
   of 20 instances are offered at a fixed rate for a few seconds; the figure is how many were
   dropped, and whether every line that was written reached the outbox. Then the same lines as
   fast as the pipe takes them: the rate the reader sustains. Budget: >= 20,000 lines/s into the
   outbox with nothing dropped.
2. **Line to alert.** A lone change written to the FIFO, to the moment a local webhook has it:
   p50 <= 50 ms, p99 <= 200 ms. Beside it, the same through the notify-script path (keepalived
   forks ``kanotify INSTANCE NAME STATE PRIORITY``, which starts a delivery worker).
3. **Idle cost.** The reader's CPU over 10 s with no events, and its resident memory.
4. **LVS.** 100,000 ``RS`` lines (50 real servers flapping) as fast as the pipe takes them,
   with an alert channel, so that every line is an event *and* a message; then lone
   ``rs_down`` lines to the webhook. No budget of their own: the same as 1 and 2.

Run: ``make bench`` (or ``.venv/bin/python bench/kanotify_fifo.py``). Everything runs on
loopback in a temporary directory.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

sys.path.insert(0, __file__.rsplit("/", 2)[0])

from bench._env import venv_bin

RATE = 20_000
SECONDS = 5
INSTANCES = 20
LONE_EVENTS = 40


class Sink(BaseHTTPRequestHandler):
    """Records when each instance's alert arrived (monotonic clock of this process)."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    arrived: ClassVar[dict[str, float]] = {}

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        now = time.monotonic()
        for name in re.findall(rb"LONE_\d+", body):
            Sink.arrived.setdefault(name.decode(), now)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


def write_config(workdir: Path, url: str | None) -> Path:
    path = workdir / "kakit.yaml"
    alerting = (
        f'channels: {{sink: {{type: webhook, url: "{url}"}}}}\nalerts: [{{channels: [sink]}}]\n'
        if url
        else ""
    )
    path.write_text(
        f"version: 1\nnode: bench\npaths: {{state_dir: {workdir}/run, data_dir: {workdir}/lib}}\n"
        f"log: {{file: {workdir}/kakit.log, syslog: false, level: info}}\n"
        f"outbox: {{coalesce: 3}}\n{alerting}"
    )
    path.chmod(0o600)
    return path


def start_reader(config: Path, fifo: Path) -> subprocess.Popen[bytes]:
    reader = subprocess.Popen(
        [venv_bin("kanotify"), "-c", str(config), "--fifo", "--reconcile", "3600", str(fifo)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while not fifo.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)
    return reader


def stop(reader: subprocess.Popen[bytes]) -> None:
    reader.send_signal(signal.SIGTERM)
    try:
        reader.wait(10)
    except subprocess.TimeoutExpired:
        reader.kill()
        reader.wait()


def events_stored(workdir: Path) -> int:
    try:
        with sqlite3.connect(workdir / "lib" / "outbox.sqlite", timeout=5) as db:
            return int(db.execute("SELECT COUNT(*) FROM events").fetchone()[0])
    except sqlite3.Error:
        return 0


def line(index: int) -> bytes:
    state = "MASTER" if (index // INSTANCES) % 2 == 0 else "BACKUP"
    return f'INSTANCE "VI_{index % INSTANCES}" {state} 100\n'.encode()


def rs_line(index: int) -> bytes:
    """keepalived 2.2.7's RS line for one of 50 real servers of FWM 7, flapping."""
    state = "DOWN" if (index // 50) % 2 == 0 else "UP"
    return f"RS [10.213.1.{index % 50}]:tcp:80 FWM 7 {state}\n".encode()


def wait_stored(workdir: Path, count: int, limit: float = 120.0) -> float:
    """Seconds until ``count`` events are in the outbox (or the limit)."""
    start = time.monotonic()
    while events_stored(workdir) < count and time.monotonic() - start < limit:
        time.sleep(0.05)
    return time.monotonic() - start


def drain(workdir: Path) -> tuple[int, int, int, float, float]:
    """Offered at RATE for SECONDS, then as fast as the pipe takes; see the module doc."""
    config = write_config(workdir, None)
    fifo = workdir / "notify.fifo"
    reader = start_reader(config, fifo)
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        offered = RATE * SECONDS
        dropped = 0
        start = time.monotonic()
        for index in range(offered):
            due = start + index / RATE
            while time.monotonic() < due:
                pass
            try:
                os.write(fd, line(index))
            except BlockingIOError:
                dropped += 1
        wait_stored(workdir, offered - dropped)
        stored = events_stored(workdir)
        # Now as fast as the pipe takes them (the writer waits while it is full).
        burst = 100_000
        start = time.monotonic()
        for index in range(burst):
            while True:
                try:
                    os.write(fd, line(index))
                    break
                except BlockingIOError:
                    time.sleep(0.0005)
        wait_stored(workdir, stored + burst)
        burst_seconds = time.monotonic() - start
        os.close(fd)
        return offered, dropped, stored, burst / burst_seconds, burst_seconds
    finally:
        stop(reader)


def lvs(workdir: Path, url: str) -> tuple[float, list[float]]:
    """A flood of RS lines into the outbox with a channel (lines/s), then lone rs_down (ms)."""
    config = write_config(workdir, url)
    fifo = workdir / "notify.fifo"
    reader = start_reader(config, fifo)
    lone_ms: list[float] = []
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        burst = 100_000
        start = time.monotonic()
        for index in range(burst):
            while True:
                try:
                    os.write(fd, rs_line(index))
                    break
                except BlockingIOError:
                    time.sleep(0.0005)
        wait_stored(workdir, burst)
        rate = burst / (time.monotonic() - start)
        time.sleep(5)  # the flood's collapsed alerts go out
        for index in range(2 * LONE_EVENTS, 3 * LONE_EVENTS):
            name = f"LONE_{index}"
            sent = time.monotonic()
            os.write(fd, f"RS [{name}]:tcp:80 FWM 7 DOWN\n".encode())
            deadline = sent + 10
            while name not in Sink.arrived and time.monotonic() < deadline:
                time.sleep(0.001)
            if name in Sink.arrived:
                lone_ms.append((Sink.arrived[name] - sent) * 1000)
            time.sleep(0.1)
        os.close(fd)
    finally:
        stop(reader)
    return rate, lone_ms


def latencies(workdir: Path, url: str) -> tuple[list[float], list[float], float, int]:
    """Lone changes through the FIFO reader and through notify scripts; ms each."""
    config = write_config(workdir, url)
    fifo = workdir / "notify.fifo"
    reader = start_reader(config, fifo)
    fifo_ms: list[float] = []
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        for index in range(LONE_EVENTS):
            name = f"LONE_{index}"
            sent = time.monotonic()
            os.write(fd, f'INSTANCE "{name}" MASTER 100\n'.encode())
            deadline = sent + 10
            while name not in Sink.arrived and time.monotonic() < deadline:
                time.sleep(0.001)
            if name in Sink.arrived:
                fifo_ms.append((Sink.arrived[name] - sent) * 1000)
            time.sleep(0.1)
        os.close(fd)
        # Idle: no events for 10 s.
        ticks = os.sysconf("SC_CLK_TCK")

        def cpu() -> float:
            fields = Path(f"/proc/{reader.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / ticks

        before = cpu()
        time.sleep(10)
        idle_cpu = (cpu() - before) / 10 * 100
        rss = next(
            int(text.split()[1])
            for text in Path(f"/proc/{reader.pid}/status").read_text().splitlines()
            if text.startswith("VmRSS:")
        )
    finally:
        stop(reader)
    script_ms: list[float] = []
    kanotify = venv_bin("kanotify")
    for index in range(LONE_EVENTS, 2 * LONE_EVENTS):
        name = f"LONE_{index}"
        sent = time.monotonic()
        subprocess.Popen(
            [kanotify, "-c", str(config), "INSTANCE", name, "MASTER", "100"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ).wait()
        deadline = sent + 10
        while name not in Sink.arrived and time.monotonic() < deadline:
            time.sleep(0.001)
        if name in Sink.arrived:
            script_ms.append((Sink.arrived[name] - sent) * 1000)
        time.sleep(0.1)
    return fifo_ms, script_ms, idle_cpu, rss


def quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    """Measure and print."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    one = Path(tempfile.mkdtemp(prefix="kakit-bench-fifo-"))
    two = Path(tempfile.mkdtemp(prefix="kakit-bench-fifo-"))
    three = Path(tempfile.mkdtemp(prefix="kakit-bench-fifo-"))
    try:
        offered, dropped, stored, burst_rate, _ = drain(one)
        fifo_ms, script_ms, idle_cpu, rss = latencies(two, url)
        lvs_rate, lvs_ms = lvs(three, url)
    finally:
        server.shutdown()
        for directory in (one, two, three):
            shutil.rmtree(directory, ignore_errors=True)
    load = os.getloadavg()[0]
    print(f"kanotify --fifo, loadavg {load:.2f}")
    print(f"{'measurement':52} {'value':>14}  budget")
    print(f"{f'changes offered at {RATE}/s for {SECONDS} s':52} {offered:14d}")
    ok_drop = dropped == 0 and stored == offered
    print(
        f"{'  dropped (pipe full, as keepalived would)':52} {dropped:14d}  0: {'OK' if ok_drop else 'MISSED'}"
    )
    print(f"{'  in the outbox':52} {stored:14d}")
    ok_rate = burst_rate >= RATE
    print(
        f"{'sustained drain, 100,000 changes into the outbox':52} {burst_rate:11.0f} /s  >= {RATE}/s: {'OK' if ok_rate else 'MISSED'}"
    )
    print(
        f"{'lone change -> webhook, FIFO reader, p50':52} {quantile(fifo_ms, 0.5):11.1f} ms  <= 50 ms: {'OK' if quantile(fifo_ms, 0.5) <= 50 else 'MISSED'}"
    )
    print(
        f"{'lone change -> webhook, FIFO reader, p99':52} {quantile(fifo_ms, 0.99):11.1f} ms  <= 200 ms: {'OK' if quantile(fifo_ms, 0.99) <= 200 else 'MISSED'}"
    )
    print(
        f"{'lone change -> webhook, notify script (baseline), p50':52} {quantile(script_ms, 0.5):11.1f} ms"
    )
    print(
        f"{'lone change -> webhook, notify script (baseline), p99':52} {quantile(script_ms, 0.99):11.1f} ms"
    )
    print(
        f"{'  alerts received (FIFO / notify script)':52} {len(fifo_ms):7d} / {len(script_ms):4d}  of {LONE_EVENTS} each"
    )
    print(f"{'reader idle CPU (10 s, no events)':52} {idle_cpu:12.2f} %")
    print(f"{'reader resident memory':52} {rss / 1024:11.1f} MiB")
    print(f"{'LVS: 100,000 RS lines into the outbox, with alerts':52} {lvs_rate:11.0f} /s")
    print(
        f"{'LVS: lone rs_down -> webhook, p50 / p99':52} {quantile(lvs_ms, 0.5):6.1f} / {quantile(lvs_ms, 0.99):5.1f} ms"
        f"  ({len(lvs_ms)} of {LONE_EVENTS} received)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
