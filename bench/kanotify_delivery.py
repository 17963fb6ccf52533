"""Outbox delivery throughput to a local webhook, beside plain httpx POSTs of the same bodies.

Figures (issue: kanotify): enqueue cost per event, and alerts per second the delivery worker
pushes to a local webhook (every alert marked sending, sent and logged in SQLite), against the
same number of bare ``httpx`` POSTs with no outbox: the difference is the price of durability.

Run: ``make bench`` (or ``.venv/bin/python bench/kanotify_delivery.py [ALERTS]``).
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, __file__.rsplit("/", 2)[0])


class Sink(BaseHTTPRequestHandler):
    """Accepts every POST."""

    protocol_version = "HTTP/1.1"
    # Headers and body leave in separate writes: without TCP_NODELAY, Nagle plus the client's
    # delayed ACK add 40 ms to every keep-alive request and the bench would measure that.
    disable_nagle_algorithm = True
    received = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Sink.received += 1
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


def main() -> int:
    """Measure and print."""
    from kakit.alerts.delivery import deliver
    from kakit.alerts.outbox import Outbox
    from kakit.config import parse_config
    from kakit.core.events import StateEvent
    from kakit.core.log import logger

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    workdir = Path(tempfile.mkdtemp(prefix="kakit-bench-"))
    server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    config_path = workdir / "kakit.yaml"
    config_path.write_text(
        f"version: 1\nnode: bench\npaths: {{state_dir: {workdir}/run, data_dir: {workdir}/lib}}\n"
        f"log: {{syslog: false, level: warning}}\n"
        f'channels: {{sink: {{type: webhook, url: "{url}"}}}}\nalerts: [{{channels: [sink]}}]\n'
        "outbox: {coalesce: 0}\n"
    )
    config_path.chmod(0o600)
    config = parse_config(config_path.read_text(), str(config_path))
    logger.configure(syslog=False, stderr=False, level="warning")
    try:
        with Outbox(config.outbox_path()) as box:
            start = time.perf_counter()
            for index in range(count):
                # distinct instances: nothing is collapsed, every alert is one POST
                event = StateEvent(
                    kind="INSTANCE",
                    name=f"VI_{index}",
                    state="MASTER",
                    priority=100,
                    time=time.time() - 1,
                )
                event_id = box.add_event(event, "bench", ["sink"], time.time() - 1)
                box.finish_hooks(event_id, [], stale=False)
            enqueue = time.perf_counter() - start
        start = time.perf_counter()
        asyncio.run(deliver(config, max_seconds=300))
        outbox_seconds = time.perf_counter() - start
        delivered = Sink.received
        messages = [("title", "text")] * count

        async def bare() -> None:
            import httpx

            async with httpx.AsyncClient() as client:
                for title, text in messages:
                    response = await client.post(url, json={"title": title, "text": text})
                    response.raise_for_status()

        start = time.perf_counter()
        asyncio.run(bare())
        bare_seconds = time.perf_counter() - start
    finally:
        server.shutdown()
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"outbox delivery to a local webhook, {count} alerts")
    print(f"{'measurement':48} {'value':>12}")
    print(f"{'enqueue (store event + release message)':48} {enqueue / count * 1000:9.2f} ms")
    print(f"{'outbox worker: alerts delivered':48} {delivered:12d}")
    print(f"{'outbox worker throughput':48} {delivered / outbox_seconds:8.0f} /s")
    print(f"{'bare httpx POSTs, no outbox (baseline)':48} {count / bare_seconds:8.0f} /s")
    return 0 if delivered == count else 1


if __name__ == "__main__":
    raise SystemExit(main())
