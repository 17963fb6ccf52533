"""The helpers the channels share: redaction, endpoints, cutting texts, Retry-After; bounded answers."""

from __future__ import annotations

import base64
import gzip
import json
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from kakit.core.record import frozen, option
from kakit.core.secrets import Secret, secret_map
from kakit.exceptions import DeliveryError, NotifierTimeout
from kakit.notifiers.base import Attempt, Message
from kakit.notifiers.common import endpoint, redact, shorten, url_secrets
from kakit.notifiers.http import (
    MAX_ANSWER_BYTES,
    HttpNotifier,
    HttpRequest,
    UrlOptions,
    decoded,
    fit_json,
    retry_after,
)
from tests.fakes.endless import endless_http
from tests.notifiers.runner import deliver, make

#: What a bounded client lets an endless server write: what it read (MAX_ANSWER_BYTES) plus
#: the kernel's socket buffers on both sides, a few MiB on loopback; the server offers 1 GiB.
BOUND = 16 << 20


class TestRedact:
    """Secrets out of messages."""

    def test_url_parts(self) -> None:
        """Query values, user info and long path segments count as secrets."""
        url = (
            "https://u:pw0rd@hooks.example.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXX?key=abcd&x=1"
        )
        found = url_secrets(url)
        assert {url, "abcd", "pw0rd", "XXXXXXXXXXXXXXXXXXXX"} <= set(found)
        assert "1" not in found and "T000" not in found

    def test_longest_first(self) -> None:
        """A secret containing another is replaced whole."""
        assert (
            redact("see https://x/?t=abcd and abcd", ["abcd", "https://x/?t=abcd"])
            == "see *** and ***"
        )

    def test_endpoint(self) -> None:
        """Only scheme, host and port are shown."""
        assert (
            endpoint("https://user:pw@oapi.dingtalk.com/robot/send?access_token=t")
            == "https://oapi.dingtalk.com"
        )
        assert endpoint("http://[::1]:8080/x") == "http://[::1]:8080"


class TestShorten:
    """Cutting texts to byte limits."""

    def test_character_boundary(self) -> None:
        """A cut never splits a UTF-8 character and includes the marker in the budget."""
        cut = shorten("状态" * 10, 10, "…")
        assert len(cut.encode()) <= 10 and cut.endswith("…")
        assert cut == "状态…"

    def test_fits_unchanged(self) -> None:
        """A text within the limit is returned as it is."""
        assert shorten("abc", 3, "…") == "abc"

    def test_fit_json_is_tight(self) -> None:
        """The body fits and is not much shorter than the limit, despite JSON escaping."""
        text = 'line "quoted"\n' * 2000
        body, note = fit_json(lambda t: {"text": t}, text, 5000, "en")
        assert note == " (text shortened to fit 5000 bytes)" and 4980 <= len(body) <= 5000
        assert json.loads(body)["text"].endswith("\n… (truncated)")


class TestRetryAfter:
    """The Retry-After header."""

    def test_seconds_and_date(self) -> None:
        """Retry-After is read as seconds or as an HTTP date; anything else is ignored."""
        assert retry_after(httpx.Response(429, headers={"Retry-After": "12"})) == 12.0
        later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
        seconds = retry_after(httpx.Response(503, headers={"Retry-After": later}))
        assert seconds is not None and 25 <= seconds <= 31
        assert retry_after(httpx.Response(503, headers={"Retry-After": "soon"})) is None


#: Options of every HTTP channel type, sending to ``url``.
HTTP_CHANNELS: dict[str, Callable[[str], dict[str, Any]]] = {
    "webhook": lambda url: {"url": f"{url}/hook"},
    "alertmanager": lambda url: {"url": url},
    "dingtalk": lambda url: {"url": f"{url}/robot/send?access_token=t0ken-ding"},
    "feishu": lambda url: {"url": f"{url}/open-apis/bot/v2/hook/t0ken-feishu"},
    "wecom": lambda url: {"url": f"{url}/cgi-bin/webhook/send?key=t0ken-wecom"},
    "slack": lambda url: {"url": f"{url}/services/T0/B0/t0ken-slack-0123456789"},
    "telegram": lambda url: {"api_url": url, "chat_id": 1, "bot_token": "1:t0ken-telegram"},
}


