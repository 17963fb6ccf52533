"""Specification of the outbox and its delivery worker (in-process, with the fake channel)."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kakit.alerts.delivery import backoff, deliver
from kakit.alerts.messages import message_key
from kakit.alerts.outbox import HELD_GRACE, Outbox
from kakit.config import Config
from kakit.core.events import StateEvent
from kakit.core.log import logger
from kakit.testing import FakeNotifier, use_fake_notifier
from tests.fakes.webhook import WebhookSink

#: A header value written inline: a secret like any other.
API_KEY = "k3y-4c2b9e71"

CHANNELS = """\
channels:
  ops: {type: fake}
  mail: {type: fake}
alerts:
  - channels: [ops]
outbox: {coalesce: 0, backoff_initial: 0.01, backoff_max: 0.05}
"""


@pytest.fixture(name="config")
def _config(make_config: Callable[[str], Config]) -> Iterator[Config]:
    use_fake_notifier()
    yield make_config(CHANNELS)
    FakeNotifier.reset()
    FakeNotifier.rate_limit = None


def enqueue(
    config: Config,
    name: str,
    state: str,
    at: float,
    channel: str = "ops",
    hooks: list[str] | None = None,
) -> int:
    """Store one event with a message for ``channel``, hooks finished."""
    with Outbox(config.outbox_path()) as box:
        event_id = box.add_event(
            StateEvent(kind="INSTANCE", name=name, state=state, priority=100, time=at),  # type: ignore[arg-type]
            "lb1",
            [channel],
            at,
        )
        if hooks is not None:
            box.finish_hooks(event_id, hooks, stale=False)
    return event_id


def statuses(config: Config) -> list[tuple[str, str, str]]:
    """(name, state, status) of every message, oldest first."""
    with Outbox(config.outbox_path()) as box:
        return [(row.event.name, row.event.state, row.status) for row in reversed(box.messages())]


def run_worker(config: Config, seconds: float = 5.0) -> None:
    """Run the delivery worker in this process, logging to the test's log file."""
    logger.configure(file=config.log.file or "", syslog=False)
    try:
        asyncio.run(deliver(config, max_seconds=seconds))
    finally:
        logger.configure(file="")


