"""The ``feishu`` channel against FakeFeishu (real HTTP on 127.0.0.1)."""

from __future__ import annotations

import pytest

from kakit.exceptions import ConfigError
from kakit.notifiers.base import RetryableError
from kakit.notifiers.feishu import FeishuNotifier, sign
from tests.fakes.feishu import FakeFeishu
from tests.fakes.http import Answer
from tests.notifiers.runner import Case, deliver, fail, make, ok, params, retry, run_case, sample

TOKEN = "3e0c6a0e-5f3b-4a8e-9d2c-7b1a4f6e8d90"
SECRET = "fs-secret-9Jk2mQ7pLx"
PLAIN = "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d"
KEYWORDS = "11111111-2222-4333-8444-555555555555"


@pytest.fixture(name="bots")
def _bots(feishu: FakeFeishu) -> FakeFeishu:
    """FakeFeishu with a signed bot, an unsigned one and one with keywords."""
    feishu.add_bot(TOKEN, SECRET)
    feishu.add_bot(PLAIN)
    feishu.add_bot(KEYWORDS, keywords=("keepalived",))
    return feishu


def secrets(server: FakeFeishu) -> list[str]:
    """What no Feishu error message may contain."""
    return [TOKEN, SECRET, PLAIN, KEYWORDS]


CASES = [
    Case("signed", lambda s: {"url": s.url_for(TOKEN), "secret": SECRET}, ok("code 0 success")),
    Case("unsigned", lambda s: {"url": s.url_for(PLAIN)}, ok("code 0")),
    Case(
        "wrong-secret",
        lambda s: {"url": s.url_for(TOKEN), "secret": "nope"},
        fail("code 19021 sign match fail"),
        secrets=secrets,
    ),
    Case(
        "unsigned-to-signed-bot",
        lambda s: {"url": s.url_for(TOKEN)},
        fail("code 19021"),
        secrets=secrets,
    ),
    Case(
        "keywords",
        lambda s: {"url": s.url_for(KEYWORDS)},
        fail("code 19024 Key Words Not Found"),
        secrets=secrets,
    ),
    Case(
        "unknown-token",
        lambda s: {"url": s.url_for("00000000-0000-4000-8000-000000000000")},
        fail("code 19001"),
        secrets=lambda s: ["00000000-0000-4000-8000-000000000000"],
    ),
    Case(
        "ip-not-allowed",
        lambda s: {"url": s.url_for(PLAIN)},
        fail("code 19022 Ip Not Allowed"),
        script=lambda s: s.answer_next(
            Answer.json({"code": 19022, "msg": "Ip Not Allowed", "data": {}})
        ),
    ),
    Case(
        "too-many-requests-9499",
        lambda s: {"url": s.url_for(PLAIN)},
        retry("code 9499"),
        script=lambda s: s.answer_next(
            Answer.json({"code": 9499, "msg": "too many request", "data": {}})
        ),
    ),
    Case(
        "legacy-status-code",
        lambda s: {"url": s.url_for(PLAIN)},
        ok("code 0 success"),
        script=lambda s: s.answer_next(Answer.json({"StatusCode": 0, "StatusMessage": "success"})),
    ),
    Case(
        "http-502",
        lambda s: {"url": s.url_for(PLAIN)},
        retry("HTTP 502"),
        script=lambda s: s.fail_next(1, 502),
        secrets=secrets,
    ),
    Case(
        "http-404-html",
        lambda s: {"url": s.url_for(PLAIN)},
        fail("HTTP 404"),
        script=lambda s: s.fail_next(1, 404, b"<html>not found</html>"),
        secrets=secrets,
    ),
]


class TestFeishuSign:
    """Feishu's signature."""

    def test_vector(self) -> None:
        """The documented test vector: ts 1700000000, secret test-secret."""
        assert sign("test-secret", 1700000000) == "mbm4Y4oluIPQ00qlBIhX8vAZ0EKv3nw0LuTb91jPL84="

    def test_sign_in_body_in_seconds(self, bots: FakeFeishu) -> None:
        """timestamp (seconds, as a string) and sign travel in the JSON body, not the URL."""
        deliver(make("feishu", {"url": bots.url_for(TOKEN), "secret": SECRET}))
        request = bots.requests[-1]
        body = request.json
        assert request.raw_query == ""
        assert isinstance(body["timestamp"], str) and len(body["timestamp"]) == 10
        assert body["sign"] == sign(SECRET, int(body["timestamp"]))


class TestFeishuNotifier:
    """Delivery to a Feishu/Lark bot."""

    @pytest.mark.parametrize("case", params(CASES))
    def test_table(self, bots: FakeFeishu, case: Case) -> None:
        """Each case ends as its table row says, and its errors leak no token or secret."""
        run_case("feishu", case, bots)

    def test_text_payload(self, bots: FakeFeishu) -> None:
        """The message text is sent as msg_type text."""
        deliver(make("feishu", {"url": bots.url_for(PLAIN)}), sample(text="VI_1 -> MASTER"))
        assert bots.accepted == [{"msg_type": "text", "content": {"text": "VI_1 -> MASTER"}}]

    def test_rate_limit_is_retryable(self) -> None:
        """Past the bot's limit the 11232 answer is a RetryableError."""
        with FakeFeishu(limit=2) as server:
            server.add_bot(PLAIN)
            notifier = make("feishu", {"url": server.url_for(PLAIN)})
            deliver(notifier)
            deliver(notifier)
            with pytest.raises(RetryableError, match="code 11232"):
                deliver(notifier)

    def test_clock_skew_refused(self, bots: FakeFeishu) -> None:
        """A clock more than an hour off is refused with 19021 (permanent)."""
        bots.skew = -7200
        with pytest.raises(Exception, match="19021"):
            deliver(make("feishu", {"url": bots.url_for(TOKEN), "secret": SECRET}))

    def test_options(self) -> None:
        """secret and secret_file exclude each other; rate limit 100 a minute."""
        with pytest.raises(ConfigError, match="not both"):
            make("feishu", {"url": "https://open.feishu.cn/x", "secret": "a", "secret_file": "/a"})
        assert FeishuNotifier.rate_limit == (100, 60.0)
