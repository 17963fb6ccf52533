"""Fixtures of the kanotify tests: the fake servers from ``tests.fakes``."""

from __future__ import annotations

from tests.fakes.fixtures import _sink  # noqa: F401 - fixtures are found by name
