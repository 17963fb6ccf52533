"""The helpers the channels share: redaction, endpoints, cutting texts, Retry-After."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx

from kakit.notifiers.common import endpoint, redact, shorten, url_secrets
from kakit.notifiers.http import fit_json, retry_after


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
