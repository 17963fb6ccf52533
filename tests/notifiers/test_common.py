"""Helpers shared by the HTTP channels."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from kakit.notifiers.base import PermanentError, RetryableError
from kakit.notifiers.common import (
    endpoint,
    fit_json,
    redact,
    request,
    retry_after,
    shorten,
    status_error,
    url_secrets,
)


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
        body, shortened = fit_json(lambda t: {"text": t}, text, 5000, "\n…")
        assert shortened and 4980 <= len(body) <= 5000
        assert json.loads(body)["text"].endswith("\n…")


class TestStatus:
    """HTTP status classification."""

    @pytest.mark.parametrize(
        ("status", "error"),
        [
            (500, RetryableError),
            (503, RetryableError),
            (429, RetryableError),
            (408, RetryableError),
            (400, PermanentError),
            (401, PermanentError),
            (404, PermanentError),
            (301, PermanentError),
        ],
    )
    def test_classes(self, status: int, error: type) -> None:
        """408, 429 and 5xx are retryable; other statuses permanent."""
        response = httpx.Response(status, text="nope")
        assert isinstance(status_error("x channel 'y'", response, []), error)

    def test_retry_after_seconds_and_date(self) -> None:
        """Retry-After is read as seconds or as an HTTP date."""
        assert retry_after(httpx.Response(429, headers={"Retry-After": "12"})) == 12.0
        later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
        seconds = retry_after(httpx.Response(503, headers={"Retry-After": later}))
        assert seconds is not None and 25 <= seconds <= 31
        assert retry_after(httpx.Response(503, headers={"Retry-After": "soon"})) is None


class TestRequest:
    """One request with httpx errors translated (MockTransport: no socket needed)."""

    def run(
        self, handler: object, url: str = "https://x.example/hook?key=SECRETKEY"
    ) -> httpx.Response:
        async def go() -> httpx.Response:
            async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:  # type: ignore[arg-type]
                return await request(
                    client,
                    "webhook channel 'h'",
                    "POST",
                    url,
                    seconds=1,
                    secrets=url_secrets(url),
                    params={"a": "b+c"},
                )

        return asyncio.run(go())

    def test_params_added_to_query(self) -> None:
        """params join the URL's own query, encoded once."""
        seen: list[httpx.Request] = []

        def handler(req: httpx.Request) -> httpx.Response:
            seen.append(req)
            return httpx.Response(200)

        self.run(handler)
        assert str(seen[0].url) == "https://x.example/hook?key=SECRETKEY&a=b%2Bc"

    def test_timeout_is_retryable(self) -> None:
        """A timeout becomes RetryableError naming the endpoint only."""

        def handler(req: httpx.Request) -> httpx.Response:
            raise httpx.ReadTimeout("timed out", request=req)

        with pytest.raises(
            RetryableError, match=r"no answer from https://x.example within 1 s"
        ) as caught:
            self.run(handler)
        assert "SECRETKEY" not in str(caught.value)

    def test_unsupported_scheme_is_permanent(self) -> None:
        """A URL httpx cannot request at all is a PermanentError."""
        url = "ftp://x.example/?key=SECRETKEY"

        async def go() -> httpx.Response:
            async with httpx.AsyncClient() as client:
                return await request(
                    client, "webhook channel 'h'", "POST", url, seconds=1, secrets=url_secrets(url)
                )

        with pytest.raises(PermanentError, match=r"cannot request ftp://x\.example") as caught:
            asyncio.run(go())
        assert "SECRETKEY" not in str(caught.value)
