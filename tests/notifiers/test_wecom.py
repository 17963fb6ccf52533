"""The ``wecom`` channel against a WebhookSink answering like a WeCom robot."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kakit.exceptions import ConfigError
from tests.fakes.http import Answer
from tests.fakes.webhook import WebhookSink, wecom_sink
from tests.notifiers.runner import Case, deliver, fail, make, ok, params, retry, run_case, sample

KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"


def url(server: WebhookSink) -> str:
    """The robot URL with its key."""
    return f"{server.url}/cgi-bin/webhook/send?key={KEY}"


def errcode(code: int, message: str) -> Callable[[WebhookSink], None]:
    """Script: answer the next request with ``errcode``."""
    return lambda s: s.answer_next(Answer.json({"errcode": code, "errmsg": message}))


CASES = [
    Case("ok", lambda s: {"url": url(s)}, ok("errcode 0 ok")),
    Case(
        "rate-limited",
        lambda s: {"url": url(s)},
        retry("errcode 45009", after=60.0),
        script=errcode(45009, "api freq out of limit"),
        secrets=lambda s: [KEY],
    ),
    Case(
        "invalid-key",
        lambda s: {"url": url(s)},
        fail("errcode 93000 invalid webhook url"),
        script=errcode(93000, f"invalid webhook url, key {KEY}"),
        secrets=lambda s: [KEY],
    ),
    Case(
        "too-long",
        lambda s: {"url": url(s)},
        fail("errcode 40058"),
        script=errcode(40058, "markdown.content exceed max length 4096"),
    ),
    Case(
        "http-500",
        lambda s: {"url": url(s)},
        retry("HTTP 500"),
        script=lambda s: s.fail_next(1, 500),
        secrets=lambda s: [KEY],
    ),
]


@pytest.fixture(name="robot")
def _robot(make_sink: Callable[..., WebhookSink]) -> WebhookSink:
    """A sink answering ``{"errcode": 0, "errmsg": "ok"}``."""
    return make_sink(wecom_sink().default)


class TestWecomNotifier:
    """Delivery to a WeCom group robot."""

    @pytest.mark.parametrize("case", params(CASES))
    def test_table(self, robot: WebhookSink, case: Case) -> None:
        """Each case ends as its table row says, and its errors leak no key."""
        run_case("wecom", case, robot)

    def test_markdown_payload(self, robot: WebhookSink) -> None:
        """Markdown content carries the markdown, with <@userid> mentions."""
        deliver(
            make("wecom", {"url": url(robot), "mentioned_list": ["zhangsan"]}),
            sample(markdown="**MASTER**"),
        )
        assert robot.bodies == [
            {"msgtype": "markdown", "markdown": {"content": "**MASTER**\n<@zhangsan>"}}
        ]
        assert robot.requests[0].query["key"] == KEY

    def test_text_payload_with_mobiles(self, robot: WebhookSink) -> None:
        """Text messages carry mentioned_mobile_list."""
        notifier = make(
            "wecom",
            {"url": url(robot), "msgtype": "text", "mentioned_mobile_list": [13800000000, "@all"]},
        )
        deliver(notifier, sample(text="VI_1 -> MASTER"))
        assert robot.bodies == [
            {
                "msgtype": "text",
                "text": {
                    "content": "VI_1 -> MASTER",
                    "mentioned_mobile_list": ["13800000000", "@all"],
                },
            }
        ]

    def test_long_markdown_shortened(self, robot: WebhookSink) -> None:
        """Markdown over 4096 bytes is shortened to fit and still sent."""
        answer = deliver(make("wecom", {"url": url(robot)}), sample(markdown="状态" * 3000))
        assert "shortened" in answer
        content = robot.bodies[0]["markdown"]["content"]
        assert len(content.encode()) <= 4096 and content.endswith("(truncated)")

    def test_mobiles_need_text(self) -> None:
        """mentioned_mobile_list with markdown is a configuration error (WeCom ignores it)."""
        with pytest.raises(ConfigError, match="expected msgtype text with mentioned_mobile_list"):
            make(
                "wecom",
                {"url": "https://qyapi.weixin.qq.com/x?key=k", "mentioned_mobile_list": ["138"]},
            )
