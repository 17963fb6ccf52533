"""The ``checks`` section: validated specs, laid over the built-in presets."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kakit.checks.spec import CheckSpec
from kakit.config import Config
from kakit.exceptions import ConfigError

# (checks section of a file whose header takes 3 lines, expected message after "<file>:")
BAD_CHECKS = [
    (
        "checks:\n  web:\n    type: servcie\n    service: nginx\n",
        "6: checks.web.type: expected one of the check types command, file, flag, gateway, http, process, realserver, service, split-brain, tcp, got 'servcie'",
    ),
    (
        "checks:\n  web:\n    type: service\n    service: nginx\n    retsart: {max: 2}\n",
        "8: checks.web.retsart: unknown key (did you mean 'restart'? allowed here: config_test, deadline, fall, http, latch, on_failure, pidfile, port, process, restart, restart_command, rise, service, type, unit)",
    ),
    (
        "checks:\n  web:\n    type: service\n    service: nginx\n    restart: {max: two}\n",
        "8: checks.web.restart.max: expected an integer from 0 to 100, got 'two'",
    ),
    (
        "checks:\n  up:\n    type: gateway\n    timeout: 5 min\n",
        "7: checks.up.timeout: expected a duration in seconds such as 0.2, '200ms', '3s', '5m' or '1h', got '5 min'",
    ),
    (
        "checks:\n  up:\n    type: gateway\n    loss_threshold: 180\n",
        "7: checks.up.loss_threshold: expected a percentage from 0 to 100 such as 80 or '80%', got 180",
    ),
    (
        "checks:\n  up:\n    type: gateway\n    target: 10.213.0.999\n",
        "7: checks.up.target: expected an IPv4 or IPv6 address, got '10.213.0.999'",
    ),
    (
        "checks:\n  web:\n    type: service\n",
        "5: checks.web: expected the key 'service'",
    ),
    (
        "checks:\n  web:\n    type: service\n    service: nginx\n    port: 70000\n",
        "8: checks.web.port: expected an integer from 1 to 65535, got 70000",
    ),
    (
        "checks:\n  web:\n    type: service\n    service: nginx\n    restart_command: systemctl restart nginx\n",
        "8: checks.web.restart_command: expected a list of words run without a shell, such as [nginx, -s, reload], got 'systemctl restart nginx'",
    ),
    (
        "checks:\n  web:\n    type: http\n    status_code: 200-2999\n",
        "7: checks.web.status_code: expected HTTP status codes such as 200, '200-299' or '200-299 301', got '200-2999'",
    ),
    (
        "checks:\n  m:\n    type: flag\n    path: etc/keepalived/down\n",
        "7: checks.m.path: expected an absolute path (starting with /), got 'etc/keepalived/down'",
    ),
    (
        "checks:\n  m:\n    type: flag\n    latch: 'yes'\n",
        "7: checks.m.latch: expected true or false, got 'yes'",
    ),
    (
        "checks:\n  m:\n    type: flag\n    on_failure: reboot\n",
        "7: checks.m.on_failure: expected one of fail, stop-keepalived, got 'reboot'",
    ),
    (
        "checks:\n  web:\n    probes: []\n",
        "6: checks.web.probes: expected a non-empty list of probes, each with a 'type', got []",
    ),
    (
        "checks:\n  web:\n    probes:\n      - {port: 80}\n",
        "7: checks.web.probes[0]: expected the key 'type' (one of command, file, flag, gateway, http, process, realserver, service, split-brain, tcp)",
    ),
    (
        "checks:\n  f:\n    type: file\n    path: /tmp/x\n    present: false\n    max_age: 10\n",
        "5: checks.f: expected max_age only together with present: true",
    ),
    (
        "checks:\n  up:\n    type: gateway\n    interval: -1\n",
        "7: checks.up.interval: expected a duration of zero or more up to 10 s (a duration in seconds such as 0.2, '200ms', '3s', '5m' or '1h'), got -1",
    ),
]


class TestBadChecks:
    """Each invalid check is refused at load time with file, line, key path, value and expectation."""

    @pytest.mark.parametrize(("body", "expected"), BAD_CHECKS)
    def test_message(self, config_refusal: Callable[[str], str], body: str, expected: str) -> None:
        """The error message names exactly what is wrong and where."""
        assert config_refusal(body) == expected


class TestSpecs:
    """What the loaded configuration holds for each check."""

    def test_validated_specs(self, make_config: Callable[[str], Config]) -> None:
        """A check of the file is held as a spec with validated options and its origin."""
        config = make_config("checks:\n  web: {type: tcp, port: 80, fall: 3}\n")
        spec = config.checks["web"]
        assert isinstance(spec, CheckSpec)
        assert (spec.fall, spec.origin.endswith("kakit.yaml:5")) == (3, True)
        assert [(probe.type, probe.options.port) for probe in spec.probes] == [("tcp", 80)]
        assert config.check("web") is spec

    def test_probes_in_order(self, make_config: Callable[[str], Config]) -> None:
        """A check with ``probes`` holds one probe spec per item, in the file's order."""
        config = make_config(
            "checks:\n  web:\n    probes:\n      - {type: tcp, port: 80}\n      - {type: flag, path: /tmp/m}\n"
        )
        assert [probe.type for probe in config.check("web").probes] == ["tcp", "flag"]

    def test_preset_built_on_demand(self, make_config: Callable[[str], Config]) -> None:
        """A preset the file does not mention is not held, and is built when asked for."""
        config = make_config("checks:\n  web: {type: tcp, port: 80}\n")
        assert "flag" not in config.checks
        spec = config.check("flag")
        assert (spec.origin, [probe.type for probe in spec.probes]) == (
            "<built-in preset flag>",
            ["flag"],
        )
        assert spec.probes[0].options.path == "/etc/keepalived/down"


