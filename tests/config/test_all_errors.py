"""Specification of validation reporting every error of a file, each with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from kakit.config import parse_config
from kakit.exceptions import ConfigError, ConfigErrors, config_errors

THREE_ERRORS = """\
version: 1
log:
  level: loud
checks:
  up: {type: gateway, count: many}
channels:
  hook: {type: webhook, url: "https://example.com/hook", timeout: forever}
"""


def errors_of(text: str, source: str = "k.yaml") -> list[str]:
    """Every error message a configuration text is refused with."""
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source)
    return [str(error) for error in config_errors(caught.value)]


class TestAllErrors:
    """One pass finds them all, in file order."""

    def test_three_sections(self) -> None:
        """An error in log, one in checks and one in channels: all three, in line order."""
        found = errors_of(THREE_ERRORS)
        assert [error.split(": expected")[0] for error in found] == [
            "k.yaml:3: log.level",
            "k.yaml:5: checks.up.count",
            "k.yaml:7: channels.hook.timeout",
        ]

    def test_message_is_first_error_and_count(self) -> None:
        """The one-line form, for tools that can say one line, is the first and how many more."""
        with pytest.raises(ConfigErrors) as caught:
            parse_config(THREE_ERRORS, "k.yaml")
        assert str(caught.value).startswith("k.yaml:3: log.level: expected one of error, ")
        assert str(caught.value).endswith(" (and 2 more; run `kakit config check`)")

    def test_single_error_is_unchanged(self) -> None:
        """A file with one error raises exactly that error, not a list of one."""
        with pytest.raises(ConfigError) as caught:
            parse_config("version: 1\nlog: {level: loud}\n", "k.yaml")
        assert type(caught.value) is ConfigError

    def test_misspelt_key_is_one_error(self) -> None:
        """`prot` for `port`: the unknown key (with its suggestion), not also a missing `port`."""
        found = errors_of("version: 1\nchecks:\n  web: {type: tcp, prot: 80}\n")
        assert len(found) == 1 and "did you mean 'port'?" in found[0]

    def test_duplicate_key_and_schema_error_together(self) -> None:
        """A duplicate key is skipped and reported; the rest is still validated."""
        found = errors_of("version: 1\nlog: {level: info}\nlog: {level: x}\nnode: 5\n")
        assert [error.split(": ", 2)[:2] for error in found] == [
            ["k.yaml:3", "log"],
            ["k.yaml:4", "node"],
        ]

    def test_route_to_unknown_channel_with_other_errors(self) -> None:
        """A route naming no configured channel is reported beside errors elsewhere."""
        found = errors_of("version: 1\nlog: {level: x}\nalerts: [{channels: [nope]}]\n")
        assert [error.split(": ")[1] for error in found] == ["log.level", "alerts[0].channels"]

    def test_every_probe_and_hook(self, tmp_path: Path) -> None:
        """Errors in two probes of one check and in two states' hooks are all reported."""
        found = errors_of(
            """\
            version: 1
            checks:
              both:
                probes:
                  - {type: tcp, port: 0}
                  - {type: tcp, port: 70000}
            states:
              MASTER: {sysctl: 5}
              BACKUP: {sysctl: 6}
            """.replace("            ", "")
        )
        assert [error.split(": ")[1] for error in found] == [
            "checks.both.probes[0].port",
            "checks.both.probes[1].port",
            "states.MASTER.sysctl",
            "states.BACKUP.sysctl",
        ]
