"""The ``slack`` channel against a WebhookSink answering like a Slack incoming webhook."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kakit.notifiers.slack import to_mrkdwn
from tests.fakes.http import Answer
from tests.fakes.webhook import WebhookSink, slack_sink
from tests.notifiers.runner import Case, Ctx, fail, invalid, ok, params, retry, run_case, sample

PATH = "/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"


def hook(c: Ctx) -> dict[str, Any]:
    """Options for the webhook URL of the running sink (its path is the credential)."""
    return {"url": f"{c.server.url}{PATH}"}


def text_payload(c: Ctx, _: object) -> None:
    """The body is {"text": mrkdwn}."""
    assert c.server.bodies == [{"text": "*MASTER*"}]


CASES = [
    Case(
        "ok",
        hook,
        ok("HTTP 200 ok"),
        message=sample(markdown="**MASTER**"),
        check=text_payload,
    ),
    Case(
        "rate-limited",
        hook,
        retry("HTTP 429", after=30.0),
        script=lambda s: s.answer_next(Answer.text("rate_limited", 429, **{"Retry-After": "30"})),
    ),
    Case(
        "invalid-token",
        hook,
        fail("HTTP 403 Forbidden: invalid_token"),
        script=lambda s: s.answer_next(Answer.text("invalid_token", 403)),
    ),
    Case(
        "no-service",
        hook,
        fail("HTTP 404 Not Found: no_service"),
        script=lambda s: s.answer_next(Answer.text("no_service", 404)),
    ),
    Case(
        "server-error-echoing-url",
        hook,
        retry("HTTP 500", after=None),
        script=lambda s: s.fail_next(1, 500, f"failed: {s.url}{PATH}".encode()),
    ),
    Case(
        "unexpected-200",
        hook,
        fail("not 'ok'"),
        script=lambda s: s.answer_next(Answer.text("<html>login</html>")),
    ),
    Case("url-not-http", lambda c: {"url": "hooks.slack.com" + PATH}, invalid("url to start")),
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
    def test_table(self, hook: WebhookSink, ctx: Ctx, case: Case) -> None:
        """Each row ends as it says, and its errors leak no webhook path."""
        run_case("slack", case, ctx, hook)