class TestPresets:
    """Built-in checks and how the file overrides them."""

    def test_preset_overlay_keeps_unset_keys(self, make_config: Callable[[str], Config]) -> None:
        """A YAML check named like a preset changes only the keys it sets."""
        config = make_config("checks:\n  nginx:\n    port: 8080\n    restart: {max: 1}\n")
        options = config.check("nginx").probes[0].options
        assert options.port == 8080
        assert options.restart.max == 1
        assert options.pidfile == "/run/nginx.pid"
        assert options.config_test == ("nginx", "-t", "-q")

    def test_other_type_replaces_preset(self, make_config: Callable[[str], Config]) -> None:
        """A YAML check of another type replaces the preset entirely."""
        config = make_config("checks:\n  nginx:\n    type: tcp\n    port: 80\n")
        spec = config.check("nginx")
        assert [probe.type for probe in spec.probes] == ["tcp"]

    def test_unknown_check_lists_known_names(self, make_config: Callable[[str], Config]) -> None:
        """Asking for an unknown check names the known ones."""
        config = make_config("checks:\n  web: {type: tcp, port: 80}\n")
        with pytest.raises(
            ConfigError,
            match=r"unknown check 'wbe' in .*; known checks: apache2, flag, gateway, httpd, nginx, realserver, web",
        ):
            config.check("wbe")

    def test_durations_accept_units(self, make_config: Callable[[str], Config]) -> None:
        """Durations take seconds or ms/s/m/h suffixes."""
        config = make_config(
            "checks:\n  up: {type: gateway, timeout: 200ms, interval: 0, rtt_threshold: 50ms}\n  web:\n    type: service\n    service: nginx\n    restart: {within: 5m, wait: 1.5s}\n"
        )
        gateway = config.check("up").probes[0].options
        assert (gateway.timeout, gateway.interval, gateway.rtt_threshold) == (0.2, 0.0, 0.05)
        restart = config.check("web").probes[0].options.restart
        assert (restart.within, restart.wait) == (300.0, 1.5)
