"""The ``alertmanager`` channel against the real Prometheus Alertmanager on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from kakit.core.record import replace
from kakit.exceptions import ConfigError
from kakit.notifiers.alertmanager import AlertmanagerNotifier
from tests.fakes.alertmanager import RealAlertmanager
from tests.fakes.http import Answer
from tests.fakes.smtp import free_port
from tests.fakes.webhook import WebhookSink
from tests.notifiers.runner import Case, deliver, fail, make, ok, params, retry, run_case, sample

SINK_CASES = [
    Case("200", lambda s: {"url": s.url}, ok("HTTP 200 from http://127.0.0.1")),
    Case(
        "400",
        lambda s: {"url": s.url},
        fail("HTTP 400 Bad Request: start time must be before end time"),
        script=lambda s: s.answer_next(Answer.text("start time must be before end time", 400)),
    ),
    Case(
        "503",
        lambda s: {"url": s.url},
        retry("HTTP 503"),
        script=lambda s: s.fail_next(1, 503),
    ),
    Case(
        "proxy-401-echoing-header",
        lambda s: {"url": s.url, "headers": {"Authorization": {"env": "KAKIT_TEST_AM_AUTH"}}},
        fail("HTTP 401"),
        script=lambda s: s.fail_next(1, 401, b"Basic a2FraXQ6cHJveHktcGFzcw== rejected"),
        secrets=lambda s: ["a2FraXQ6cHJveHktcGFzcw=="],
    ),
]


def unique_message(name: str, state: str = "MASTER", **fields: Any) -> object:
    """A sample message for instance ``name`` (alerts in the shared Alertmanager stay apart)."""
    base = sample()
    return sample(alert=replace(base.alert, name=name, state=state, **fields))


class TestAlertPayload:
    """The alert built from a message."""

    def test_labels_annotations_times(self) -> None:
        """Labels, annotations, startsAt = event time, endsAt = startsAt + resolve_after."""
        notifier = make(
            "alertmanager",
            {"url": "http://127.0.0.1:9093", "labels": {"cluster": "edge"}, "resolve_after": "10m"},
        )
        assert isinstance(notifier, AlertmanagerNotifier)
        alert = notifier.alert(sample())
        assert alert == {
            "labels": {
                "alertname": "KeepalivedStateChange",
                "node": "lb1",
                "instance": "VI_1",
                "kind": "INSTANCE",
                "state": "MASTER",
                "cluster": "edge",
            },
            "annotations": {
                "summary": "lb1 VI_1 BACKUP -> MASTER",
                "description": sample().text,
                "previous": "BACKUP",
                "priority": "100",
            },
            "startsAt": "2026-11-22T01:49:20.000Z",
            "endsAt": "2026-11-22T01:59:20.000Z",
        }

    def test_test_alert_labelled(self) -> None:
        """A test alert carries test="true", so it never merges with a real one."""
        notifier = make("alertmanager", {"url": "http://127.0.0.1:9093"})
        assert isinstance(notifier, AlertmanagerNotifier)
        message = sample(alert=replace(sample().alert, test=True))
        assert notifier.alert(message)["labels"]["test"] == "true"

    def test_reserved_labels_refused(self) -> None:
        """Configured labels may not replace the ones kakit sets."""
        with pytest.raises(
            ConfigError, match=r"expected labels other than state \(kakit sets those itself\)"
        ):
            make("alertmanager", {"url": "http://127.0.0.1:9093", "labels": {"state": "x"}})

    def test_label_names_checked(self) -> None:
        """Label names must be Prometheus label names (Alertmanager refuses others with 400)."""
        with pytest.raises(ConfigError, match=r"label names matching .* got 'data-center'"):
            make("alertmanager", {"url": "http://127.0.0.1:9093", "labels": {"data-center": "x"}})

    def test_url_must_be_http(self) -> None:
        """The base URL must be http(s)."""
        with pytest.raises(ConfigError, match="http:// or https:// URL"):
            make("alertmanager", {"url": "127.0.0.1:9093"})


class TestAlertmanagerAnswers:
    """Status handling, against a WebhookSink standing in for Alertmanager."""

    @pytest.mark.parametrize("case", params(SINK_CASES))
    def test_table(
        self, make_sink: Callable[..., WebhookSink], case: Case, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Each case ends as its table row says."""
        monkeypatch.setenv("KAKIT_TEST_AM_AUTH", "Basic a2FraXQ6cHJveHktcGFzcw==")
        run_case("alertmanager", case, make_sink(Answer(200)))

    def test_posts_an_array_of_one_alert(self, make_sink: Callable[..., WebhookSink]) -> None:
        """The request is POST /api/v2/alerts with a JSON array holding one alert."""
        server = make_sink(Answer(200))
        deliver(make("alertmanager", {"url": server.url + "/"}))
        (request,) = server.requests
        assert (request.method, request.path) == ("POST", "/api/v2/alerts")
        assert isinstance(request.json, list) and len(request.json) == 1

    def test_unreachable(self) -> None:
        """Connection refused is retryable."""
        with pytest.raises(Exception, match=r"request to http://127\.0\.0\.1:\d+ failed") as caught:
            deliver(make("alertmanager", {"url": f"http://127.0.0.1:{free_port()}"}))
        assert type(caught.value).__name__ == "RetryableError"


