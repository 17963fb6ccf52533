"""Fixtures of the channel tests: the fake servers from ``tests.fakes`` and the rows' context."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.fixtures import (  # noqa: F401 - fixtures are found by name
    _alertmanager,
    _dingtalk,
    _feishu,
    _make_sink,
    _make_smtp,
    _sink,
    _tls_files,
)
from tests.fakes.tls import TlsFiles
from tests.notifiers.runner import Ctx


@pytest.fixture(name="ctx")
def _ctx(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_sink: Callable[..., Any],
    make_smtp: Callable[..., Any],
    tls_files: TlsFiles,
) -> Iterator[Ctx]:
    """The context a table row runs in (servers are started only when a row asks)."""
    ctx = Ctx(None, tmp_path, monkeypatch, make_sink, make_smtp, tls_files)
    yield ctx
    ctx.close()
