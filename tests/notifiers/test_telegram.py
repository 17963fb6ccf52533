"""The ``telegram`` channel against a WebhookSink answering like the Bot API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.fakes.http import Answer
from tests.fakes.webhook import WebhookSink, telegram_sink
from tests.notifiers.runner import Case, Ctx, fail, invalid, ok, params, retry, run_case, sample

BOT_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


def bot(**extra: Any) -> Callable[[Ctx], dict[str, Any]]:
    """Options pointing the API at the running sink, plus ``extra``."""
    return lambda c: {
        "bot_token": BOT_TOKEN,
        "chat_id": -1001234567890,
        "api_url": c.server.url,
        **extra,
    }


def error(code: int, description: str, **parameters: int) -> Callable[[WebhookSink], None]:
    """Script: answer the next request with a Bot API error."""
    payload: dict[str, object] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        payload["parameters"] = parameters
    return lambda s: s.answer_next(Answer.json(payload, status=code))


def send_message(c: Ctx, _: object) -> None:
    """POST /bot<token>/sendMessage with chat_id, HTML-escaped text and parse_mode HTML."""
    (request,) = c.server.requests
    assert request.path == f"/bot{BOT_TOKEN}/sendMessage"
    assert request.json == {
        "chat_id": -1001234567890,
        "text": "VI_1 &lt;BACKUP&gt; -&gt; MASTER &amp; co",
        "parse_mode": "HTML",
        "disable_notification": False,
    }


def chat_id_is(expected: int | str) -> Callable[[Ctx, object], None]:
    """Check: the request went to chat ``expected``, with the token from the file."""

    def check(c: Ctx, _: object) -> None:
        assert c.server.requests[0].json["chat_id"] == expected
        assert c.server.requests[0].path == f"/bot{BOT_TOKEN}/sendMessage"

    return check


def cut_to_4096(c: Ctx, _: object) -> None:
    """Text over 4096 characters is cut with a marker."""
    text = c.server.bodies[0]["text"]
    assert len(text) == 4096 and text.endswith("(truncated)")


CASES = [
    Case(
        "ok",
        bot(),
        ok("ok message_id 42"),
        message=sample(text="VI_1 <BACKUP> -> MASTER & co"),
        check=send_message,
    ),
    Case(
        "token-file-and-channel-name",
        lambda c: {
            "bot_token_file": c.file("bot.token", BOT_TOKEN),
            "chat_id": "@ops",
            "api_url": c.server.url,
        },
        ok("ok"),
        check=chat_id_is("@ops"),
    ),
    Case("chat-id-string", bot(chat_id="-100123"), ok("ok"), check=chat_id_is(-100123)),
    Case("long-text", bot(), ok("ok"), message=sample(text="x" * 5000), check=cut_to_4096),
    Case(
        "flood",
        bot(),
        retry("error 429: Too Many Requests: retry after 5", after=5.0),
        script=error(429, "Too Many Requests: retry after 5", retry_after=5),
    ),
    Case(
        "chat-not-found",
        bot(),
        fail("error 400: Bad Request: chat not found"),
        script=error(400, "Bad Request: chat not found"),
    ),
    Case("unauthorized", bot(), fail("error 401: Unauthorized"), script=error(401, "Unauthorized")),
    Case("blocked", bot(), fail("error 403"), script=error(403, "Forbidden: bot was blocked")),
    Case("not-found", bot(), fail("error 404"), script=error(404, "Not Found")),
    Case(
        "conflict",
        bot(),
        fail("error 409", "(HTTP 409)"),
        script=error(409, "Conflict"),
    ),
    Case(
        "server-error-json",
        bot(),
        retry("error 500"),
        script=error(500, "Internal Server Error"),
    ),
    Case(
        "bad-gateway-html",
        bot(),
        retry("HTTP 502"),
        script=lambda s: s.fail_next(1, 502, b"<html>Bad Gateway</html>"),
    ),
    Case("token-required", lambda c: {"chat_id": 1}, invalid("bot_token or bot_token_file")),
    Case("bad-chat-id", bot(chat_id="ops"), invalid("chat id")),
]


@pytest.fixture(name="api")
def _api(make_sink: Callable[..., WebhookSink]) -> WebhookSink:
    """A sink answering like ``sendMessage``."""
    return make_sink(telegram_sink().default)


class TestTelegramNotifier:
    """Delivery through the Bot API."""

    @pytest.mark.parametrize("case", params(CASES))
    def test_table(self, api: WebhookSink, ctx: Ctx, case: Case) -> None:
        """Each row ends as it says, and its errors leak no bot token."""
        run_case("telegram", case, ctx, api)