class TestRealAlertmanager:
    """Delivery to the real prometheus-alertmanager."""

    def test_alert_shows_up_with_our_labels(self, alertmanager: RealAlertmanager) -> None:
        """The posted alert is listed by GET /api/v2/alerts, active, with our labels."""
        now = datetime.now().astimezone()
        notifier = make("alertmanager", {"url": alertmanager.url, "labels": {"cluster": "edge"}})
        message = unique_message("VI_AM1", time=now.timestamp())
        answer = deliver(notifier, message)  # type: ignore[arg-type]
        assert answer == f"HTTP 200 from {alertmanager.url}"
        (alert,) = alertmanager.alerts(instance="VI_AM1")
        assert alert["labels"] == {
            "alertname": "KeepalivedStateChange",
            "node": "lb1",
            "instance": "VI_AM1",
            "kind": "INSTANCE",
            "state": "MASTER",
            "cluster": "edge",
        }
        assert alert["annotations"]["summary"] == "lb1 VI_1 BACKUP -> MASTER"
        assert alert["status"]["state"] == "active"
        starts = datetime.fromisoformat(alert["startsAt"].replace("Z", "+00:00"))
        ends = datetime.fromisoformat(alert["endsAt"].replace("Z", "+00:00"))
        assert abs((starts - now).total_seconds()) < 1
        assert abs((ends - starts) - timedelta(minutes=5)) < timedelta(seconds=1)

    def test_state_change_is_a_new_alert(self, alertmanager: RealAlertmanager) -> None:
        """MASTER then BACKUP for one instance are two alerts (state is part of the identity)."""
        notifier = make("alertmanager", {"url": alertmanager.url})
        now = datetime.now().timestamp()
        deliver(notifier, unique_message("VI_AM2", "MASTER", time=now))  # type: ignore[arg-type]
        deliver(notifier, unique_message("VI_AM2", "BACKUP", time=now))  # type: ignore[arg-type]
        states = sorted(
            alert["labels"]["state"] for alert in alertmanager.alerts(instance="VI_AM2")
        )
        assert states == ["BACKUP", "MASTER"]

    def test_old_event_resolves(self, alertmanager: RealAlertmanager) -> None:
        """An event older than resolve_after is accepted as already resolved (not active)."""
        notifier = make("alertmanager", {"url": alertmanager.url, "resolve_after": "1s"})
        old = (datetime.now() - timedelta(hours=1)).timestamp()
        deliver(notifier, unique_message("VI_AM3", time=old))  # type: ignore[arg-type]
        assert alertmanager.alerts(instance="VI_AM3") == []