class TestBoundedAnswers:
    """A channel reads at most MAX_ANSWER_BYTES of an answer, however much the server sends."""

    @pytest.mark.parametrize("type_name", list(HTTP_CHANNELS))
    def test_huge_answer_is_not_read(self, type_name: str) -> None:
        """A 1 GiB answer: the send ends without a timeout and the server wrote a few MiB at
        most before the client closed (the kernel's buffers, not the body)."""
        with endless_http() as server:
            notifier = make(type_name, {**HTTP_CHANNELS[type_name](server.url), "timeout": 10})
            try:
                deliver(notifier)
            except NotifierTimeout:
                pytest.fail("the send read the answer until its timeout")
            except DeliveryError:
                pass  # 1 GiB of "x" is no platform's answer; only how much was read matters
            assert server.finished.wait(10), "the client never closed the connection"
        assert server.written < BOUND

    def test_endless_chunked_answer_is_not_read(self) -> None:
        """An answer without an end (chunked, never finished) is cut off the same way."""
        with endless_http(chunked=True) as server:
            answer = deliver(make("webhook", {"url": f"{server.url}/hook", "timeout": 10}))
            assert answer.startswith("HTTP 200 from http://127.0.0.1")
            assert server.finished.wait(10), "the client never closed the connection"
        assert server.written < BOUND

    def test_compressed_answer_inflates_to_the_limit_only(self) -> None:
        """64 KiB of gzip holding 64 MiB decode to MAX_ANSWER_BYTES, not more."""
        bomb = gzip.compress(b"\0" * (64 << 20), compresslevel=9)
        assert len(bomb) < MAX_ANSWER_BYTES
        assert len(decoded(bomb, "gzip")) == MAX_ANSWER_BYTES
        raw_deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
        body = raw_deflate.compress(b"{}") + raw_deflate.flush()
        assert decoded(body, "deflate") == b"{}"
        assert decoded(b"\x1b\x00", "br") == b""

    def test_gzip_answer_is_read(self) -> None:
        """A compressed platform answer is still understood (DingTalk's errcode)."""
        payload = gzip.compress(json.dumps({"errcode": 0, "errmsg": "ok"}).encode())

        def answer(request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, content=payload, headers={"Content-Encoding": "gzip"})

        notifier = make("dingtalk", {"url": "https://ding.example/robot/send?access_token=t"})
        assert deliver(notifier, transport=answer) == "errcode 0 ok"


class TestSecretForms:
    """The forms in which a server may echo a secret are redacted too."""

    def test_encodings(self) -> None:
        """Percent-encoded (either case), base64 (padded or not, URL-safe) and JSON-escaped
        forms of a secret are all replaced."""
        secret = "s3cr/t+ key"
        echoes = [
            "s3cr%2Ft%2B%20key",
            "s3cr%2ft%2b%20key",
            "s3cr/t%2B+key",
            base64.b64encode(secret.encode()).decode(),
            base64.urlsafe_b64encode(secret.encode()).decode().rstrip("="),
            json.dumps(secret)[1:-1].replace("/", "\\/"),
        ]
        for echo in echoes:
            assert redact(f"got [{echo}]", [secret]) == "got [***]", echo

    def test_authorization_values(self) -> None:
        """A Bearer token alone, and Basic's user:password and password, are secrets too."""
        basic = "Basic " + base64.b64encode(b"kakit:pr0xy-pass").decode()
        assert redact("user kakit:pr0xy-pass, password pr0xy-pass", [basic]) == (
            "user ***, password ***"
        )
        assert redact("token t0k-123 refused", ["Bearer t0k-123"]) == "token *** refused"

    def test_short_values_kept(self) -> None:
        """A value shorter than four characters is not a credential; a message keeps its 1s."""
        assert redact("HTTP 401", ["1"]) == "HTTP 401"


@frozen
class EchoOptions(UrlOptions):
    """A URL and headers, like a third-party channel's."""

    headers: dict[str, Secret] = option(secret_map, default={}, secret=True)


class EchoNotifier(HttpNotifier[EchoOptions]):
    """A careless channel: its answer is the platform's whole body, not quoted."""

    type_name = "echo"

    def build(self, message: Message, attempt: Attempt) -> HttpRequest:
        """The URL and the configured headers."""
        url = self.reveal_url(self.options.url, attempt)
        return HttpRequest(url, b"{}", headers=attempt.headers(self.options.headers))

    def read(self, response: httpx.Response, request: HttpRequest, attempt: Attempt) -> str:
        """The body as it came."""
        return response.text


class TestAnswersRedacted:
    """What a send returns is stored in the outbox: it has every secret redacted."""

    def test_echoed_request_is_redacted(self) -> None:
        """A server echoing the whole request (URL, Authorization made of the URL's user
        info, header values) yields an answer with none of them."""
        options = EchoOptions(
            url=Secret("inline", "https://kakit:pw-9911@x.example/h/0123456789abcdef?key=k-1234"),
            headers={"X-Token": Secret("inline", "Bearer tok-5566")},
        )

        def echo(request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, text=f"{request.url} {dict(request.headers)}")

        answer = deliver(EchoNotifier("echo", options), transport=echo)
        assert "x.example" in answer
        for secret in (
            "pw-9911",
            "tok-5566",
            "k-1234",
            "0123456789abcdef",
            base64.b64encode(b"kakit:pw-9911").decode(),
        ):
            assert secret not in answer
