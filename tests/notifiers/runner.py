"""The shared runner of the channel tests: one table of :class:`Case` rows per channel.

A row builds its channel from YAML-like options the way ``kakit.config`` does, prepares the
server (scripted answers), sends one message through a real ``httpx.AsyncClient`` (or one over
an ``httpx.MockTransport``: the client is the channels' seam) and compares the outcome with the
row. Every error is also checked for leaked secrets: the values of the options marked secret,
what the row wrote into files and variables (:class:`Ctx`), and what it lists itself.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from kakit import notifiers
from kakit.alerts.alert import Alert
from kakit.core.converters import build, from_python
from kakit.core.record import fields
from kakit.core.secrets import Secret
from kakit.exceptions import (
    ConfigError,
    DeliveryError,
    KakitError,
    NotifierTimeout,
    PermanentError,
    RetryableError,
)
from kakit.notifiers.base import Message, Notifier
from kakit.notifiers.common import url_secrets
from tests.fakes.smtp import SilentServer, free_port
from tests.fakes.tls import TlsFiles

ANY = object()

Handler = Callable[[httpx.Request], httpx.Response]


def sample(**changes: Any) -> Message:
    """A typical rendered alert (lb1 VI_1 BACKUP -> MASTER), with ``changes`` applied."""
    values: dict[str, Any] = {
        "title": "lb1 VI_1 BACKUP -> MASTER",
        "text": "lb1: VI_1 BACKUP -> MASTER (priority 100)\nhooks: sysctl ok",
        "markdown": "#### VI_1 BACKUP -> MASTER\n> node **lb1**, priority 100\n- sysctl ok",
        "alert": Alert(
            node="lb1",
            kind="INSTANCE",
            name="VI_1",
            label="VI_1",
            state="MASTER",
            previous="BACKUP",
            sequence=("BACKUP", "MASTER"),
            priority=100,
            time=1795312160.0,  # 2026-11-22T01:49:20Z
            hooks=("sysctl ok", "firewall ok"),
        ),
        "language": "en",
    }
    values.update(changes)
    return Message(**values)


def make(type_name: str, options: dict[str, Any], name: str = "test") -> Notifier[Any]:
    """The channel ``name`` of type ``type_name``, built from options like ``kakit.config`` does.

    Raises:
        ConfigError: The options are invalid.
    """
    cls = notifiers.load(type_name)
    node = from_python(options, "<test>", f"channels.{name}")
    return cls(name, build(cls.options_class, node, skip=("type", "language")))


@functools.cache
def default_tls_context() -> ssl.SSLContext:
    """httpx's default verification context, made once (loading the CA bundle costs ~20 ms)."""
    return httpx.create_ssl_context()


async def settle(limit: float = 5.0) -> None:
    """Wait until no socket transport of the running loop is still open.

    A TLS connection (aiosmtplib after STARTTLS) finishes closing in the background: the
    close_notify exchange takes a round trip after ``send`` has returned. A worker's long-lived
    loop completes it; ``asyncio.run`` would close the loop first and leave the socket to the
    garbage collector (a ResourceWarning, an error under ``filterwarnings = error``). The
    loop's transport registry is private, hence the ``getattr`` guards.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while loop.time() < deadline:
        registry = getattr(loop, "_transports", {})
        if all(getattr(t, "_sock", None) is None for t in list(registry.values())):
            return
        await asyncio.sleep(0.002)


def deliver(
    notifier: Notifier[Any], message: Message | None = None, transport: Handler | None = None
) -> str:
    """``notifier.send`` with a fresh client (verifying TLS), as the delivery worker does it;
    with ``transport``, a client whose requests that handler answers (no socket)."""

    async def go() -> str:
        try:
            if transport is not None:
                mock = httpx.MockTransport(transport)
                async with httpx.AsyncClient(transport=mock) as client:
                    return await notifier.send(message or sample(), client)
            async with httpx.AsyncClient(verify=default_tls_context(), trust_env=False) as client:
                return await notifier.send(message or sample(), client)
        finally:
            await settle()

    return asyncio.run(go())


@dataclass
class Expect:
    """An expected outcome.

    Attributes:
        kind: ``ok`` (an answer), ``retry`` (RetryableError other than a timeout), ``timeout``
            (NotifierTimeout), ``fail`` (PermanentError) or ``invalid`` (ConfigError when the
            channel is built).
        contains: Substrings of the answer or of the error message.
        retry_after: The expected ``retry_after`` (``ANY`` to not check it).
    """

    kind: str
    contains: tuple[str, ...]
    retry_after: Any = ANY


def ok(*contains: str) -> Expect:
    """Delivered; the answer contains each of ``contains``."""
    return Expect("ok", contains)


def retry(*contains: str, after: Any = ANY) -> Expect:
    """RetryableError whose message contains ``contains`` (and ``retry_after == after``)."""
    return Expect("retry", contains, after)


def timeout(*contains: str) -> Expect:
    """NotifierTimeout (a RetryableError and a TimeoutError) whose message contains these."""
    return Expect("timeout", contains, None)


def fail(*contains: str) -> Expect:
    """PermanentError whose message contains ``contains``."""
    return Expect("fail", contains)


def invalid(*contains: str) -> Expect:
    """ConfigError from the options, whose message contains ``contains``."""
    return Expect("invalid", contains)


ERRORS: dict[str, type[DeliveryError]] = {
    "retry": RetryableError,
    "timeout": NotifierTimeout,
    "fail": PermanentError,
}


class Ctx:
    """What a row's callables receive: the server, and places to put secrets.

    Args:
        server: The table's server (a row may start its own, :attr:`Case.server`).
        tmp_path: The test's directory.
        monkeypatch: For environment variables.
        make_sink: Starts a WebhookSink (``make_sink(default, tls=...)``).
        make_smtp: Starts an aiosmtpd server (``make_smtp("starttls", users=...)``).
        tls_files: The session's self-signed certificate.
    """

    def __init__(
        self,
        server: Any,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        make_sink: Callable[..., Any],
        make_smtp: Callable[..., Any],
        tls_files: TlsFiles,
    ) -> None:
        self.server = server
        self.tmp_path = tmp_path
        self.monkeypatch = monkeypatch
        self.make_sink = make_sink
        self.make_smtp = make_smtp
        self.tls_files = tls_files
        #: Values no error may contain (what the row put into files and variables).
        self.secrets: list[str] = []
        self._silent: list[SilentServer] = []

    def file(self, name: str, text: str) -> str:
        """Write ``text`` (a secret) to a file; its path."""
        path = self.tmp_path / name
        path.write_text(text)
        self.secrets.append(text.strip())
        return str(path)

    def missing(self, name: str) -> str:
        """The path of a file that does not exist."""
        return str(self.tmp_path / name)

    def env(self, name: str, value: str) -> dict[str, str]:
        """Put ``value`` (a secret) into the variable ``name``; the ``{env: name}`` reference."""
        self.monkeypatch.setenv(name, value)
        self.secrets.append(value)
        return {"env": name}

    def closed_url(self, path: str = "") -> str:
        """``http://127.0.0.1:PORT<path>`` where nothing listens."""
        return f"http://127.0.0.1:{free_port()}{path}"

    def silent_port(self) -> int:
        """A port that accepts connections and never says a word."""
        silent = SilentServer()
        self._silent.append(silent)
        return silent.port

    def close(self) -> None:
        """Stop what the rows started here (the fixtures stop their own servers)."""
        for silent in self._silent:
            silent.close()


