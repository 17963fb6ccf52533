"""``alertmanager``: post the state change to a Prometheus Alertmanager (API v2).

At fleet scale alerts belong in the Alertmanager cluster a team already runs: it groups,
deduplicates across replicas, silences, inhibits and routes to every receiver (docs/channels.md,
alertmanager). One state change becomes one alert::

    labels:      alertname=KeepalivedStateChange, node, instance (the VRRP name, the check,
                 the BFD session or the LVS server as keepalived wrote it), kind, state,
                 event (what kacheck, kaprobe or the LVS did), virtual and real (an LVS
                 alert's virtual and real server, for routing and silencing by service),
                 test="true" for a test alert, plus the configured labels
    annotations: summary (title), description (text), previous, priority
    startsAt:    the event time;  endsAt: startsAt + resolve_after

The label set is the alert's identity, so the same state reported twice updates one alert.
"""

from __future__ import annotations

from kakit.core.converters import duration, string_map
from kakit.core.record import frozen, option
from kakit.core.secrets import secret_map
from kakit.notifiers.base import NotifierOptions
from kakit.notifiers.common import http_url
from kakit.notifiers.http import HttpNotifier, HttpRequest, dumps, url_authorization

TYPE_CHECKING = False
if TYPE_CHECKING:
    from datetime import datetime
    from typing import Any

    from kakit.core.secrets import Secret
    from kakit.notifiers.base import Attempt, Message

ALERTNAME = "KeepalivedStateChange"
#: Labels kakit sets itself; configured labels may not replace them.
RESERVED_LABELS = (
    "alertname",
    "node",
    "instance",
    "kind",
    "state",
    "event",
    "virtual",
    "real",
    "test",
)


def valid_label_name(name: str) -> bool:
    """Whether ``name`` matches Prometheus' ``[a-zA-Z_][a-zA-Z0-9_]*``."""
    return (
        bool(name) and name.isascii() and not name[0].isdigit() and name.replace("_", "a").isalnum()
    )


def rfc3339(when: datetime) -> str:
    """``2026-11-22T01:49:20.123Z``."""
    from datetime import UTC

    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@frozen
class AlertmanagerOptions(NotifierOptions):
    """Settings of an Alertmanager channel.

    Attributes:
        url: Alertmanager's base URL (``http://127.0.0.1:9093``); alerts go to
            ``/api/v2/alerts`` below it. User info in it (``http://user:password@host``) is
            a secret: masked, redacted, and inline only in a root-only file.
        labels: Extra labels on every alert (``cluster: edge``).
        headers: Extra headers (authentication of a proxy); every value is a secret.
        timeout: Seconds for the request.
        resolve_after: How long the alert stays active: ``endsAt = startsAt + resolve_after``.
    """

    url: str = option(http_url)
    labels: dict[str, str] = option(string_map, default={})
    headers: dict[str, Secret] = option(secret_map, default={}, secret=True)
    resolve_after: float = option(duration(high=30 * 86400.0), default=300.0)

    def __post_init__(self) -> None:
        url_authorization(self.url, self.headers)
        for name in self.labels:
            if not valid_label_name(name):
                raise ValueError(
                    f"label names matching [a-zA-Z_][a-zA-Z0-9_]* in labels, got {name!r}"
                )
        taken = sorted(set(self.labels) & set(RESERVED_LABELS))
        if taken:
            raise ValueError(f"labels other than {', '.join(taken)} (kakit sets those itself)")


class AlertmanagerNotifier(HttpNotifier[AlertmanagerOptions]):
    """Posts one alert per message to Alertmanager's ``/api/v2/alerts``."""

    type_name = "alertmanager"

    def alert(self, message: Message) -> dict[str, Any]:
        """The alert object (see the module docstring)."""
        from datetime import UTC, datetime, timedelta

        alert = message.alert
        labels = {
            "alertname": ALERTNAME,
            "node": alert.node,
            "instance": alert.name,
            "kind": alert.kind,
            "state": alert.state,
            "event": alert.event,
            "virtual": alert.virtual,
            "real": alert.real,
            **self.options.labels,
        }
        if alert.test:
            labels["test"] = "true"
        annotations = {"summary": message.title, "description": message.text}
        if alert.previous is not None:
            annotations["previous"] = alert.previous
        if alert.priority is not None:
            annotations["priority"] = str(alert.priority)
        starts = datetime.fromtimestamp(alert.time, UTC)
        ends = starts + timedelta(seconds=self.options.resolve_after)
        return {
            # Alertmanager drops empty label values anyway; sending none keeps the identity
            # stable.
            "labels": {key: value for key, value in labels.items() if value},
            "annotations": annotations,
            "startsAt": rfc3339(starts),
            "endsAt": rfc3339(ends),
        }

    def build(self, message: Message, attempt: Attempt) -> HttpRequest:
        """POST ``[alert]`` to ``/api/v2/alerts`` (any 2xx is success)."""
        opts = self.options
        headers = attempt.headers(opts.headers)
        content = dumps([self.alert(message)])
        return HttpRequest(f"{opts.url}/api/v2/alerts", content, headers=headers)
