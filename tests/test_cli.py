"""Specification of the kakit admin command line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import yaml
from click.testing import CliRunner

from kakit.cli import kakit


class TestConfigCheck:
    """`kakit config check` validates and prints the effective configuration."""

    def test_valid_config_prints_effective_settings(
        self, runner: CliRunner, write_config: Callable[[str], Path]
    ) -> None:
        """A valid file prints every check with its defaults filled in."""
        path = write_config("checks:\n  nginx: {port: 8080}\n")
        result = runner.invoke(kakit, ["config", "check", "-c", str(path)])
        assert result.exit_code == 0, result.output
        printed = yaml.safe_load(result.stdout)
        probe = printed["checks"]["nginx"]["probes"][0]
        assert (probe["type"], probe["service"], probe["port"], probe["restart"]["max"]) == (
            "service",
            "nginx",
            8080,
            2,
        )

    def test_invalid_config_exits_2_with_location(
        self, runner: CliRunner, write_config: Callable[[str], Path]
    ) -> None:
        """An invalid file exits 2 with file, line, key and value."""
        path = write_config("checks:\n  up: {type: gateway, count: many}\n")
        result = runner.invoke(kakit, ["config", "check", "-c", str(path)])
        assert result.exit_code == 2
        assert (
            f"Error: {path}:5: checks.up.count: expected an integer from 1 to 1000, got 'many'"
            in result.output
        )

    def test_latch_list_empty(self, runner: CliRunner, write_config: Callable[[str], Path]) -> None:
        """With nothing latched, `latch list` says so."""
        path = write_config("checks: {}\n")
        result = runner.invoke(kakit, ["latch", "list", "-c", str(path)])
        assert (result.exit_code, result.output.strip()) == (0, "no latched checks")