class TestDelivery:
    """Alerts arrive exactly once, in order, through outages."""

    def test_in_order_after_an_outage(self, config: Config) -> None:
        """Two failed attempts delay the channel but every alert arrives once, oldest first."""
        now = time.time() - 10
        for index, name in enumerate(["VI_1", "VI_2", "VI_3"]):
            enqueue(config, name, "MASTER", now + index, hooks=[])
        FakeNotifier.failures["ops"] = ["retry", "retry"]
        run_worker(config)
        assert [message.alert.name for message in FakeNotifier.sent["ops"]] == [
            "VI_1",
            "VI_2",
            "VI_3",
        ]
        assert FakeNotifier.attempts["ops"] == 5
        assert {status for _, _, status in statuses(config)} == {"sent"}

    def test_channel_timeout_is_retried(self, config: Config) -> None:
        """A channel that timed out is tried again, not marked failed."""
        enqueue(config, "VI_1", "MASTER", time.time() - 10, hooks=[])
        FakeNotifier.failures["ops"] = ["timeout"]
        run_worker(config)
        assert FakeNotifier.attempts["ops"] == 2
        assert statuses(config) == [("VI_1", "MASTER", "sent")]

    def test_flap_collapsed_into_one_message(self, config: Config) -> None:
        """MASTER -> BACKUP -> MASTER still undelivered becomes one alert that says so."""
        now = time.time() - 10
        enqueue(config, "VI_1", "MASTER", now, hooks=[])
        enqueue(config, "VI_1", "BACKUP", now + 1, hooks=[])
        enqueue(config, "VI_1", "MASTER", now + 2, hooks=[])
        run_worker(config)
        (message,) = FakeNotifier.sent["ops"]
        assert message.alert.sequence == ("MASTER", "BACKUP", "MASTER")
        assert "flapped: 3 changes in 2.0 s, now MASTER" in message.text
        assert [status for _, _, status in statuses(config)] == ["merged", "merged", "sent"]

    def test_permanent_failure_does_not_block_the_rest(self, config: Config) -> None:
        """A refused alert is marked failed and the next one still goes out."""
        now = time.time() - 10
        enqueue(config, "VI_1", "MASTER", now, hooks=[])
        enqueue(config, "VI_2", "MASTER", now + 1, hooks=[])
        FakeNotifier.failures["ops"] = ["permanent"]
        run_worker(config)
        assert [message.alert.name for message in FakeNotifier.sent["ops"]] == ["VI_2"]
        assert statuses(config) == [("VI_1", "MASTER", "failed"), ("VI_2", "MASTER", "sent")]

    def test_channels_are_independent(self, config: Config) -> None:
        """One channel's outage does not hold back another channel."""
        now = time.time() - 10
        enqueue(config, "VI_1", "MASTER", now, channel="ops", hooks=[])
        enqueue(config, "VI_2", "MASTER", now, channel="mail", hooks=[])
        FakeNotifier.failures["ops"] = ["permanent"]
        run_worker(config)
        assert [message.alert.name for message in FakeNotifier.sent["mail"]] == ["VI_2"]

    def test_rate_limit_defers_without_losing(self, config: Config) -> None:
        """Past the channel's rate limit, messages wait instead of being sent or dropped."""
        FakeNotifier.rate_limit = (2, 60.0)
        now = time.time() - 10
        for index, name in enumerate(["VI_1", "VI_2", "VI_3"]):
            enqueue(config, name, "MASTER", now + index, hooks=[])
        run_worker(config, seconds=1.0)
        assert len(FakeNotifier.sent["ops"]) == 2
        assert statuses(config)[-1] == ("VI_3", "MASTER", "pending")

    def test_expired_after_ttl(
        self, make_config: Callable[[str], Config], read_log: Callable[[], list[str]]
    ) -> None:
        """An alert older than the TTL is dropped with a log line, not sent late."""
        use_fake_notifier()
        config = make_config(CHANNELS.replace("coalesce: 0", "coalesce: 0, ttl: 60"))
        enqueue(config, "VI_1", "MASTER", time.time(), hooks=[])
        with Outbox(config.outbox_path()) as box:
            box.db.execute("UPDATE messages SET created = created - 3600")
        run_worker(config)
        assert "ops" not in FakeNotifier.sent
        assert statuses(config) == [("VI_1", "MASTER", "expired")]
        assert any(
            "VI_1 MASTER to ops expired after 60 s undelivered" in line for line in read_log()
        )

    def test_held_message_of_an_interrupted_notify_still_goes_out(self, config: Config) -> None:
        """A notify killed before recording its hooks still gets its alert delivered."""
        enqueue(config, "VI_1", "MASTER", time.time(), hooks=None)
        with Outbox(config.outbox_path()) as box:
            box.db.execute("UPDATE messages SET created = created - ?", (HELD_GRACE + 1,))
        run_worker(config)
        (message,) = FakeNotifier.sent["ops"]
        assert "not recorded (the notify process was interrupted)" in message.text

    def test_message_left_sending_is_sent_again(self, config: Config) -> None:
        """A worker killed mid-send leaves the alert to be sent once more, not lost."""
        enqueue(config, "VI_1", "MASTER", time.time(), hooks=[])
        with Outbox(config.outbox_path()) as box:
            box.db.execute("UPDATE messages SET status = 'sending', attempts = 1")
        run_worker(config)
        assert len(FakeNotifier.sent["ops"]) == 1
        assert statuses(config) == [("VI_1", "MASTER", "sent")]


class TestBackoff:
    """Retry delays grow exponentially, are capped and jittered."""

    @pytest.mark.parametrize(
        ("attempts", "low", "high"),
        [(1, 1.5, 2.5), (2, 3.0, 5.0), (3, 6.0, 10.0), (10, 225.0, 375.0)],
    )
    def test_range(self, attempts: int, low: float, high: float) -> None:
        """Each delay lies within +-25 % of min(max, initial * 2^(n-1))."""
        for _ in range(50):
            assert low <= backoff(attempts, 2.0, 300.0) <= high


