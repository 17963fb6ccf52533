"""Soak: 200 concurrent notifies, repeated worker SIGKILLs, a slow sink. What is lost?

keepalived forks notify scripts concurrently and unordered. This runs ``kanotify`` the way a
burst of keepalived events would (``xargs -P 200``): 100 events on one instance (priority 1..100
numbers them), one event on each of 100 other instances. Every event's ``run`` hook appends a
line to a file, and every alert goes to a local webhook sink that answers after 0.3 s, while
the delivery worker is SIGKILLed every 0.4 s (15 times). Then the outbox is drained and counted:

- events recorded (in the outbox) and hooks applied, and whether the hooks of the busy instance
  were applied in the order kakit received the events (a late event must never undo a newer);
- alerts lost (a message neither sent nor merged into a sent one) and duplicated (the same
  message received more than once by the sink).

Runs in a private network namespace; the sink listens on its loopback. Usage:
``python bench/kanotify_soak.py [--width 200] [--kills 15]``.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._env import in_private_namespace, venv_bin

CONFIG = """\
version: 1
paths: {{state_dir: {dir}/run, data_dir: {dir}/lib}}
log: {{file: {dir}/kakit.log, syslog: false}}
states:
  MASTER: {{run: [[/bin/sh, -c, '{record}']]}}
  BACKUP: {{run: [[/bin/sh, -c, '{record}']]}}
  FAULT: {{run: [[/bin/sh, -c, '{record}']]}}
channels:
  sink: {{type: webhook, url: "http://127.0.0.1:{port}/hook", timeout: 5s}}
alerts:
  - channels: [sink]
outbox: {{backoff_initial: 0.2s, backoff_max: 1s}}
"""
RECORD = 'echo "$KAKIT_NAME $KAKIT_STATE $KAKIT_PRIORITY $KAKIT_TIME" >> {dir}/applied'
STATES = ("MASTER", "BACKUP", "FAULT")


class SlowSink:
    """A webhook sink on loopback that answers after ``delay`` seconds and counts bodies.

    While ``kill_budget`` lasts, it SIGKILLs the delivery worker as soon as a request arrives:
    the body counts as received, but the worker dies before it can record the send, which is
    exactly the case that turns into a duplicate.
    """

    def __init__(self, delay: float, kill_budget: int, config: Path) -> None:
        self.delay = delay
        self.kill_budget = kill_budget
        self.kills = 0
        self.config = config
        self.bodies: list[bytes] = []
        self.keys: list[str] = []
        self.lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with sink.lock:
                    if sink.kills < sink.kill_budget:
                        for pid in worker_pids(sink.config):
                            try:
                                os.kill(pid, signal.SIGKILL)
                                sink.kills += 1
                            except ProcessLookupError:
                                pass
                time.sleep(sink.delay)
                with sink.lock:
                    sink.bodies.append(body)
                    sink.keys.append(self.headers.get("Idempotency-Key", ""))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def worker_pids(config: Path) -> list[int]:
    """Delivery workers started for ``config`` (found by their command line)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"kakit.alerts.delivery" in cmdline and str(config).encode() in cmdline:
            found.append(int(entry))
    return found


