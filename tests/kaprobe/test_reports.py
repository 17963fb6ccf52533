"""kaprobe's session events: routed by the alerts rules, stored in the outbox, delivered.

Sessions going Up or Down become ``bfd_up`` / ``bfd_down`` alerts naming the peer, the local
address, the diagnostic and the detection time; the timing loop only hands them over.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kakit.config import Config
from kakit.kaprobe.packet import DOWN, INIT, UP
from kakit.kaprobe.reports import Reports, SessionEvent, session_event
from kakit.testing import FakeNotifier, use_fake_notifier
from lab.procs import wait_until
from tests.alerts.test_delivery import run_worker, statuses
from tests.kaprobe.test_runtime import ancillary, from_peer, in_loop, one_session

CHANNELS = """\
channels:
  ops: {type: fake}
  pager: {type: fake}
outbox: {coalesce: 0, backoff_initial: 0.01, backoff_max: 0.05}
kaprobe: {metrics_address: null}
"""

DOWN_CAUSE = (
    "BFD session 10.213.7.1 -> 10.213.7.254 Down: control detection time expired (diag 1); "
    "detection time 150 ms, no packet for 162 ms"
)


@pytest.fixture(name="fake")
def _fake() -> Iterator[None]:
    use_fake_notifier()
    yield
    FakeNotifier.reset()


def bfd(event: str, cause: str = DOWN_CAUSE, track_file: str | None = None) -> SessionEvent:
    """The uplink session's event, stamped now."""
    return session_event("10.213.7.1->10.213.7.254", event, cause, track_file)


@pytest.mark.parametrize(
    ("rules", "event", "channels"),
    [
        ("- channels: [ops]", "bfd_down", ["ops"]),
        ("- {channels: [ops], events: [bfd_down]}", "bfd_down", ["ops"]),
        ("- {channels: [ops], events: [bfd_down]}", "bfd_up", []),
        ("- {channels: [ops], events: [bfd_down, bfd_up]}", "bfd_up", ["ops"]),
        ("- {channels: [ops], states: [MASTER]}", "bfd_down", []),
        ("- {channels: [ops], events: [give_up]}", "bfd_down", []),
        ("- {channels: [ops], checks: [nginx]}", "bfd_down", []),
        ("- {channels: [ops], instances: [VI_1]}", "bfd_down", []),
        (
            "- channels: [ops]\n  - {channels: [pager], events: [bfd_down]}",
            "bfd_down",
            ["ops", "pager"],
        ),
    ],
    ids=[
        "no-events-key",
        "named",
        "other-bfd-event",
        "both",
        "states-only",
        "kacheck-events-only",
        "checks",
        "instances-untracked",
        "two-rules",
    ],
)
def test_rules_route_bfd_events(
    make_config: Callable[[str], Config], fake: None, rules: str, event: str, channels: list[str]
) -> None:
    """The alerts rules take bfd_down / bfd_up like kacheck's events: a rule without events
    takes them, one naming states or other events or checks does not."""
    config = make_config(CHANNELS + "alerts:\n  " + rules + "\n")
    assert config.channels_for_events((event,)) == channels


def test_instances_rule_takes_the_sessions_tracking_instance(
    tmp_path: Path, make_config: Callable[[str], Config], fake: None
) -> None:
    """A rule naming an instance takes the events of a session whose track file it tracks."""
    conf = tmp_path / "keepalived.conf"
    conf.write_text(
        'track_file uplink {\n  file "/run/kakit/track/uplink"\n}\n'
        "vrrp_instance VI_1 {\n  track_file {\n    uplink\n  }\n}\n"
    )
    config = make_config(
        CHANNELS + f"keepalived: {{config: {conf}}}\n"
        "alerts:\n  - {channels: [ops], instances: [VI_1]}\n"
    )
    reports = Reports(config, lambda: "")
    assert asyncio.run(reports._store(bfd("bfd_down", track_file="/run/kakit/track/uplink")))
    assert not asyncio.run(reports._store(bfd("bfd_down", track_file="/run/kakit/track/other")))


