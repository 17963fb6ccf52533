"""The shared runner of the channel tests: build a channel from YAML-like options, send one
message through a real ``httpx.AsyncClient``, compare the outcome with the expected one.

Every error a case produces is also checked for leaked secrets: the strings listed in
``Case.secrets`` must not appear in its message.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from kakit import notifiers
from kakit.alerts.alert import Alert
from kakit.core.converters import build, from_python
from kakit.exceptions import KakitError
from kakit.notifiers.base import Message, Notifier, PermanentError, RetryableError

ANY = object()


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


def make(type_name: str, options: dict[str, Any], name: str = "test") -> Notifier:
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


def deliver(notifier: Notifier, message: Message | None = None) -> str:
    """``notifier.send`` with a fresh client (verifying TLS), as the delivery worker does it."""

    async def go() -> str:
        try:
            async with httpx.AsyncClient(verify=default_tls_context(), trust_env=False) as client:
                return await notifier.send(message or sample(), client)
        finally:
            await settle()

    return asyncio.run(go())


@dataclass
class Expect:
    """An expected outcome.

    Attributes:
        kind: ``ok`` (the answer), ``retry`` (RetryableError) or ``fail`` (PermanentError).
        contains: A substring of the answer or of the error message.
        retry_after: The expected ``retry_after`` (``ANY`` to not check it).
    """

    kind: str
    contains: str
    retry_after: Any = ANY


def ok(contains: str = "") -> Expect:
    """Delivered; the answer contains ``contains``."""
    return Expect("ok", contains)


def retry(contains: str = "", after: Any = ANY) -> Expect:
    """RetryableError whose message contains ``contains`` (and ``retry_after == after``)."""
    return Expect("retry", contains, after)


def fail(contains: str = "") -> Expect:
    """PermanentError whose message contains ``contains``."""
    return Expect("fail", contains)


@dataclass
class Case:
    """One row of a channel's table.

    Attributes:
        id: The test id.
        options: The channel options, given the running fake server.
        expect: The outcome.
        script: Prepares the server (scripted failures) before the send.
        message: The message (default: :func:`sample`).
        secrets: Strings that must not appear in an error message (given the server).
    """

    id: str
    options: Callable[[Any], dict[str, Any]]
    expect: Expect
    script: Callable[[Any], None] | None = None
    message: Message | None = None
    secrets: Callable[[Any], list[str]] = field(default=lambda server: [])


def params(cases: list[Case]) -> list[Any]:
    """``pytest.param`` per case, with its id."""
    return [pytest.param(case, id=case.id) for case in cases]


def check(
    notifier: Notifier,
    expect: Expect,
    message: Message | None = None,
    secrets: Sequence[str] = (),
) -> str | KakitError:
    """Send once and assert the outcome; returns the answer or the error."""
    if expect.kind == "ok":
        answer = deliver(notifier, message)
        assert expect.contains in answer
        return answer
    error_type = RetryableError if expect.kind == "retry" else PermanentError
    with pytest.raises(error_type) as caught:
        deliver(notifier, message)
    error = caught.value
    text = str(error)
    assert expect.contains in text
    assert f"{notifier.type_name} channel {notifier.name!r}" in text, (
        "the message names the channel"
    )
    for secret in secrets:
        assert secret not in text, f"secret {secret!r} leaked into {text!r}"
    if expect.retry_after is not ANY:
        assert isinstance(error, RetryableError)
        assert error.retry_after == expect.retry_after
    return error


def run_case(type_name: str, case: Case, server: Any) -> str | KakitError:
    """Build the channel for ``server``, script the server, send, check."""
    notifier = make(type_name, case.options(server))
    if case.script is not None:
        case.script(server)
    return check(notifier, case.expect, case.message, case.secrets(server))
