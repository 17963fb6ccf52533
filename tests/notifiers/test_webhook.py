"""The ``webhook`` channel against WebhookSink (real HTTP and HTTPS on 127.0.0.1)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from kakit.notifiers.webhook import placeholders, render
from tests.fakes.http import Answer
from tests.fakes.webhook import WebhookSink
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

HOOK_TOKEN = "hook-token-4f9a1c2e7b"
INLINE_KEY = "k3y-inline-77c1d"
#: Characters percent-encoding changes, so an echo in %xx form is not the configured text.
ODD_TOKEN = "tok/en+1=x y"
#: Characters JSON escapes (a PHP server also writes / as \/).
JSON_TOKEN = 'pa"ss/wo\\rd-91'


def b64(text: str) -> str:
    """Standard base64 of ``text``."""
    return base64.b64encode(text.encode()).decode()


def idempotency_keys(c: Ctx, expected: list[str | None]) -> None:
    """The requests carried these Idempotency-Key headers (None: none)."""
    assert [request.headers.get("idempotency-key") for request in c.server.requests] == expected


def hook(**extra: Any) -> Callable[[Ctx], dict[str, Any]]:
    """Options for ``/hook`` on the running sink, plus ``extra``."""
    return lambda c: {"url": f"{c.server.url}/hook", **extra}


def tls_sink(c: Ctx) -> WebhookSink:
    """The row's own HTTPS sink, with the session's self-signed certificate."""
    sink: WebhookSink = c.make_sink(tls=c.tls_files)
    return sink


def default_body(c: Ctx, _: object) -> None:
    """Without a template the body is title, text, markdown and every field, as UTF-8 JSON."""
    message = sample()
    (request,) = c.server.requests
    assert request.method == "POST" and request.path == "/hook"
    assert request.headers["content-type"] == "application/json;charset=utf-8"
    assert request.json == {
        "title": message.title,
        "text": message.text,
        "markdown": message.markdown,
        **message.alert.as_json(),
    }


TEMPLATE = {
    "msg_type": "alert",
    "summary": "[{node}] {name}: {previous} -> {state}",
    "details": {"hooks": "{hooks}", "priority": "{priority}", "test": "{test}"},
    "lines": ["{title}", "literal {{braces}}"],
}


def rendered(c: Ctx, _: object) -> None:
    """The template is filled from the message; whole placeholders keep their types."""
    assert c.server.bodies == [
        {
            "msg_type": "alert",
            "summary": "[lb1] VI_1: BACKUP -> MASTER",
            "details": {"hooks": ["sysctl ok", "firewall ok"], "priority": 100, "test": False},
            "lines": ["lb1 VI_1 BACKUP -> MASTER", "literal {braces}"],
        }
    ]


def headers_sent(c: Ctx, _: object) -> None:
    """A header value given as {file:} is read and sent; plain headers pass as they are."""
    headers = c.server.requests[0].headers
    assert headers["x-token"] == HOOK_TOKEN and headers["x-team"] == "ops"


def put(c: Ctx, _: object) -> None:
    """method: PUT is used."""
    assert c.server.requests[0].method == "PUT"


def nothing_received(c: Ctx, _: object) -> None:
    """A refused certificate means no request was made."""
    assert c.server.bodies == []


def read_timeout(request: httpx.Request) -> httpx.Response:
    """A transport whose read times out."""
    raise httpx.ReadTimeout("timed out", request=request)


CASES = [
    Case("200", hook(), ok("HTTP 200 from http://127.0.0.1"), check=default_body),
    Case("204", hook(), ok("HTTP 204"), script=lambda s: s.answer_next(Answer(204))),
    Case("put", hook(method="PUT"), ok("HTTP 200"), check=put),
    Case("template", hook(template=TEMPLATE), ok("HTTP 200"), check=rendered),
    Case(
        "headers-from-file",
        lambda c: {
            "url": f"{c.server.url}/hook",
            "headers": {
                "X-Token": {"file": c.file("hook.token", HOOK_TOKEN + "\n")},
                "X-Team": "ops",
            },
        },
        ok("HTTP 200"),
        check=headers_sent,
    ),
    Case(
        "503",
        hook(),
        retry("HTTP 503 Service Unavailable", after=None),
        script=lambda s: s.fail_next(1, 503),
    ),
    Case(
        "503-retry-after",
        hook(),
        retry("HTTP 503", after=12.0),
        script=lambda s: s.fail_next(1, 503, **{"Retry-After": "12"}),
    ),
    Case(
        "429",
        hook(),
        retry("HTTP 429", after=3.0),
        script=lambda s: s.fail_next(1, 429, **{"Retry-After": "3"}),
    ),
    Case("408", hook(), retry("HTTP 408"), script=lambda s: s.fail_next(1, 408)),
    Case(
        "400",
        hook(),
        fail("HTTP 400 Bad Request: missing field state"),
        script=lambda s: s.fail_next(1, 400, b"missing field state"),
    ),
    Case(
        "401-echoing-token",
        lambda c: {
            "url": f"{c.server.url}/hook",
            "headers": {"Authorization": c.env("KAKIT_TEST_HOOK", f"Bearer {HOOK_TOKEN}")},
        },
        fail("HTTP 401"),
        script=lambda s: s.fail_next(1, 401, f"bad token Bearer {HOOK_TOKEN}".encode()),
        secrets=[HOOK_TOKEN],
    ),
    Case(
        "500-echoing-url-token",
        lambda c: {"url": f"{c.server.url}/hooks/{HOOK_TOKEN}-0123456789?key={HOOK_TOKEN}"},
        retry("HTTP 500"),
        script=lambda s: s.fail_next(1, 500, f"bad key {HOOK_TOKEN}".encode()),
        secrets=[HOOK_TOKEN],
    ),
    Case(
        "401-echoing-inline-header",
        hook(headers={"X-Api-Key": INLINE_KEY}),
        fail("HTTP 401"),
        script=lambda s: s.fail_next(1, 401, f"unknown key {INLINE_KEY}".encode()),
        secrets=[INLINE_KEY],
    ),
    Case(
        "400-echoing-encoded-url-token",
        lambda c: {"url": f"{c.server.url}/hook?token={ODD_TOKEN}"},
        fail("HTTP 400"),
        script=lambda s: s.fail_next(
            1, 400, f"bad token {quote(ODD_TOKEN, safe='').lower()} or {ODD_TOKEN}".encode()
        ),
        secrets=[ODD_TOKEN, quote(ODD_TOKEN, safe="").lower()],
    ),
    Case(
        "401-echoing-basic-credentials-decoded",
        hook(headers={"Authorization": f"Basic {b64('kakit:proxy-Pa55')}"}),
        fail("HTTP 401"),
        script=lambda s: s.fail_next(1, 401, b"user kakit:proxy-Pa55 refused (proxy-Pa55)"),
        secrets=["proxy-Pa55", b64("kakit:proxy-Pa55")],
    ),
    Case(
        "422-echoing-json-escaped-header",
        hook(headers={"X-Token": JSON_TOKEN}),
        fail("HTTP 422"),
        script=lambda s: s.answer_next(
            Answer(422, json.dumps({"got": JSON_TOKEN}).replace("/", "\\/").encode())
        ),
        secrets=[JSON_TOKEN, json.dumps(JSON_TOKEN)[1:-1]],
    ),
    Case(
        "non-ascii-header-value",
        hook(headers={"X-Team": "运维-ops"}),
        fail("a header value holds characters other than ASCII"),
        check=nothing_received,
    ),
    Case(
        "url-credentials-and-authorization-header",
        lambda c: {
            "url": c.env("KAKIT_TEST_HOOK_URL", f"http://u:pw-from-env@{c.server.url[7:]}/hook"),
            "headers": {"Authorization": {"env": "KAKIT_TEST_HOOK_URL"}},
        },
        fail("credentials in the url or an Authorization header, not both"),
        check=nothing_received,
        secrets=["pw-from-env"],
    ),
    Case(
        "idempotency-key",
        hook(),
        ok("HTTP 200"),
        message=sample(key="kakit-lb1-42-1795312160000"),
        check=lambda c, _: idempotency_keys(c, ["kakit-lb1-42-1795312160000"]),
    ),
    Case(
        "no-key-no-idempotency-key",
        hook(),
        ok("HTTP 200"),
        check=lambda c, _: idempotency_keys(c, [None]),
    ),
    Case(
        "redirect-is-permanent",
        hook(),
        fail("HTTP 301"),
        script=lambda s: s.fail_next(1, 301, Location="http://127.0.0.1:1/"),
    ),
    Case(
        "hangs",
        hook(timeout="200ms"),
        timeout("no answer from http://127.0.0.1", "within 0.2 s"),
        script=lambda s: s.hang_next(1, 30),
    ),
    Case(
        "read-timeout",
        lambda c: {"url": "https://x.example/hook?key=SECRETKEY", "timeout": 1},
        timeout("no answer from https://x.example within 1 s (ReadTimeout)"),
        transport=read_timeout,
    ),
    Case(
        "closed-port",
        lambda c: {"url": c.closed_url("/hook")},
        retry("request to http://127.0.0.1:", "failed"),
    ),
    Case(
        "unusable-scheme",
        lambda c: {"url": c.env("KAKIT_TEST_HOOK_URL", "ftp://x.example/?key=SECRETKEY")},
        fail("cannot request ftp://x.example"),
        secrets=["SECRETKEY"],
    ),
    Case(
        "url-from-missing-env",
        lambda c: {"url": {"env": "KAKIT_TEST_UNSET_HOOK_URL"}},
        fail("KAKIT_TEST_UNSET_HOOK_URL"),
    ),
    Case(
        "tls-verified-by-default",
        hook(),
        retry("certificate verify failed"),
        server=tls_sink,
        check=nothing_received,
    ),
    Case(
        "tls-ca-file",
        lambda c: {"url": f"{c.server.url}/hook", "ca_file": str(c.tls_files.cert)},
        ok("HTTP 200 from https://127.0.0.1"),
        server=tls_sink,
    ),
    Case("tls-verify-false", hook(verify=False), ok("HTTP 200"), server=tls_sink),
    Case(
        "tls-ca-file-missing",
        lambda c: {"url": f"{c.server.url}/hook", "ca_file": c.missing("absent-ca.pem")},
        fail("cannot read ca_file", "absent-ca.pem"),
        server=tls_sink,
    ),
    Case(
        "ca-file-with-verify-false",
        lambda c: {"url": "https://x/", "verify": False, "ca_file": "/etc/ssl/ca.pem"},
        invalid("expected ca_file only with verify: true"),
    ),
    Case(
        "template-unknown-placeholder",
        lambda c: {"url": "https://x/", "template": {"msg": {"text": "{nmae}"}}},
        invalid("channels.test.template.msg.text", "unknown placeholder {nmae}"),
    ),
    Case(
        "template-not-a-structure",
        lambda c: {"url": "https://x/", "template": "{text}"},
        invalid("a mapping or list"),
    ),
]


class TestTemplate:
    """Template placeholders and rendering."""

    def test_placeholders(self) -> None:
        """Plain {name} placeholders are found; {{ }} are literal braces."""
        assert placeholders("{node}: {name} -> {state} {{x}}") == ["node", "name", "state"]

    @pytest.mark.parametrize(
        ("text", "error"),
        [
            ("{nodes}", "unknown placeholder {nodes}"),
            ("{node.x}", "only plain {name}"),
            ("{priority:03d}", "only plain {name}"),
            ("{node", "expected '}'"),
        ],
    )
    def test_bad_placeholders(self, text: str, error: str) -> None:
        """Unknown names, attribute access, format specs and broken braces are refused."""
        with pytest.raises(ValueError, match=error):
            placeholders(text)

    def test_render_keeps_types_of_whole_placeholders(self) -> None:
        """A string that is one placeholder takes the field's JSON type."""
        values = {
            "hooks": ["a", "b"],
            "test": False,
            "priority": 100,
            "node": "lb1",
            "name": "VI_1",
        }
        body = {"h": "{hooks}", "t": "{test}", "p": ["{priority}"], "s": "{node}/{name} {hooks}"}
        assert render(body, values) == {
            "h": ["a", "b"],
            "t": False,
            "p": [100],
            "s": "lb1/VI_1 a, b",
        }


class TestWebhookNotifier:
    """Delivery to a generic webhook."""

    @pytest.mark.parametrize("case", params(CASES))
    def test_table(self, sink: WebhookSink, ctx: Ctx, case: Case) -> None:
        """Each row ends as it says, and its errors leak no URL token or header secret."""
        run_case("webhook", case, ctx, sink)
