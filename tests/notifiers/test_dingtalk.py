"""The ``dingtalk`` channel against FakeDingTalk (real HTTP on 127.0.0.1)."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pytest

from kakit.exceptions import ConfigError
from kakit.notifiers.base import PermanentError, RetryableError
from kakit.notifiers.dingtalk import DingtalkNotifier, sign, with_mentions
from tests.fakes.dingtalk import FakeDingTalk
from tests.fakes.http import Answer
from tests.fakes.smtp import free_port
from tests.notifiers.runner import (
    Case,
    deliver,
    fail,
    make,
    ok,
    params,
    retry,
    run_case,
    sample,
)

TOKEN = "5f1d3c9a0b7e4d2c8a6f1e3b5d7c9a0b2e4f6a8c1d3e5f7a9b0c2d4e6f8a1b3c"
SECRET = "SEC0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8"
PLAIN = "0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b"
KEYWORDS = "7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d"
UNKNOWN = "1111111111111111111111111111111111111111111111111111111111111111"


@pytest.fixture(name="robots")
def _robots(dingtalk: FakeDingTalk) -> FakeDingTalk:
    """FakeDingTalk with a signed robot, an unsigned one and one with keywords."""
    dingtalk.add_robot(TOKEN, SECRET)
    dingtalk.add_robot(PLAIN)
    dingtalk.add_robot(KEYWORDS, keywords=("keepalived",))
    return dingtalk


def secrets(server: FakeDingTalk) -> list[str]:
    """What no DingTalk error message may contain."""
    return [TOKEN, SECRET, PLAIN, KEYWORDS, UNKNOWN]


CASES = [
    Case(
        "signed-markdown",
        lambda s: {"url": s.url_for(TOKEN), "secret": SECRET},
        ok("errcode 0 ok"),
    ),
    Case(
        "signed-text",
        lambda s: {"url": s.url_for(TOKEN), "secret": SECRET, "msgtype": "text"},
        ok("errcode 0"),
    ),
    Case("unsigned", lambda s: {"url": s.url_for(PLAIN)}, ok("errcode 0")),
    Case(
        "wrong-secret",
        lambda s: {"url": s.url_for(TOKEN), "secret": "SECwrong"},
        fail("errcode 310000 sign not match"),
        secrets=lambda s: [*secrets(s), "SECwrong"],
    ),
    Case(
        "signing-missing",
        lambda s: {"url": s.url_for(TOKEN)},
        fail("errcode 310000 invalid timestamp"),
    ),
    Case(
        "unknown-token",
        lambda s: {"url": s.url_for(UNKNOWN)},
        fail("errcode 300001 token is not exist"),
        secrets=secrets,
    ),
    Case(
        "keywords-missing",
        lambda s: {"url": s.url_for(KEYWORDS)},
        fail("errcode 310000 keywords not in content"),
        secrets=secrets,
    ),
    Case(
        "keywords-present",
        lambda s: {"url": s.url_for(KEYWORDS), "msgtype": "text"},
        ok("errcode 0"),
        message=sample(text="keepalived: VI_1 -> MASTER"),
    ),
    Case(
        "http-500",
        lambda s: {"url": s.url_for(TOKEN), "secret": SECRET},
        retry("HTTP 500", after=None),
        script=lambda s: s.fail_next(1, 500),
        secrets=secrets,
    ),
    Case(
        "http-429-retry-after",
        lambda s: {"url": s.url_for(TOKEN), "secret": SECRET},
        retry("HTTP 429", after=7.0),
        script=lambda s: s.fail_next(1, 429, **{"Retry-After": "7"}),
    ),
    Case(
        "http-404",
        lambda s: {"url": s.url_for(TOKEN), "secret": SECRET},
        fail("HTTP 404"),
        script=lambda s: s.fail_next(1, 404, b"no such robot"),
    ),
    Case(
        "throttled-130101",
        lambda s: {"url": s.url_for(PLAIN)},
        retry("errcode 130101", after=60.0),
        script=lambda s: s.answer_next(
            Answer.json({"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"})
        ),
    ),
    Case(
        "throttled-410100",
        lambda s: {"url": s.url_for(PLAIN)},
        retry("errcode 410100", after=60.0),
        script=lambda s: s.answer_next(
            Answer.json({"errcode": 410100, "errmsg": "发送速度太快而限流"})
        ),
    ),
    Case(
        "busy-minus-1",
        lambda s: {"url": s.url_for(PLAIN)},
        retry("errcode -1 系统繁忙", after=None),
        script=lambda s: s.answer_next(Answer.json({"errcode": -1, "errmsg": "系统繁忙"})),
    ),
    Case(
        "robot-stopped",
        lambda s: {"url": s.url_for(PLAIN)},
        fail("errcode 400102 bot is stopped"),
        script=lambda s: s.answer_next(
            Answer.json({"errcode": 400102, "errmsg": "bot is stopped"})
        ),
    ),
    Case(
        "not-dingtalk-json",
        lambda s: {"url": s.url_for(PLAIN)},
        fail("without a DingTalk errcode"),
        script=lambda s: s.answer_next(Answer.text("<html>captive portal</html>")),
    ),
    Case(
        "hangs",
        lambda s: {"url": s.url_for(TOKEN), "secret": SECRET, "timeout": "300ms"},
        retry("no answer from http://127.0.0.1", after=None),
        script=lambda s: s.hang_next(1, 30),
        secrets=secrets,
    ),
]


class TestSign:
    """The 加签 signature."""

    def test_vector(self) -> None:
        """The documented test vector: ts 1700000000000, secret SECtest."""
        assert sign("SECtest", 1700000000000) == "aZLLrriXgn05YbwaGR7knYsLeJADjr9NwLaNNKpxh4g="

    def test_signed_request_encodes_sign_once_and_keeps_token(self, robots: FakeDingTalk) -> None:
        """The sign travels percent-encoded exactly once, beside the access_token it joins."""
        deliver(make("dingtalk", {"url": robots.url_for(TOKEN), "secret": SECRET}))
        request = robots.requests[-1]
        raw = dict(part.split("=", 1) for part in request.raw_query.split("&"))
        assert raw["access_token"] == TOKEN
        timestamp = int(raw["timestamp"])
        assert raw["sign"] == quote(sign(SECRET, timestamp), safe="")
        assert "%25" not in request.raw_query


class TestDingtalkOptions:
    """Validation of the channel's options at configuration time."""

    def test_secret_and_secret_file_exclusive(self, tmp_path: Path) -> None:
        """Giving both secret and secret_file is a configuration error."""
        with pytest.raises(ConfigError, match="secret or secret_file, not both"):
            make(
                "dingtalk",
                {"url": "https://x/robot/send?access_token=t", "secret": "a", "secret_file": "/k"},
            )

    def test_url_must_be_http(self) -> None:
        """An inline url that is not http(s) is refused without repeating it."""
        with pytest.raises(ConfigError) as caught:
            make("dingtalk", {"url": "oapi.dingtalk.com/robot/send?access_token=" + TOKEN})
        assert "expected url to start with https:// or http://" in str(caught.value)
        assert TOKEN not in str(caught.value)

    def test_mobiles_as_numbers(self) -> None:
        """Phone numbers written as YAML integers are accepted as strings."""
        notifier = make(
            "dingtalk", {"url": "https://x/s?access_token=t", "at_mobiles": [13800000000]}
        )
        assert isinstance(notifier, DingtalkNotifier)
        assert notifier.options.at_mobiles == ("13800000000",)

    def test_defaults(self) -> None:
        """markdown, 5 s timeout, 20000 bytes, 20 messages a minute."""
        notifier = make("dingtalk", {"url": "https://x/s?access_token=t"})
        assert isinstance(notifier, DingtalkNotifier)
        opts = notifier.options
        assert (opts.msgtype, opts.timeout, opts.max_bytes) == ("markdown", 5.0, 20000)
        assert DingtalkNotifier.rate_limit == (20, 60.0)

    def test_url_is_masked(self) -> None:
        """The url is marked secret so printed configurations mask it."""
        from kakit.core.record import fields
        from kakit.notifiers.dingtalk import DingtalkOptions

        specs = fields(DingtalkOptions)
        assert specs["url"].secret and specs["secret"].secret and specs["secret_file"].secret


