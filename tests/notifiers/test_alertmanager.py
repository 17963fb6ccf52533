"""The ``alertmanager`` channel against the real Prometheus Alertmanager on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from kakit.core.record import replace
from kakit.notifiers.alertmanager import AlertmanagerNotifier
from tests.fakes.alertmanager import RealAlertmanager
from tests.fakes.http import Answer
from tests.fakes.webhook import WebhookSink
from tests.notifiers.runner import (
    Case,
    Ctx,
    deliver,
    fail,
    invalid,
    make,
    ok,
    params,
    retry,
    run_case,
    sample,
)

AUTH = "Basic a2FraXQ6cHJveHktcGFzcw=="
#: base64 of kakit:am-Pa55, what httpx makes of user info in the URL.
URL_AUTH = "a2FraXQ6YW0tUGE1NQ=="


def basic_sent(c: Ctx) -> None:
    """The URL's user info went out as Basic authentication."""
    assert c.server.requests[0].headers["authorization"] == f"Basic {URL_AUTH}"


def alertmanager(**extra: Any) -> Callable[[Ctx], dict[str, Any]]:
    """Options for the running sink standing in for Alertmanager, plus ``extra``."""
    return lambda c: {"url": c.server.url, **extra}


def one_alert_posted(c: Ctx, _: object) -> None:
    """The request is POST /api/v2/alerts with a JSON array holding one alert."""
    (request,) = c.server.requests
    assert (request.method, request.path) == ("POST", "/api/v2/alerts")
    assert isinstance(request.json, list) and len(request.json) == 1
    assert request.json[0]["labels"]["alertname"] == "KeepalivedStateChange"


CASES = [
    Case("200", alertmanager(), ok("HTTP 200 from http://127.0.0.1"), check=one_alert_posted),
    Case(
        "trailing-slash",
        lambda c: {"url": c.server.url + "/"},
        ok("HTTP 200"),
        check=one_alert_posted,
    ),
    Case(
        "400",
        alertmanager(),
        fail("HTTP 400 Bad Request: start time must be before end time"),
        script=lambda s: s.answer_next(Answer.text("start time must be before end time", 400)),
    ),
    Case("503", alertmanager(), retry("HTTP 503"), script=lambda s: s.fail_next(1, 503)),
    Case(
        "proxy-401-echoing-header",
        lambda c: {"url": c.server.url, "headers": {"Authorization": c.env("KAKIT_TEST_AM", AUTH)}},
        fail("HTTP 401"),
        script=lambda s: s.fail_next(1, 401, f"{AUTH} rejected".encode()),
        secrets=["a2FraXQ6cHJveHktcGFzcw=="],
    ),
    Case(
        "url-credentials-sent-as-basic-and-redacted",
        lambda c: {"url": f"http://kakit:am-Pa55@{c.server.url[7:]}"},
        fail("HTTP 401"),
        script=lambda s: s.fail_next(1, 401, f"bad Authorization: Basic {URL_AUTH}".encode()),
        check=lambda c, _: basic_sent(c),
        secrets=["am-Pa55", URL_AUTH],
    ),
    Case(
        "unreachable",
        lambda c: {"url": c.closed_url()},
        retry("request to http://127.0.0.1:", "failed"),
    ),
    Case(
        "reserved-label",
        alertmanager(labels={"state": "x"}),
        invalid("expected labels other than state (kakit sets those itself)"),
    ),
    Case(
        "bad-label-name",
        alertmanager(labels={"data-center": "x"}),
        invalid("label names matching", "got 'data-center'"),
    ),
    Case("url-not-http", lambda c: {"url": "127.0.0.1:9093"}, invalid("http:// or https:// URL")),
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

    def test_lvs_alert_labels_its_servers(self) -> None:
        """An RS alert is labelled with its virtual and real server, to route and silence by."""
        from kakit.alerts.alert import Alert
        from kakit.core.events import ReportEvent

        notifier = make("alertmanager", {"url": "http://127.0.0.1:9093"})
        assert isinstance(notifier, AlertmanagerNotifier)
        report = ReportEvent(
            kind="RS",
            name="[10.213.9.2]:tcp:80 [10.213.9.100]:tcp:80",
            event="rs_down",
            cause="RS [10.213.9.2]:tcp:80 of [10.213.9.100]:tcp:80 DOWN",
            time=1_764_000_000.0,
        )
        alert = Alert.of_report([report], node="lb1")
        labels = notifier.alert(sample(alert=alert))["labels"]
        assert (labels["kind"], labels["event"]) == ("RS", "rs_down")
        assert (labels["virtual"], labels["real"]) == (
            "[10.213.9.100]:tcp:80",
            "[10.213.9.2]:tcp:80",
        )

    def test_test_alert_labelled(self) -> None:
        """A test alert carries test="true", so it never merges with a real one."""
        notifier = make("alertmanager", {"url": "http://127.0.0.1:9093"})
        assert isinstance(notifier, AlertmanagerNotifier)
        message = sample(alert=replace(sample().alert, test=True))
        assert notifier.alert(message)["labels"]["test"] == "true"


class TestAlertmanagerNotifier:
    """Status handling, against a WebhookSink standing in for Alertmanager."""

    @pytest.mark.parametrize("case", params(CASES))
    def test_table(self, sink: WebhookSink, ctx: Ctx, case: Case) -> None:
        """Each row ends as it says, and its errors leak no header secret."""
        run_case("alertmanager", case, ctx, sink)


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
