"""Alerts through a real local webhook and the real detached worker: outages and SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from kakit.testing import delivery_worker_pids
from tests.conftest import config_text
from tests.fakes.webhook import WebhookSink
from tests.kanotify.test_cli import kanotify_path


def write_config(tmp_path: Path, sink: WebhookSink) -> Path:
    """A kakit.yaml sending every event to the sink, quickly retried."""
    path = tmp_path / "kakit.yaml"
    path.write_text(
        config_text(
            tmp_path,
            f"""\
            channels:
              sink: {{type: webhook, url: "{sink.url}/hook", timeout: 1}}
            alerts: [{{channels: [sink]}}]
            outbox: {{coalesce: 0, backoff_initial: 0.1, backoff_max: 0.3}}
            """,
        )
    )
    path.chmod(0o600)
    return path


def notify(config: Path, name: str, state: str = "MASTER") -> None:
    """Run kanotify the way keepalived does."""
    result = subprocess.run(
        [kanotify_path(), "-c", str(config), "INSTANCE", name, state, "100"],
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Poll until ``predicate`` holds (bounded)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def names(sink: WebhookSink) -> list[str]:
    """The instance names of every request the sink received, in arrival order."""
    return [str(body["name"]) for body in sink.bodies]


def delivery_workers(config: Path) -> list[int]:
    """Pids of delivery workers running with this configuration."""
    return delivery_worker_pids(str(config))


class TestChannelOutage:
    """A channel that is down for a while loses nothing and keeps the order."""

    def test_down_then_up(self, tmp_path: Path, sink: WebhookSink) -> None:
        """Three refused attempts later, all five alerts arrive once each, oldest first."""
        config = write_config(tmp_path, sink)
        sink.fail_next(3, status=503)
        for index in range(1, 6):
            notify(config, f"VI_{index}")
        wait_for(
            lambda: len(sink.requests) >= 8 and not delivery_workers(config),
            "five deliveries after three failures",
        )
        assert names(sink) == ["VI_1", "VI_1", "VI_1", "VI_1", "VI_2", "VI_3", "VI_4", "VI_5"]
        assert "attempt 1 failed: " in (tmp_path / "kakit.log").read_text()


class TestKilledWorker:
    """SIGKILL in the middle of a delivery loses nothing and duplicates at most once."""

    def test_sigkill_mid_delivery(self, tmp_path: Path, sink: WebhookSink) -> None:
        """The alert in flight is sent again by the next worker; the next alert follows it."""
        config = write_config(tmp_path, sink)
        sink.hang_next(1, seconds=3.0)
        notify(config, "VI_1")
        wait_for(lambda: len(sink.requests) == 1, "the first request to reach the sink")
        workers = delivery_workers(config)
        assert len(workers) == 1
        os.kill(workers[0], signal.SIGKILL)
        wait_for(lambda: not delivery_workers(config), "the killed worker to be gone")
        notify(config, "VI_2")  # the next event's worker finds VI_1 still 'sending'
        wait_for(
            lambda: names(sink).count("VI_2") == 1 and not delivery_workers(config),
            "VI_2 delivered",
        )
        assert names(sink) == ["VI_1", "VI_1", "VI_2"]
