"""The ``feishu`` channel against FakeFeishu (real HTTP on 127.0.0.1)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kakit.notifiers.feishu import sign
from tests.fakes.feishu import FakeFeishu
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
)

TOKEN = "3e0c6a0e-5f3b-4a8e-9d2c-7b1a4f6e8d90"
SECRET = "fs-secret-9Jk2mQ7pLx"
PLAIN = "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d"
KEYWORDS = "11111111-2222-4333-8444-555555555555"
UNKNOWN = "00000000-0000-4000-8000-000000000000"
#: What no Feishu error may contain, whichever bot the row uses.
TOKENS = (TOKEN, SECRET, PLAIN, KEYWORDS, UNKNOWN)


@pytest.fixture(name="bots")
def _bots(feishu: FakeFeishu) -> FakeFeishu:
    """FakeFeishu with a signed bot, an unsigned one and one with keywords."""
    feishu.add_bot(TOKEN, SECRET)
    feishu.add_bot(PLAIN)
    feishu.add_bot(KEYWORDS, keywords=("keepalived",))
    return feishu


def bot(token: str, **extra: Any) -> Callable[[Ctx], dict[str, Any]]:
    """Options for the bot ``token`` of the running server, plus ``extra``."""
    return lambda c: {"url": c.server.url_for(token), **extra}


def answer(payload: dict[str, Any], status: int = 200) -> Callable[[FakeFeishu], None]:
    """Script: the next answer is ``payload``."""
    return lambda s: s.answer_next(Answer.json(payload, status=status))


def signed_in_body(c: Ctx, _: object) -> None:
    """timestamp (seconds, as a string) and sign travel in the JSON body, not the URL."""
    request = c.server.requests[-1]
    body = request.json
    assert request.raw_query == ""
    assert isinstance(body["timestamp"], str) and len(body["timestamp"]) == 10
    assert body["sign"] == sign(SECRET, int(body["timestamp"]))


def text_payload(c: Ctx, _: object) -> None:
    """The message text is sent as msg_type text."""
    assert c.server.accepted == [{"msg_type": "text", "content": {"text": "VI_1 -> MASTER"}}]


CASES = [
    Case("signed", bot(TOKEN, secret=SECRET), ok("code 0 success"), check=signed_in_body),
    Case(
        "unsigned",
        bot(PLAIN),
        ok("code 0"),
        message=sample(text="VI_1 -> MASTER"),
        check=text_payload,
    ),
    Case(
        "shortened",
        bot(PLAIN, max_bytes=1000),
        ok("code 0", "shortened to fit 1000 bytes"),
        message=sample(text="状态" * 1000),
    ),
    Case(
        "legacy-status-code",
        bot(PLAIN),
        ok("code 0 success"),
        script=answer({"StatusCode": 0, "StatusMessage": "success"}),
    ),
    Case(
        "wrong-secret",
        bot(TOKEN, secret="nope"),
        fail("code 19021 sign match fail", "clock"),
        secrets=TOKENS,
    ),
    Case("unsigned-to-signed-bot", bot(TOKEN), fail("code 19021"), secrets=TOKENS),
    Case(
        "keywords",
        bot(KEYWORDS),
        fail("code 19024 Key Words Not Found", "keywords"),
        secrets=TOKENS,
    ),
    Case("unknown-token", bot(UNKNOWN), fail("code 19001"), secrets=TOKENS),
    Case(
        "ip-not-allowed",
        bot(PLAIN),
        fail("code 19022 Ip Not Allowed", "allowlist"),
        script=answer({"code": 19022, "msg": "Ip Not Allowed", "data": {}}),
    ),
    Case(
        "code-with-http-400",
        bot(PLAIN),
        fail("code 19002 params error"),
        script=answer({"code": 19002, "msg": "params error"}, status=400),
    ),
    Case(
        "too-many-requests-9499",
        bot(PLAIN),
        retry("code 9499"),
        script=answer({"code": 9499, "msg": "too many request", "data": {}}),
    ),
    Case(
        "frequency-limited-11232",
        bot(PLAIN),
        retry("code 11232 frequency limited"),
        script=answer({"code": 11232, "msg": "frequency limited", "data": {}}),
    ),
    Case(
        "code-with-http-429",
        bot(PLAIN),
        retry("code 19021", after=9.0),
        script=lambda s: s.answer_next(
            Answer.json({"code": 19021, "msg": "slow down"}, 429, **{"Retry-After": "9"})
        ),
    ),
    Case(
        "http-502",
        bot(PLAIN),
        retry("HTTP 502"),
        script=lambda s: s.fail_next(1, 502),
        secrets=TOKENS,
    ),
    Case(
        "http-404-html",
        bot(PLAIN),
        fail("HTTP 404"),
        script=lambda s: s.fail_next(1, 404, b"<html>not found</html>"),
        secrets=TOKENS,
    ),
    Case(
        "not-feishu-json",
        bot(PLAIN),
        fail("without a Feishu code"),
        script=lambda s: s.answer_next(Answer.text("<html>portal</html>")),
    ),
    Case(
        "secret-and-secret-file",
        lambda c: {"url": "https://open.feishu.cn/x", "secret": "a", "secret_file": "/a"},
        invalid("not both"),
    ),
]


class TestFeishuSign:
    """Feishu's signature."""

    def test_vector(self) -> None:
        """The documented test vector: ts 1700000000, secret test-secret."""
        assert sign("test-secret", 1700000000) == "mbm4Y4oluIPQ00qlBIhX8vAZ0EKv3nw0LuTb91jPL84="


class TestFeishuNotifier:
    """Delivery to a Feishu/Lark bot."""

    @pytest.mark.parametrize("case", params(CASES))
    def test_table(self, bots: FakeFeishu, ctx: Ctx, case: Case) -> None:
        """Each row ends as it says, and its errors leak no token or secret."""
        run_case("feishu", case, ctx, bots)