@dataclass
class Case:
    """One row of a channel's table.

    Attributes:
        id: The test id.
        options: The channel options, given the context (and its running server).
        expect: The outcome.
        server: Starts the row's own server, which becomes ``ctx.server``.
        script: Prepares the server (scripted answers) before the send.
        message: The message (default: :func:`sample`).
        transport: Answer the requests with this handler instead of the network.
        check: More assertions, on the context (what the server received) and the outcome.
        secrets: More strings no error message may contain.
    """

    id: str
    options: Callable[[Ctx], dict[str, Any]]
    expect: Expect
    server: Callable[[Ctx], Any] | None = None
    script: Callable[[Any], None] | None = None
    message: Message | None = None
    transport: Handler | None = None
    check: Callable[[Ctx, Any], None] | None = None
    secrets: Sequence[str] = field(default=())


def params(cases: list[Case]) -> list[Any]:
    """``pytest.param`` per case, with its id."""
    return [pytest.param(case, id=case.id) for case in cases]


def option_secrets(notifier: Notifier[Any]) -> Iterator[str]:
    """The inline values of the options marked secret, and the parts of them that may be
    tokens (query values, long path segments)."""
    for name, spec in fields(notifier.options).items():
        if not spec.secret:
            continue
        value = getattr(notifier.options, name)
        values = value.values() if isinstance(value, dict) else [value]
        for item in values:
            if isinstance(item, Secret) and item.kind == "inline":
                yield from url_secrets(item.ref)


def assert_clean(text: str, secrets: Sequence[str]) -> None:
    """No secret in ``text``."""
    for secret in secrets:
        assert secret not in text, f"secret {secret!r} leaked into {text!r}"


def run_case(type_name: str, case: Case, ctx: Ctx, server: Any = None) -> None:
    """Build the channel, script the server, send, and check the outcome as the row says.

    Args:
        type_name: The channel type.
        case: The row.
        ctx: The test's context.
        server: The table's server (unless the row starts its own).
    """
    ctx.server = case.server(ctx) if case.server is not None else server
    expect = case.expect
    if expect.kind == "invalid":
        with pytest.raises(ConfigError) as refused:
            make(type_name, case.options(ctx))
        text = str(refused.value)
        for part in expect.contains:
            assert part in text
        assert_clean(text, [*ctx.secrets, *case.secrets])
        return
    notifier = make(type_name, case.options(ctx))
    if case.script is not None:
        case.script(ctx.server)
    outcome: str | KakitError
    if expect.kind == "ok":
        outcome = deliver(notifier, case.message, case.transport)
        for part in expect.contains:
            assert part in outcome
    else:
        with pytest.raises(DeliveryError) as caught:
            deliver(notifier, case.message, case.transport)
        outcome = caught.value
        assert isinstance(outcome, ERRORS[expect.kind])
        if expect.kind == "retry":
            assert not isinstance(outcome, NotifierTimeout)
        text = str(outcome)
        for part in expect.contains:
            assert part in text
        assert f"{notifier.label}: " in text, "the message names the channel"
        secrets = [*ctx.secrets, *case.secrets, *option_secrets(notifier)]
        assert_clean(text, secrets)
        assert_clean(repr(outcome), secrets)
        if expect.retry_after is not ANY:
            assert isinstance(outcome, RetryableError)
            assert outcome.retry_after == expect.retry_after
    if case.check is not None:
        case.check(ctx, outcome)
