"""The ``dingtalk`` channel against FakeDingTalk (real HTTP on 127.0.0.1)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest

from kakit.notifiers.dingtalk import sign, with_mentions
from tests.fakes.dingtalk import FakeDingTalk
from tests.fakes.http import Answer
from tests.notifiers.runner import (
    Case,
    Ctx,
    fail,
    invalid,
    ok,
    params,
    retry,
    run_case,
    sample,
    timeout,
)

TOKEN = "5f1d3c9a0b7e4d2c8a6f1e3b5d7c9a0b2e4f6a8c1d3e5f7a9b0c2d4e6f8a1b3c"
SECRET = "SEC0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8"
PLAIN = "0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b"
KEYWORDS = "7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d"
UNKNOWN = "1111111111111111111111111111111111111111111111111111111111111111"
#: What no DingTalk error may contain, whichever robot the row uses.
TOKENS = (TOKEN, SECRET, PLAIN, KEYWORDS, UNKNOWN)


@pytest.fixture(name="robots")
def _robots(dingtalk: FakeDingTalk) -> FakeDingTalk:
    """FakeDingTalk with a signed robot, an unsigned one and one with keywords."""
    dingtalk.add_robot(TOKEN, SECRET)
    dingtalk.add_robot(PLAIN)
    dingtalk.add_robot(KEYWORDS, keywords=("keepalived",))
    return dingtalk


def robot(token: str, **extra: Any) -> Callable[[Ctx], dict[str, Any]]:
    """Options for the robot ``token`` of the running server, plus ``extra``."""
    return lambda c: {"url": c.server.url_for(token), **extra}


def answer(code: int, errmsg: str) -> Callable[[FakeDingTalk], None]:
    """Script: the next answer is ``errcode``/``errmsg``."""
    return lambda s: s.answer_next(Answer.json({"errcode": code, "errmsg": errmsg}))


def signed_once(c: Ctx, _: object) -> None:
    """The sign travels percent-encoded exactly once, beside the access_token it joins."""
    request = c.server.requests[-1]
    raw = dict(part.split("=", 1) for part in request.raw_query.split("&"))
    assert raw["access_token"] == TOKEN
    assert raw["sign"] == quote(sign(SECRET, int(raw["timestamp"])), safe="")
    assert "%25" not in request.raw_query


def markdown_payload(c: Ctx, _: object) -> None:
    """A markdown message carries the title and the markdown body, as UTF-8 JSON."""
    (payload,) = c.server.accepted
    assert payload["msgtype"] == "markdown"
    assert payload["markdown"]["title"] == "lb1 VI_1 BACKUP -> MASTER"
    assert payload["markdown"]["text"].startswith("#### VI_1 BACKUP -> MASTER")
    assert c.server.requests[-1].headers["content-type"] == "application/json;charset=utf-8"


def mentions_in_text(c: Ctx, _: object) -> None:
    """Each mention appears as @<who> in the text and in ``at``; YAML numbers become strings."""
    (payload,) = c.server.accepted
    content = payload["text"]["content"]
    assert "@13800000000" in content and "@13900000000" in content and "@user123" in content
    assert payload["at"] == {
        "atMobiles": ["13800000000", "13900000000"],
        "atUserIds": ["user123"],
        "isAtAll": False,
    }


def mentions_in_markdown(c: Ctx, _: object) -> None:
    """Mentions are appended to markdown too, once, and is_at_all is passed."""
    (payload,) = c.server.accepted
    assert payload["markdown"]["text"] == "#### VI_1 -> MASTER\n\n@13800000000"
    assert payload["at"]["isAtAll"] is True


def shortened_to_limit(c: Ctx, _: object) -> None:
    """The body is cut close under 20000 bytes with the marker and keeps its mentions."""
    (payload,) = c.server.accepted
    text = payload["markdown"]["text"]
    assert "已截断" in text and text.endswith("@13800000000")
    body = c.server.requests[-1].body
    assert 19000 < len(body) <= 20000
    assert json.loads(body) == payload


def within_2000_bytes(c: Ctx, _: object) -> None:
    """max_bytes lowers the limit the body is shortened to."""
    assert len(c.server.requests[-1].body) <= 2000


HUGE = "#### 状态变化\n" + "主备切换详情\n" * 3000  # about 57000 bytes of UTF-8

CASES = [
    Case(
        "signed-markdown",
        robot(TOKEN, secret=SECRET),
        ok("errcode 0 ok"),
        check=markdown_payload,
    ),
    Case("signed-once", robot(TOKEN, secret=SECRET), ok("errcode 0"), check=signed_once),
    Case("signed-text", robot(TOKEN, secret=SECRET, msgtype="text"), ok("errcode 0")),
    Case("unsigned", robot(PLAIN), ok("errcode 0")),
    Case(
        "secret-file",
        lambda c: {"url": c.server.url_for(TOKEN), "secret_file": c.file("ding", SECRET + "\n")},
        ok("errcode 0 ok"),
    ),
    Case(
        "url-from-env",
        lambda c: {"url": c.env("KAKIT_TEST_DING_URL", c.server.url_for(PLAIN))},
        ok("errcode 0"),
    ),
    Case(
        "mentions-text",
        robot(
            PLAIN,
            msgtype="text",
            at_mobiles=["13800000000", 13900000000],
            at_user_ids=["user123"],
        ),
        ok("errcode 0"),
        check=mentions_in_text,
    ),
    Case(
        "mentions-markdown",
        robot(PLAIN, at_mobiles=["13800000000"], is_at_all=True),
        ok("errcode 0"),
        message=sample(markdown="#### VI_1 -> MASTER"),
        check=mentions_in_markdown,
    ),
    Case(
        "oversize-shortened",
        robot(TOKEN, secret=SECRET, at_mobiles=["13800000000"]),
        ok("errcode 0", "shortened to fit 20000 bytes"),
        message=sample(markdown=HUGE, language="zh"),
        check=shortened_to_limit,
    ),
    Case(
        "max-bytes",
        robot(PLAIN, max_bytes=2000),
        ok("errcode 0", "shortened"),
        message=sample(markdown="x\n" * 5000),
        check=within_2000_bytes,
    ),
    Case(
        "keywords-present",
        robot(KEYWORDS, msgtype="text"),
        ok("errcode 0"),
        message=sample(text="keepalived: VI_1 -> MASTER"),
    ),
    Case(
        "wrong-secret",
        robot(TOKEN, secret="SECwrong"),
        fail("errcode 310000 sign not match", "signing secret"),
        secrets=TOKENS,
    ),
    Case(
        "signing-missing",
        robot(TOKEN),
        fail("errcode 310000 invalid timestamp", "clock"),
        secrets=TOKENS,
    ),
    Case(
        "unknown-token",
        robot(UNKNOWN),
        fail("errcode 300001 token is not exist", "access token is unknown"),
        secrets=TOKENS,
    ),
    Case(
        "token-echoed",
        robot(TOKEN, secret=SECRET),
        fail("errcode 300001 token *** is not exist"),
        script=answer(300001, f"token {TOKEN} is not exist"),
        secrets=TOKENS,
    ),
    Case(
        "keywords-missing",
        robot(KEYWORDS),
        fail("errcode 310000 keywords not in content"),
        secrets=TOKENS,
    ),
    Case(
        "robot-stopped",
        robot(PLAIN),
        fail("errcode 400102 bot is stopped", "the robot is stopped"),
        script=answer(400102, "bot is stopped"),
    ),
    Case(
        "unknown-errcode",
        robot(PLAIN),
        fail("errcode 777 odd", "unexpected error code"),
        script=answer(777, "odd"),
    ),
    Case(
        "not-dingtalk-json",
        robot(PLAIN),
        fail("without a DingTalk errcode", "captive portal"),
        script=lambda s: s.answer_next(Answer.text("<html>captive portal</html>")),
    ),
    Case(
        "throttled-130101",
        robot(PLAIN),
        retry("errcode 130101", "rate limited", after=60.0),
        script=answer(130101, "send too fast, exceed 20 times per minute"),
    ),
    Case(
        "throttled-410100",
        robot(PLAIN),
        retry("errcode 410100", after=60.0),
        script=answer(410100, "发送速度太快而限流"),
    ),
    Case(
        "busy-minus-1",
        robot(PLAIN),
        retry("errcode -1 系统繁忙", "busy", after=None),
        script=answer(-1, "系统繁忙"),
    ),
    Case(
        "http-500",
        robot(TOKEN, secret=SECRET),
        retry("HTTP 500", after=None),
        script=lambda s: s.fail_next(1, 500),
        secrets=TOKENS,
    ),
    Case(
        "http-502-quoting-url-and-secret",
        robot(TOKEN, secret=SECRET),
        retry("HTTP 502"),
        script=lambda s: s.fail_next(
            1, 502, f"upstream {s.url_for(TOKEN)} failed, secret={SECRET}".encode()
        ),
        secrets=TOKENS,
    ),
    Case(
        "http-429-retry-after",
        robot(TOKEN, secret=SECRET),
        retry("HTTP 429", after=7.0),
        script=lambda s: s.fail_next(1, 429, **{"Retry-After": "7"}),
    ),
    Case(
        "http-404",
        robot(TOKEN, secret=SECRET),
        fail("HTTP 404"),
        script=lambda s: s.fail_next(1, 404, b"no such robot"),
    ),
    Case(
        "hangs",
        robot(TOKEN, secret=SECRET, timeout="300ms"),
        timeout("no answer from http://127.0.0.1", "within 0.3 s"),
        script=lambda s: s.hang_next(1, 30),
        secrets=TOKENS,
    ),
    Case(
        "closed-port",
        lambda c: {"url": c.closed_url(f"/robot/send?access_token={TOKEN}"), "secret": SECRET},
        retry("request to http://127.0.0.1:", "failed"),
    ),
    Case(
        "secret-file-missing",
        lambda c: {"url": c.server.url_for(TOKEN), "secret_file": c.missing("absent.secret")},
        fail("cannot read secret file", "absent.secret"),
    ),
    Case(
        "secret-and-secret-file",
        lambda c: {
            "url": "https://x/robot/send?access_token=t",
            "secret": "a",
            "secret_file": "/k",
        },
        invalid("secret or secret_file, not both"),
    ),
    Case(
        "url-not-http",
        lambda c: {"url": "oapi.dingtalk.com/robot/send?access_token=" + TOKEN},
        invalid("expected url to start with https:// or http://"),
        secrets=TOKENS,
    ),
]


class TestSign:
    """The 加签 signature."""

    def test_vector(self) -> None:
        """The documented test vector: ts 1700000000000, secret SECtest."""
        assert sign("SECtest", 1700000000000) == "aZLLrriXgn05YbwaGR7knYsLeJADjr9NwLaNNKpxh4g="

    def test_mention_not_repeated(self) -> None:
        """A mention already in the text is not appended again."""
        assert with_mentions("call @138", ("138",)) == "call @138"
        assert with_mentions("x", ("138", "139")) == "x\n\n@138 @139"


class TestDingtalkNotifier:
    """Delivery to a DingTalk robot."""

    @pytest.mark.parametrize("case", params(CASES))
    def test_table(self, robots: FakeDingTalk, ctx: Ctx, case: Case) -> None:
        """Each row ends as it says, and its errors leak no token or secret."""
        run_case("dingtalk", case, ctx, robots)
