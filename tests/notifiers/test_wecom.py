"""The ``wecom`` channel against a WebhookSink answering like a WeCom robot."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.fakes.http import Answer
from tests.fakes.webhook import WebhookSink, wecom_sink
from tests.notifiers.runner import Case, Ctx, fail, invalid, ok, params, retry, run_case, sample

KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"


def robot(**extra: Any) -> Callable[[Ctx], dict[str, Any]]:
    """Options for the robot URL (with its key) of the running sink, plus ``extra``."""
    return lambda c: {"url": f"{c.server.url}/cgi-bin/webhook/send?key={KEY}", **extra}


def errcode(code: int, message: str) -> Callable[[WebhookSink], None]:
    """Script: answer the next request with ``errcode``."""
    return lambda s: s.answer_next(Answer.json({"errcode": code, "errmsg": message}))


def markdown_with_user_mention(c: Ctx, _: object) -> None:
    """Markdown content carries the markdown, with <@userid> mentions; the key is the query."""
    assert c.server.bodies == [
        {"msgtype": "markdown", "markdown": {"content": "**MASTER**\n<@zhangsan>"}}
    ]
    assert c.server.requests[0].query["key"] == KEY


def text_with_mobiles(c: Ctx, _: object) -> None:
    """Text messages carry mentioned_mobile_list (YAML numbers as strings)."""
    assert c.server.bodies == [
        {
            "msgtype": "text",
            "text": {"content": "VI_1 -> MASTER", "mentioned_mobile_list": ["13800000000", "@all"]},
        }
    ]


def markdown_within_4096(c: Ctx, _: object) -> None:
    """Markdown over 4096 bytes is shortened to fit, with the marker."""
    content = c.server.bodies[0]["markdown"]["content"]
    assert len(content.encode()) <= 4096 and content.endswith("(truncated)")


CASES = [
    Case("ok", robot(), ok("errcode 0 ok")),
    Case(
        "markdown-mentions",
        robot(mentioned_list=["zhangsan"]),
        ok("errcode 0"),
        message=sample(markdown="**MASTER**"),
        check=markdown_with_user_mention,
    ),
    Case(
        "text-mobiles",
        robot(msgtype="text", mentioned_mobile_list=[13800000000, "@all"]),
        ok("errcode 0"),
        message=sample(text="VI_1 -> MASTER"),
        check=text_with_mobiles,
    ),
    Case(
        "long-markdown",
        robot(),
        ok("errcode 0", "shortened"),
        message=sample(markdown="状态" * 3000),
        check=markdown_within_4096,
    ),
    Case(
        "rate-limited",
        robot(),
        retry("errcode 45009", after=60.0),
        script=errcode(45009, "api freq out of limit"),
    ),
    Case("busy", robot(), retry("errcode -1", after=None), script=errcode(-1, "system busy")),
    Case(
        "invalid-key-echoed",
        robot(),
        fail("errcode 93000 invalid webhook url"),
        script=errcode(93000, f"invalid webhook url, key {KEY}"),
    ),
    Case(
        "too-long",
        robot(),
        fail("errcode 40058"),
        script=errcode(40058, "markdown.content exceed max length 4096"),
    ),
    Case(
        "not-wecom-json",
        robot(),
        fail("without a WeCom errcode"),
        script=lambda s: s.answer_next(Answer.text("ok")),
    ),
    Case("http-500", robot(), retry("HTTP 500"), script=lambda s: s.fail_next(1, 500)),
    Case(
        "mobiles-need-text",
        robot(mentioned_mobile_list=["138"]),
        invalid("expected msgtype text with mentioned_mobile_list"),
    ),
]


@pytest.fixture(name="robot")
def _robot(make_sink: Callable[..., WebhookSink]) -> WebhookSink:
    """A sink answering ``{"errcode": 0, "errmsg": "ok"}``."""
    return make_sink(wecom_sink().default)


class TestWecomNotifier:
    """Delivery to a WeCom group robot."""

    @pytest.mark.parametrize("case", params(CASES))
    def test_table(self, robot: WebhookSink, ctx: Ctx, case: Case) -> None:
        """Each row ends as it says, and its errors leak no key."""
        run_case("wecom", case, ctx, robot)
