"""Parsing a configuration file: YAML, the version and the top level."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kakit.config import parse_config
from kakit.exceptions import ConfigError

# (body after the standard 3-line header, expected message after "<file>:")
BAD_FILES = [
    (
        "checks:\n  m:\n    type: flag\n  m:\n    type: file\n",
        "7: checks.m: duplicate key (first defined on line 5)",
    ),
    (
        "pahts: {state_dir: /run/kakit}\n",
        "4: pahts: unknown key (did you mean 'paths'? allowed here: alerts, channels, checks, fifo, hooks, kaprobe, keepalived, log, node, outbox, paths, probes, realserver, states, templates, version)",
    ),
]

# (whole text, exact message) for files parsed as "k.yaml"
BAD_TEXTS = [
    pytest.param("checks: {}\n", "k.yaml: missing top-level 'version: 1'", id="no-version"),
    pytest.param(
        "version: 2\n",
        "k.yaml:1: version: expected version 1 (the only format this kakit understands), got 2",
        id="version-2",
    ),
    pytest.param(
        "version: 1\nchecks:\n  a: [1, 2\n",
        "k.yaml:4: invalid YAML: did not find expected ',' or ']'",
        id="yaml-syntax",
    ),
    pytest.param(
        "",
        "k.yaml: the configuration is empty; it must at least say 'version: 1'",
        id="empty",
    ),
]


class TestBadFiles:
    """Each invalid file is refused with file, line, key path, value and expectation."""

    @pytest.mark.parametrize(("body", "expected"), BAD_FILES)
    def test_message(self, config_refusal: Callable[[str], str], body: str, expected: str) -> None:
        """The error message names exactly what is wrong and where."""
        assert config_refusal(body) == expected

    @pytest.mark.parametrize(("text", "expected"), BAD_TEXTS)
    def test_text(self, text: str, expected: str) -> None:
        """A missing or unknown version, a YAML error and an empty file are refused."""
        with pytest.raises(ConfigError) as caught:
            parse_config(text, "k.yaml")
        assert str(caught.value) == expected