class TestDingtalkNotifier:
    """Delivery to a DingTalk robot."""

    @pytest.mark.parametrize("case", params(CASES))
    def test_table(self, robots: FakeDingTalk, case: Case) -> None:
        """Each case ends as its table row says, and its errors leak no token or secret."""
        run_case("dingtalk", case, robots)

    def test_accepted_markdown_payload(self, robots: FakeDingTalk) -> None:
        """A markdown message carries the title and the markdown body."""
        deliver(make("dingtalk", {"url": robots.url_for(TOKEN), "secret": SECRET}))
        (payload,) = robots.accepted
        assert payload["msgtype"] == "markdown"
        assert payload["markdown"]["title"] == "lb1 VI_1 BACKUP -> MASTER"
        assert payload["markdown"]["text"].startswith("#### VI_1 BACKUP -> MASTER")
        assert robots.requests[-1].headers["content-type"] == "application/json;charset=utf-8"

    def test_secret_from_file(self, robots: FakeDingTalk, tmp_path: Path) -> None:
        """secret_file is read at send time and signs correctly."""
        path = tmp_path / "ding.secret"
        path.write_text(SECRET + "\n")
        answer = deliver(make("dingtalk", {"url": robots.url_for(TOKEN), "secret_file": str(path)}))
        assert answer == "errcode 0 ok"

    def test_url_from_env(self, robots: FakeDingTalk, monkeypatch: pytest.MonkeyPatch) -> None:
        """The url may come from {env: NAME}."""
        monkeypatch.setenv("KAKIT_TEST_DING_URL", robots.url_for(PLAIN))
        answer = deliver(make("dingtalk", {"url": {"env": "KAKIT_TEST_DING_URL"}}))
        assert answer.startswith("errcode 0")

    def test_missing_secret_file(self, robots: FakeDingTalk, tmp_path: Path) -> None:
        """An unreadable secret file is a permanent failure naming the file."""
        path = tmp_path / "absent.secret"
        notifier = make("dingtalk", {"url": robots.url_for(TOKEN), "secret_file": str(path)})
        with pytest.raises(PermanentError, match=r"cannot read secret file .*absent\.secret"):
            deliver(notifier)

    def test_closed_port(self) -> None:
        """Connection refused is retryable and names only scheme, host and port."""
        port = free_port()
        url = f"http://127.0.0.1:{port}/robot/send?access_token={TOKEN}"
        with pytest.raises(RetryableError) as caught:
            deliver(make("dingtalk", {"url": url, "secret": SECRET}))
        text = str(caught.value)
        assert f"http://127.0.0.1:{port}" in text
        assert TOKEN not in text and SECRET not in text

    def test_at_mobile_inserted_in_text(self, robots: FakeDingTalk) -> None:
        """Each at_mobile appears as @<mobile> in the text and in at.atMobiles."""
        notifier = make(
            "dingtalk",
            {
                "url": robots.url_for(PLAIN),
                "msgtype": "text",
                "at_mobiles": ["13800000000", 13900000000],
                "at_user_ids": ["user123"],
            },
        )
        deliver(notifier)
        (payload,) = robots.accepted
        content = payload["text"]["content"]
        assert "@13800000000" in content and "@13900000000" in content and "@user123" in content
        assert payload["at"] == {
            "atMobiles": ["13800000000", "13900000000"],
            "atUserIds": ["user123"],
            "isAtAll": False,
        }

    def test_at_mobile_inserted_in_markdown(self, robots: FakeDingTalk) -> None:
        """Mentions are appended to markdown too, once, and is_at_all is passed."""
        notifier = make(
            "dingtalk",
            {"url": robots.url_for(PLAIN), "at_mobiles": ["13800000000"], "is_at_all": True},
        )
        deliver(notifier, sample(markdown="#### VI_1 -> MASTER"))
        (payload,) = robots.accepted
        assert payload["markdown"]["text"] == "#### VI_1 -> MASTER\n\n@13800000000"
        assert payload["at"]["isAtAll"] is True

    def test_mention_not_repeated(self) -> None:
        """A mention already in the text is not appended again."""
        assert with_mentions("call @138", ("138",)) == "call @138"
        assert with_mentions("x", ("138", "139")) == "x\n\n@138 @139"

    def test_oversize_body_shortened_and_accepted(self, robots: FakeDingTalk) -> None:
        """A body over 20000 bytes is cut with a marker, keeps its mentions and is accepted."""
        huge = "#### 状态变化\n" + "主备切换详情\n" * 3000  # about 57000 bytes of UTF-8
        notifier = make(
            "dingtalk",
            {"url": robots.url_for(TOKEN), "secret": SECRET, "at_mobiles": ["13800000000"]},
        )
        answer = deliver(notifier, sample(markdown=huge, language="zh"))
        assert "shortened" in answer
        (payload,) = robots.accepted
        text = payload["markdown"]["text"]
        assert "已截断" in text and text.endswith("@13800000000")
        body = robots.requests[-1].body
        assert 19000 < len(body) <= 20000
        assert json.loads(body) == payload

    def test_smaller_max_bytes(self, robots: FakeDingTalk) -> None:
        """max_bytes lowers the limit the body is shortened to."""
        notifier = make("dingtalk", {"url": robots.url_for(PLAIN), "max_bytes": 2000})
        deliver(notifier, sample(markdown="x\n" * 5000))
        assert len(robots.requests[-1].body) <= 2000

    def test_timestamp_within_an_hour_accepted(self, robots: FakeDingTalk) -> None:
        """A clock 50 minutes off still signs acceptably."""
        robots.skew = 50 * 60
        assert (
            deliver(make("dingtalk", {"url": robots.url_for(TOKEN), "secret": SECRET}))
            == "errcode 0 ok"
        )

    @pytest.mark.parametrize("skew", [2 * 3600, -2 * 3600])
    def test_timestamp_outside_window_refused(self, robots: FakeDingTalk, skew: int) -> None:
        """A clock more than an hour off gets the permanent 310000 invalid timestamp."""
        robots.skew = skew
        with pytest.raises(PermanentError, match="310000 invalid timestamp") as caught:
            deliver(make("dingtalk", {"url": robots.url_for(TOKEN), "secret": SECRET}))
        assert "clock" in str(caught.value)

    def test_21st_message_in_a_window_is_throttled(self, robots: FakeDingTalk) -> None:
        """20 messages pass; the 21st gets 130101 as a RetryableError with retry_after."""
        notifier = make("dingtalk", {"url": robots.url_for(TOKEN), "secret": SECRET})
        for number in range(20):
            deliver(notifier, sample(text=f"message {number}"))
        with pytest.raises(RetryableError, match="errcode 130101") as caught:
            deliver(notifier)
        assert caught.value.retry_after == 60.0
        assert len(robots.accepted) == 20

    def test_window_reopens(self) -> None:
        """After the rate window the robot accepts again (fast window for the test)."""
        with FakeDingTalk(limit=2, window=0.3) as server:
            server.add_robot(PLAIN)
            notifier = make("dingtalk", {"url": server.url_for(PLAIN)})
            deliver(notifier)
            deliver(notifier)
            with pytest.raises(RetryableError):
                deliver(notifier)
            import time

            time.sleep(0.35)
            assert deliver(notifier) == "errcode 0 ok"
            assert len(server.accepted) == 3

    def test_messages_recorded_in_order(self, robots: FakeDingTalk) -> None:
        """Accepted messages are recorded in the order they were sent."""
        notifier = make("dingtalk", {"url": robots.url_for(PLAIN), "msgtype": "text"})
        for state in ("BACKUP", "MASTER", "FAULT"):
            deliver(notifier, sample(text=f"VI_1 -> {state}"))
        assert [p["text"]["content"] for p in robots.accepted] == [
            "VI_1 -> BACKUP",
            "VI_1 -> MASTER",
            "VI_1 -> FAULT",
        ]