def test_stored_and_delivered_as_a_bfd_alert(
    make_config: Callable[[str], Config], fake: None
) -> None:
    """A bfd_down is stored with its cause and delivered titled by the session and the event."""
    config = make_config(CHANNELS + "alerts:\n  - channels: [ops]\n")
    assert asyncio.run(Reports(config, lambda: "")._store(bfd("bfd_down")))
    run_worker(config)
    (message,) = FakeNotifier.sent["ops"]
    assert message.title.endswith("] BFD 10.213.7.1->10.213.7.254: down")
    assert f"cause: {DOWN_CAUSE}" in message.text
    body = message.alert.as_json()
    assert (body["kind"], body["event"], body["name"], body["check"]) == (
        "BFD",
        "bfd_down",
        "10.213.7.1->10.213.7.254",
        "",
    )
    assert statuses(config) == [("10.213.7.1->10.213.7.254", "bfd_down", "sent")]


def test_down_then_up_undelivered_collapse_into_one_alert(
    make_config: Callable[[str], Config], fake: None
) -> None:
    """A Down and an Up both waiting (the channel was unreachable) go out as one alert, titled
    by the latest and listing both."""
    config = make_config(CHANNELS + "alerts:\n  - channels: [ops]\n")
    reports = Reports(config, lambda: "")
    asyncio.run(reports._store(bfd("bfd_down")))
    asyncio.run(reports._store(bfd("bfd_up", cause="BFD session 10.213.7.1 -> 10.213.7.254 Up")))
    run_worker(config)
    (message,) = FakeNotifier.sent["ops"]
    assert message.title.endswith(": up")
    assert message.alert.sequence == ("bfd_down", "bfd_up")
    assert "covers: down, up" in message.text


def test_unstorable_alert_is_sent_directly(
    make_config: Callable[[str], Config], tmp_path: Path, fake: None
) -> None:
    """When the outbox cannot be opened the alert goes out at once rather than being lost."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    config = make_config(
        CHANNELS.replace("outbox: {", f"outbox: {{path: {blocker}/outbox.sqlite, ")
        + "alerts:\n  - channels: [ops]\n"
    )
    assert not asyncio.run(Reports(config, lambda: "")._store(bfd("bfd_down")))
    (message,) = FakeNotifier.sent["ops"]
    assert DOWN_CAUSE in message.text


def test_the_thread_stores_and_delivers(make_config: Callable[[str], Config], fake: None) -> None:
    """An event handed to the running thread is stored and delivered by the thread itself."""
    config = make_config(CHANNELS + "alerts:\n  - channels: [ops]\n")
    reports = Reports(config, lambda: "")
    reports.start()
    try:
        reports.event(bfd("bfd_down"))
        wait_until(lambda: bool(FakeNotifier.sent.get("ops")), timeout=10, what="delivery")
    finally:
        reports.stop()
    assert FakeNotifier.sent["ops"][0].alert.event == "bfd_down"


class Recorder:
    """Stands in for the reports thread: keeps what the timing loop hands over."""

    def __init__(self) -> None:
        self.events: list[SessionEvent] = []

    def event(self, event: SessionEvent) -> None:
        self.events.append(event)


@in_loop
async def test_up_and_detected_down_are_reported(tmp_path: object) -> None:
    """Up and a detection-time Down each hand one event over, naming peer, local address,
    diag and detection time; Init does not."""
    prober, probe = await one_session("127.0.0.2", "127.0.0.1", tmp_path)
    recorder = Recorder()
    prober.reports = recorder  # type: ignore[assignment]
    try:
        packet = ancillary("127.0.0.2", "127.0.0.1", 255)
        prober.handle(from_peer(DOWN, your=0), packet, "127.0.0.2", 1.0)
        assert probe.session.state == INIT and recorder.events == []
        prober.handle(from_peer(UP), packet, "127.0.0.2", 1.1)
        assert probe.session.state == UP
        deadline = probe.session.detect_deadline
        assert deadline is not None
        probe.session.expire(deadline)
        probe.consume_transitions()
    finally:
        prober.close()
    up, down = recorder.events
    assert (up.event, down.event) == ("bfd_up", "bfd_down")
    assert up.session == down.session == "127.0.0.1->127.0.0.2"
    assert down.cause.startswith(
        "BFD session 127.0.0.1 -> 127.0.0.2 Down: control detection time expired (diag 1); "
        "detection time 3000 ms, no packet for 3000 ms"
    )
    assert up.cause == "BFD session 127.0.0.1 -> 127.0.0.2 Up (Init -> Up); 50 ms x 3 configured"
