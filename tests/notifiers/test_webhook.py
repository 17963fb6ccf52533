"""The ``webhook`` channel against WebhookSink (real HTTP and HTTPS on 127.0.0.1)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from kakit.exceptions import ConfigError
from kakit.notifiers.base import PermanentError, RetryableError
from kakit.notifiers.webhook import placeholders, render
from tests.fakes.http import Answer
from tests.fakes.smtp import free_port
from tests.fakes.tls import TlsFiles
from tests.fakes.webhook import WebhookSink
from tests.notifiers.runner import Case, deliver, fail, make, ok, params, retry, run_case, sample

HOOK_TOKEN = "hook-token-4f9a1c2e7b"

CASES = [
    Case("200", lambda s: {"url": f"{s.url}/hook"}, ok("HTTP 200 from http://127.0.0.1")),
    Case(
        "204",
        lambda s: {"url": f"{s.url}/hook"},
        ok("HTTP 204"),
        script=lambda s: s.answer_next(Answer(204)),
    ),
    Case(
        "put",
        lambda s: {"url": f"{s.url}/hook", "method": "PUT"},
        ok("HTTP 200"),
    ),
    Case(
        "503",
        lambda s: {"url": f"{s.url}/hook"},
        retry("HTTP 503 Service Unavailable", after=None),
        script=lambda s: s.fail_next(1, 503),
    ),
    Case(
        "503-retry-after",
        lambda s: {"url": f"{s.url}/hook"},
        retry("HTTP 503", after=12.0),
        script=lambda s: s.fail_next(1, 503, **{"Retry-After": "12"}),
    ),
    Case(
        "429",
        lambda s: {"url": f"{s.url}/hook"},
        retry("HTTP 429", after=3.0),
        script=lambda s: s.fail_next(1, 429, **{"Retry-After": "3"}),
    ),
    Case(
        "408",
        lambda s: {"url": f"{s.url}/hook"},
        retry("HTTP 408"),
        script=lambda s: s.fail_next(1, 408),
    ),
    Case(
        "400",
        lambda s: {"url": f"{s.url}/hook"},
        fail("HTTP 400 Bad Request: missing field state"),
        script=lambda s: s.fail_next(1, 400, b"missing field state"),
    ),
    Case(
        "401-echoing-token",
        lambda s: {
            "url": f"{s.url}/hook",
            "headers": {"Authorization": {"env": "KAKIT_TEST_HOOK"}},
        },
        fail("HTTP 401"),
        script=lambda s: s.fail_next(1, 401, f"bad token Bearer {HOOK_TOKEN}".encode()),
        secrets=lambda s: [HOOK_TOKEN],
    ),
    Case(
        "redirect-is-permanent",
        lambda s: {"url": f"{s.url}/hook"},
        fail("HTTP 301"),
        script=lambda s: s.fail_next(1, 301, Location="http://127.0.0.1:1/"),
    ),
    Case(
        "hangs",
        lambda s: {"url": f"{s.url}/hook", "timeout": "200ms"},
        retry("no answer from http://127.0.0.1", after=None),
        script=lambda s: s.hang_next(1, 30),
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

    def test_invalid_template_is_config_error(self) -> None:
        """A bad placeholder fails at configuration time, naming the key path."""
        with pytest.raises(
            ConfigError, match=r"channels\.test\.template\.msg\.text.*unknown placeholder \{nmae\}"
        ):
            make("webhook", {"url": "https://x/", "template": {"msg": {"text": "{nmae}"}}})

    def test_template_must_be_a_structure(self) -> None:
        """A template that is a bare string is refused."""
        with pytest.raises(ConfigError, match="a mapping or list"):
            make("webhook", {"url": "https://x/", "template": "{text}"})


class TestWebhookNotifier:
    """Delivery to a generic webhook."""

    @pytest.mark.parametrize("case", params(CASES))
    def test_table(self, sink: WebhookSink, case: Case, monkeypatch: pytest.MonkeyPatch) -> None:
        """Each case ends as its table row says."""
        monkeypatch.setenv("KAKIT_TEST_HOOK", f"Bearer {HOOK_TOKEN}")
        run_case("webhook", case, sink)

    def test_default_body(self, sink: WebhookSink) -> None:
        """Without a template the body is title, text, markdown and every field."""
        message = sample()
        deliver(make("webhook", {"url": f"{sink.url}/hook"}), message)
        (request,) = sink.requests
        assert request.method == "POST" and request.path == "/hook"
        assert request.headers["content-type"] == "application/json;charset=utf-8"
        assert request.json == {
            "title": message.title,
            "text": message.text,
            "markdown": message.markdown,
            **message.alert.as_json(),
        }

    def test_template_rendering(self, sink: WebhookSink) -> None:
        """The template is filled from the message; whole placeholders keep their types."""
        template = {
            "msg_type": "alert",
            "summary": "[{node}] {name}: {previous} -> {state}",
            "details": {"hooks": "{hooks}", "priority": "{priority}", "test": "{test}"},
            "lines": ["{title}", "literal {{braces}}"],
        }
        deliver(make("webhook", {"url": f"{sink.url}/hook", "template": template}))
        assert sink.bodies == [
            {
                "msg_type": "alert",
                "summary": "[lb1] VI_1: BACKUP -> MASTER",
                "details": {"hooks": ["sysctl ok", "firewall ok"], "priority": 100, "test": False},
                "lines": ["lb1 VI_1 BACKUP -> MASTER", "literal {braces}"],
            }
        ]

    def test_headers_from_file_secret(self, sink: WebhookSink, tmp_path: Path) -> None:
        """A header value given as {file:} is read and sent; plain headers pass as they are."""
        path = tmp_path / "hook.token"
        path.write_text(HOOK_TOKEN + "\n")
        notifier = make(
            "webhook",
            {
                "url": f"{sink.url}/hook",
                "headers": {"X-Token": {"file": str(path)}, "X-Team": "ops"},
            },
        )
        assert HOOK_TOKEN not in repr(notifier.options)
        deliver(notifier)
        headers = sink.requests[0].headers
        assert headers["x-token"] == HOOK_TOKEN and headers["x-team"] == "ops"

    def test_closed_port(self) -> None:
        """Connection refused is retryable."""
        with pytest.raises(RetryableError, match=r"request to http://127\.0\.0\.1:\d+ failed"):
            deliver(make("webhook", {"url": f"http://127.0.0.1:{free_port()}/hook"}))

    def test_url_secret_not_in_errors(self, sink: WebhookSink) -> None:
        """A URL carrying a token in its query or path is never printed in full."""
        url = f"{sink.url}/hooks/{HOOK_TOKEN}-0123456789?key={HOOK_TOKEN}"
        sink.fail_next(1, 500, f"bad key {HOOK_TOKEN}".encode())
        with pytest.raises(RetryableError) as caught:
            deliver(make("webhook", {"url": url}))
        assert HOOK_TOKEN not in str(caught.value)


class TestWebhookTls:
    """TLS verification of the webhook channel."""

    def test_verification_on_by_default(
        self, make_sink: Callable[..., WebhookSink], tls_files: TlsFiles
    ) -> None:
        """A self-signed certificate without ca_file fails: RetryableError saying why."""
        server = make_sink(tls=tls_files)
        with pytest.raises(RetryableError, match="certificate verify failed") as caught:
            deliver(make("webhook", {"url": f"{server.url}/hook"}))
        assert "webhook channel 'test'" in str(caught.value)
        assert server.bodies == []

    def test_ca_file_trusts_private_ca(
        self, make_sink: Callable[..., WebhookSink], tls_files: TlsFiles
    ) -> None:
        """With ca_file naming the CA the request goes through."""
        server = make_sink(tls=tls_files)
        answer = deliver(
            make("webhook", {"url": f"{server.url}/hook", "ca_file": str(tls_files.cert)})
        )
        assert answer.startswith("HTTP 200 from https://127.0.0.1")
        assert len(server.requests) == 1

    def test_verify_false(self, make_sink: Callable[..., WebhookSink], tls_files: TlsFiles) -> None:
        """verify: false skips verification (a lab setting)."""
        server = make_sink(tls=tls_files)
        assert deliver(make("webhook", {"url": f"{server.url}/hook", "verify": False})).startswith(
            "HTTP 200"
        )

    def test_missing_ca_file(
        self, make_sink: Callable[..., WebhookSink], tls_files: TlsFiles, tmp_path: Path
    ) -> None:
        """An unreadable ca_file is a permanent failure naming it."""
        server = make_sink(tls=tls_files)
        missing = tmp_path / "absent-ca.pem"
        with pytest.raises(PermanentError, match=r"cannot read ca_file .*absent-ca\.pem"):
            deliver(make("webhook", {"url": f"{server.url}/hook", "ca_file": str(missing)}))

    def test_ca_file_with_verify_false_refused(self) -> None:
        """ca_file together with verify: false is a configuration error."""
        with pytest.raises(ConfigError, match="expected ca_file only with verify: true"):
            make("webhook", {"url": "https://x/", "verify": False, "ca_file": "/etc/ssl/ca.pem"})