class TestNoSecretInErrors:
    """Error messages never contain the access token or the signing secret."""

    def test_platform_echoing_the_token(self, robots: FakeDingTalk) -> None:
        """A platform answer that quotes the token is redacted."""
        robots.answer_next(
            Answer.json({"errcode": 300001, "errmsg": f"token {TOKEN} is not exist"})
        )
        with pytest.raises(PermanentError) as caught:
            deliver(make("dingtalk", {"url": robots.url_for(TOKEN), "secret": SECRET}))
        assert "300001" in str(caught.value) and TOKEN not in str(caught.value)
        assert "***" in str(caught.value)

    def test_error_body_quoting_url_and_secret(self, robots: FakeDingTalk) -> None:
        """A 5xx body quoting the URL and secret is redacted."""
        url = robots.url_for(TOKEN)
        robots.fail_next(1, 502, f"upstream {url} failed, secret={SECRET}".encode())
        with pytest.raises(RetryableError) as caught:
            deliver(make("dingtalk", {"url": url, "secret": SECRET}))
        text = str(caught.value)
        assert "HTTP 502" in text
        assert TOKEN not in text and SECRET not in text

    def test_every_failure_mode(self, robots: FakeDingTalk) -> None:
        """Timeout, refusal, throttling and security errors all keep the secrets out."""
        url = robots.url_for(TOKEN)
        robots.hang_next(1, 30)
        robots.fail_next(1, 503)
        robots.answer_next(Answer.json({"errcode": 130101, "errmsg": "send too fast"}))
        notifier = make("dingtalk", {"url": url, "secret": SECRET, "timeout": 0.3})
        wrong = make("dingtalk", {"url": url, "secret": "SECnope"})
        errors = []
        for channel in (notifier, notifier, notifier, wrong):
            with pytest.raises((RetryableError, PermanentError)) as caught:
                deliver(channel)
            errors.append(caught.value)
        for error in errors:
            for secret in (TOKEN, SECRET, "SECnope", url):
                assert secret not in str(error) and secret not in repr(error)
