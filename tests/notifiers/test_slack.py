"""The ``slack`` channel against a WebhookSink answering like a Slack incoming webhook."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kakit.notifiers.slack import to_mrkdwn
from tests.fakes.http import Answer
from tests.fakes.webhook import WebhookSink, slack_sink
from tests.notifiers.runner import Case, deliver, fail, make, ok, params, retry, run_case, sample

PATH = "/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"


def url(server: WebhookSink) -> str:
    """The webhook URL (its path is the credential)."""
    return f"{server.url}{PATH}"


def token(server: WebhookSink) -> list[str]:
    """What no Slack error message may contain."""
    return ["XXXXXXXXXXXXXXXXXXXXXXXX", PATH]


CASES = [
    Case("ok", lambda s: {"url": url(s)}, ok("HTTP 200 ok")),
    Case(
        "rate-limited",
        lambda s: {"url": url(s)},
        retry("HTTP 429", after=30.0),
        script=lambda s: s.answer_next(Answer.text("rate_limited", 429, **{"Retry-After": "30"})),
        secrets=token,
    ),
    Case(
        "invalid-token",
        lambda s: {"url": url(s)},
        fail("HTTP 403 Forbidden: invalid_token"),
        script=lambda s: s.answer_next(Answer.text("invalid_token", 403)),
        secrets=token,
    ),
    Case(
        "no-service",
        lambda s: {"url": url(s)},
        fail("HTTP 404 Not Found: no_service"),
        script=lambda s: s.answer_next(Answer.text("no_service", 404)),
        secrets=token,
    ),
    Case(
        "server-error",
        lambda s: {"url": url(s)},
        retry("HTTP 500", after=None),
        script=lambda s: s.fail_next(1, 500),
        secrets=token,
    ),
    Case(
        "unexpected-200",
        lambda s: {"url": url(s)},
        fail("not 'ok'"),
        script=lambda s: s.answer_next(Answer.text("<html>login</html>")),
    ),
]


@pytest.fixture(name="hook")
def _hook(make_sink: Callable[..., WebhookSink]) -> WebhookSink:
    """A sink answering ``200 ok``."""
    return make_sink(slack_sink().default)


class TestMrkdwn:
    """Markdown to Slack mrkdwn."""

    def test_conversion(self) -> None:
        """Headings become bold, ** becomes *, &<> are escaped except a leading quote."""
        assert to_mrkdwn("#### VI_1 -> MASTER\n> node **lb1** <x> & y") == (
            "*VI_1 -&gt; MASTER*\n> node *lb1* &lt;x&gt; &amp; y"
        )


class TestSlackNotifier:
    """Delivery to a Slack incoming webhook."""

    @pytest.mark.parametrize("case", params(CASES))
    def test_table(self, hook: WebhookSink, case: Case) -> None:
        """Each case ends as its table row says, and its errors leak no webhook path."""
        run_case("slack", case, hook)

    def test_payload(self, hook: WebhookSink) -> None:
        """The body is {"text": mrkdwn}."""
        deliver(make("slack", {"url": url(hook)}), sample(markdown="**MASTER**"))
        assert hook.bodies == [{"text": "*MASTER*"}]