def main() -> int:
    """Run the soak and print its counts."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--width", type=int, default=200, help="notifies started at once")
    parser.add_argument("--kills", type=int, default=15, help="worker SIGKILLs")
    parser.add_argument("--delay", type=float, default=0.3, help="sink answer delay, seconds")
    args = parser.parse_args()
    in_private_namespace()
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    kanotify = venv_bin("kanotify")
    work = Path(tempfile.mkdtemp(prefix="kakit-soak-"))
    config = work / "kakit.yaml"
    sink = SlowSink(args.delay, args.kills, config)
    config.write_text(
        CONFIG.format(dir=work, port=sink.port, record=RECORD.format(dir=work)), encoding="utf-8"
    )
    config.chmod(0o600)  # the webhook URL counts as an inline secret
    busy = args.width // 2
    events = [("VI_A", STATES[i % 3], i + 1) for i in range(busy)]
    events += [(f"VI_{i}", "MASTER", 100) for i in range(args.width - busy)]

    started = time.monotonic()
    procs = [
        subprocess.Popen(
            [kanotify, "-c", str(config), "INSTANCE", name, state, str(prio)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name, state, prio in events
    ]
    codes = collections.Counter(proc.wait() for proc in procs)
    if not (work / "lib" / "outbox.sqlite").exists():
        print(
            (work / "kakit.log").read_text(errors="replace")[-3000:]
            if (work / "kakit.log").exists()
            else "no log"
        )
        raise SystemExit(f"no outbox was created; exit codes {dict(codes)}")
    burst = time.monotonic() - started

    # Drain: (re)start the worker until nothing is pending, bounded.
    outbox = work / "lib" / "outbox.sqlite"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        with sqlite3.connect(outbox) as db:
            (open_count,) = db.execute(
                "SELECT COUNT(*) FROM messages WHERE status IN ('held', 'pending', 'sending')"
            ).fetchone()
        if open_count == 0:
            break
        if not worker_pids(config):
            subprocess.Popen(
                [sys.executable, "-m", "kakit.delivery", "-c", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        time.sleep(0.5)
    time.sleep(args.delay + 0.5)

    with sqlite3.connect(outbox) as db:
        # Receive order is what kakit orders by: the monotonic stamp (one boot here).
        recorded = db.execute("SELECT name, state, priority, mono FROM events").fetchall()
        statuses = collections.Counter(
            status for (status,) in db.execute("SELECT status FROM messages")
        )
        crash_counts = db.execute("SELECT crashes FROM messages").fetchall()
    applied_lines = (
        (work / "applied").read_text().splitlines() if (work / "applied").exists() else []
    )
    applied = [line.split() for line in applied_lines]
    # The busy instance: events in receive order, and hooks in application order.
    received_at = {(name, int(prio)): at for name, _, prio, at in recorded}
    busy_applied = [int(prio) for name, _state, prio, _at in applied if name == "VI_A"]
    regressions = sum(
        1
        for earlier, later in itertools.pairwise(busy_applied)
        if received_at.get(("VI_A", later), 0) < received_at.get(("VI_A", earlier), 0)
    )
    newest = max((at, prio) for (name, prio), at in received_at.items() if name == "VI_A")
    log = (work / "kakit.log").read_text(errors="replace")
    # An alert names its latest event (priority numbers the busy instance's events): the same event alerted twice (even
    # inside a larger collapsed message the second time) is a duplicate for the person reading.
    bodies = [json.loads(body) for body in sink.bodies]
    latest = collections.Counter((body["name"], body["priority"], body["state"]) for body in bodies)
    duplicates = sum(count - 1 for count in latest.values() if count > 1)
    lost = sum(count for status, count in statuses.items() if status not in ("sent", "merged"))

    print(
        f"kanotify soak: {args.width} notifies at once ({busy} on one instance), "
        f"{sink.kills} worker SIGKILLs mid-send, sink answering in {args.delay:g} s"
    )
    print(f"  burst took {burst:.1f} s; exit codes {dict(sorted(codes.items()))}")
    print(f"  events recorded        {len(recorded)} of {args.width}")
    print(f"  hooks applied          {len(applied)} (busy instance: {len(busy_applied)})")
    print(f"  applied out of order   {regressions}")
    print(f"  newest event applied last: {bool(busy_applied) and busy_applied[-1] == newest[1]}")
    print(f"  hooks run without lock {log.count('lock not obtained')}")
    print(f"  'database is locked'   {log.count('database is locked')}")
    print(f"  messages               {dict(sorted(statuses.items()))}")
    print(f"  alerts lost            {lost}")
    print(f"  sink received          {len(bodies)}, duplicates {duplicates}")
    crashed = collections.Counter(count for (count,) in crash_counts)
    print(f"  messages by worker deaths during their send: {dict(sorted(crashed.items()))}")
    errors = sorted(
        {line.split(": ", 1)[-1][:160] for line in log.splitlines() if " error: " in line}
    )
    for line in errors[:5]:
        print(f"  error logged: {line}")
    if os.environ.get("KAKIT_SOAK_KEEP"):
        print(f"  files kept in {work}")
    else:
        subprocess.run(["rm", "-rf", str(work)], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
