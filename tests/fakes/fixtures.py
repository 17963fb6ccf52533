"""pytest fixtures for the fakes; a conftest imports the ones its tests use.

Every server listens on 127.0.0.1 only and is stopped when its test (or, for the session-wide
ones, the test session) ends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.fakes.alertmanager import RealAlertmanager, installed
from tests.fakes.dingtalk import FakeDingTalk
from tests.fakes.feishu import FakeFeishu
from tests.fakes.http import Answer
from tests.fakes.smtp import FakeSmtp, Mode
from tests.fakes.tls import TlsFiles, make_tls_files
from tests.fakes.webhook import WebhookSink


@pytest.fixture(scope="session", name="tls_files")
def _tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A self-signed certificate for 127.0.0.1 (its own CA), made once per session."""
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture(name="dingtalk")
def _dingtalk() -> Iterator[FakeDingTalk]:
    """A running FakeDingTalk with no robots yet (``add_robot``)."""
    with FakeDingTalk() as server:
        yield server


@pytest.fixture(name="feishu")
def _feishu() -> Iterator[FakeFeishu]:
    """A running FakeFeishu with no bots yet (``add_bot``)."""
    with FakeFeishu() as server:
        yield server


@pytest.fixture(name="sink")
def _sink() -> Iterator[WebhookSink]:
    """A running HTTP WebhookSink answering ``200 ok``."""
    with WebhookSink() as server:
        yield server


@pytest.fixture(name="make_sink")
def _make_sink() -> Iterator[Callable[..., WebhookSink]]:
    """Start WebhookSinks with a chosen default answer and/or TLS; all stopped afterwards."""
    started: list[WebhookSink] = []

    def make(default: Answer | None = None, tls: TlsFiles | None = None) -> WebhookSink:
        server = WebhookSink(default, tls=tls).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture(name="make_smtp")
def _make_smtp(tls_files: TlsFiles) -> Iterator[Callable[..., FakeSmtp]]:
    """Start aiosmtpd servers (``make_smtp("starttls", users={...}, refuse=(...))``)."""
    started: list[FakeSmtp] = []

    def make(
        mode: Mode = "plain",
        *,
        users: dict[str, str] | None = None,
        refuse: tuple[str, ...] = (),
    ) -> FakeSmtp:
        server = FakeSmtp(mode, tls=tls_files, users=users, refuse=refuse).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture(scope="session", name="alertmanager")
def _alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealAlertmanager]:
    """The real Alertmanager on a free port (skipped when the package is not installed)."""
    if not installed():
        pytest.skip(
            "prometheus-alertmanager is not installed (apt-get install prometheus-alertmanager)"
        )
    server = RealAlertmanager(Path(tmp_path_factory.mktemp("alertmanager"))).start()
    try:
        yield server
    finally:
        server.stop()
