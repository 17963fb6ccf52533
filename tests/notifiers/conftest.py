"""Fixtures of the channel tests: the fake servers from ``tests.fakes``."""

from __future__ import annotations

from tests.fakes.fixtures import (  # noqa: F401 - fixtures are found by name
    _alertmanager,
    _dingtalk,
    _feishu,
    _make_sink,
    _make_smtp,
    _sink,
    _tls_files,
)
