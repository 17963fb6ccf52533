"""The ``telegram`` channel against a WebhookSink answering like the Bot API."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from kakit.exceptions import ConfigError
from kakit.notifiers.telegram import TelegramNotifier
from tests.fakes.http import Answer
from tests.fakes.webhook import WebhookSink, telegram_sink
from tests.notifiers.runner import Case, deliver, fail, make, ok, params, retry, run_case, sample

BOT_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


def options(server: WebhookSink) -> dict[str, object]:
    """Channel options pointing the API at ``server``."""
    return {"bot_token": BOT_TOKEN, "chat_id": -1001234567890, "api_url": server.url}


def error(code: int, description: str, **parameters: int) -> Callable[[WebhookSink], None]:
    """Script: answer the next request with a Bot API error."""
    payload: dict[str, object] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        payload["parameters"] = parameters
    return lambda s: s.answer_next(Answer.json(payload, status=code))


def token(server: WebhookSink) -> list[str]:
    """What no Telegram error message may contain."""
    return [BOT_TOKEN, "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"]


CASES = [
    Case("ok", options, ok("ok message_id 42")),
    Case(
        "flood",
        options,
        retry("error 429: Too Many Requests: retry after 5", after=5.0),
        script=error(429, "Too Many Requests: retry after 5", retry_after=5),
        secrets=token,
    ),
    Case(
        "chat-not-found",
        options,
        fail("error 400: Bad Request: chat not found"),
        script=error(400, "Bad Request: chat not found"),
        secrets=token,
    ),
    Case(
        "unauthorized",
        options,
        fail("error 401: Unauthorized"),
        script=error(401, "Unauthorized"),
        secrets=token,
    ),
    Case(
        "blocked",
        options,
        fail("error 403"),
        script=error(403, "Forbidden: bot was blocked by the user"),
    ),
    Case("not-found", options, fail("error 404"), script=error(404, "Not Found"), secrets=token),
    Case(
        "bad-gateway",
        options,
        retry("HTTP 502"),
        script=lambda s: s.fail_next(1, 502, b"<html>Bad Gateway</html>"),
        secrets=token,
    ),
]


@pytest.fixture(name="api")
def _api(make_sink: Callable[..., WebhookSink]) -> WebhookSink:
    """A sink answering like ``sendMessage``."""
    return make_sink(telegram_sink().default)


class TestTelegramOptions:
    """Validation of the channel's options."""

    def test_token_required(self) -> None:
        """Neither bot_token nor bot_token_file is a configuration error."""
        with pytest.raises(ConfigError, match="bot_token or bot_token_file"):
            make("telegram", {"chat_id": 1})

    @pytest.mark.parametrize(
        ("value", "parsed"), [(-100123, -100123), ("-100123", -100123), ("@ops", "@ops")]
    )
    def test_chat_id(self, value: object, parsed: object) -> None:
        """chat_id may be a number, a numeric string or @channelusername."""
        notifier = make("telegram", {"bot_token": BOT_TOKEN, "chat_id": value})
        assert isinstance(notifier, TelegramNotifier)
        assert notifier.options.chat_id == parsed

    def test_bad_chat_id(self) -> None:
        """Anything else is refused."""
        with pytest.raises(ConfigError, match="chat id"):
            make("telegram", {"bot_token": BOT_TOKEN, "chat_id": "ops"})


class TestTelegramNotifier:
    """Delivery through the Bot API."""

    @pytest.mark.parametrize("case", params(CASES))
    def test_table(self, api: WebhookSink, case: Case) -> None:
        """Each case ends as its table row says, and its errors leak no bot token."""
        run_case("telegram", case, api)

    def test_request(self, api: WebhookSink) -> None:
        """POST /bot<token>/sendMessage with chat_id, HTML-escaped text and parse_mode HTML."""
        deliver(make("telegram", options(api)), sample(text="VI_1 <BACKUP> -> MASTER & co"))
        (request,) = api.requests
        assert request.path == f"/bot{BOT_TOKEN}/sendMessage"
        assert request.json == {
            "chat_id": -1001234567890,
            "text": "VI_1 &lt;BACKUP&gt; -&gt; MASTER &amp; co",
            "parse_mode": "HTML",
            "disable_notification": False,
        }

    def test_token_file(self, api: WebhookSink, tmp_path: Path) -> None:
        """bot_token_file is read at send time."""
        path = tmp_path / "bot.token"
        path.write_text(BOT_TOKEN)
        deliver(
            make("telegram", {"bot_token_file": str(path), "chat_id": "@ops", "api_url": api.url})
        )
        assert api.requests[0].path == f"/bot{BOT_TOKEN}/sendMessage"

    def test_long_text_cut(self, api: WebhookSink) -> None:
        """Text over 4096 characters is cut with a marker."""
        deliver(make("telegram", options(api)), sample(text="x" * 5000))
        text = api.bodies[0]["text"]
        assert len(text) == 4096 and text.endswith("(truncated)")