class TestRealChannel:
    """The worker with a real webhook channel: what it stores and logs, what it sends again."""

    @pytest.fixture(name="hook_config")
    def _hook_config(self, make_config: Callable[[str], Config], sink: WebhookSink) -> Config:
        return make_config(
            f"""\
            channels:
              hook: {{type: webhook, url: "{sink.url}/hook", headers: {{X-Api-Key: {API_KEY}}}}}
            alerts: [{{channels: [hook]}}]
            outbox: {{coalesce: 0, backoff_initial: 0.01, backoff_max: 0.05}}
            """
        )

    def test_retry_carries_the_same_idempotency_key(
        self, hook_config: Config, sink: WebhookSink
    ) -> None:
        """A message sent twice (503, then 200) carries one Idempotency-Key, its outbox key."""
        enqueue(hook_config, "VI_1", "MASTER", time.time(), channel="hook", hooks=[])
        sink.fail_next(1, 503)
        run_worker(hook_config)
        with Outbox(hook_config.outbox_path()) as box:
            (row,) = box.messages()
        keys = [request.headers.get("idempotency-key") for request in sink.requests]
        assert keys == [message_key("lb1", row.id, row.created)] * 2
        assert row.status == "sent"

    def test_echoed_secret_kept_nowhere(self, hook_config: Config, sink: WebhookSink) -> None:
        """A header value echoed by the endpoint, plainly or in base64, reaches neither the
        outbox's last error (`kakit outbox list`) nor the log."""
        enqueue(hook_config, "VI_1", "MASTER", time.time(), channel="hook", hooks=[])
        echoed = f"key {API_KEY} ({base64.b64encode(API_KEY.encode()).decode()}) unknown"
        sink.fail_next(1, 401, echoed.encode())
        run_worker(hook_config)
        with Outbox(hook_config.outbox_path()) as box:
            (row,) = box.messages()
        log = Path(hook_config.log.file or "").read_text()
        assert row.status == "failed" and row.last_error is not None
        assert "HTTP 401" in row.last_error and "HTTP 401" in log
        for kept in (row.last_error, log):
            assert API_KEY not in kept
            assert base64.b64encode(API_KEY.encode()).decode() not in kept


class TestCheckAlertsDelivered:
    """kacheck's alerts go through the same worker, with the addresses from keepalived.conf."""

    def test_escalation_reaches_the_channel_with_its_vip(
        self, tmp_path: Path, make_config: Callable[[str], Config]
    ) -> None:
        """The worker renders a stored escalation with its cause and the tracking instance's VIP."""
        conf = tmp_path / "keepalived.conf"
        conf.write_text(
            'vrrp_script chk { script "/usr/local/bin/kacheck nginx" }\n'
            "vrrp_instance VI_1 {\n  virtual_ipaddress {\n    10.213.9.10/24\n  }\n"
            "  track_script {\n    chk\n  }\n}\n"
        )
        use_fake_notifier()
        try:
            config = make_config(CHANNELS + f"keepalived: {{config: {conf}}}\n")
            with Outbox(config.outbox_path()) as box:
                box.add_check_event(
                    "nginx",
                    ("give_up", "latch", "escalate"),
                    "nginx: nginx down; config test failed",
                    node="lb1",
                    channels=["ops"],
                    stamp={"time": time.time(), "boot": "", "mono": 0.0},
                    send_after=0.0,
                )
            run_worker(config)
            (message,) = FakeNotifier.sent["ops"]
        finally:
            FakeNotifier.reset()
        assert message.title == "[lb1] nginx: escalated: keepalived stopped"
        assert message.alert.vips == ("10.213.9.10/24",)
        assert "cause: nginx: nginx down; config test failed" in message.text
        assert statuses(config) == [("nginx", "escalate", "sent")]

    def test_state_change_carries_the_instance_vips(
        self, tmp_path: Path, make_config: Callable[[str], Config]
    ) -> None:
        """A MASTER alert names the instance's addresses from keepalived.conf."""
        conf = tmp_path / "keepalived.conf"
        conf.write_text("vrrp_instance VI_1 {\n  virtual_ipaddress {\n    10.213.9.10/24\n  }\n}\n")
        use_fake_notifier()
        try:
            config = make_config(CHANNELS + f"keepalived: {{config: {conf}}}\n")
            enqueue(config, "VI_1", "MASTER", time.time(), hooks=[])
            run_worker(config)
            (message,) = FakeNotifier.sent["ops"]
        finally:
            FakeNotifier.reset()
        assert message.alert.vips == ("10.213.9.10/24",)
        assert message.alert.cause == "keepalived: VI_1 MASTER (priority 100)"
        assert "addresses: 10.213.9.10/24" in message.text
