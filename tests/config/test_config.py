"""Specification of configuration loading: every mistake gets one precise line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from kakit.config import Config, load_config, parse_config
from kakit.exceptions import ConfigError

BAD_CONFIGS = [
    # (body after the standard header, expected message after "<file>:")
    (
        "checks:\n  web:\n    type: servcie\n    service: nginx\n",
        "6: checks.web.type: expected one of the check types command, file, flag, gateway, http, process, service, tcp, got 'servcie'",
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
        "checks:\n  m:\n    type: flag\n  m:\n    type: file\n",
        "7: checks.m: duplicate key (first defined on line 5)",
    ),
    (
        "checks:\n  web:\n    probes: []\n",
        "6: checks.web.probes: expected a non-empty list of probes, each with a 'type', got []",
    ),
    (
        "checks:\n  web:\n    probes:\n      - {port: 80}\n",
        "7: checks.web.probes[0]: expected the key 'type' (one of command, file, flag, gateway, http, process, service, tcp)",
    ),
    (
        "checks:\n  f:\n    type: file\n    path: /tmp/x\n    present: false\n    max_age: 10\n",
        "5: checks.f: expected max_age only together with present: true",
    ),
    (
        "pahts: {state_dir: /run/kakit}\n",
        "4: pahts: unknown key (did you mean 'paths'? allowed here: alerts, channels, checks, hooks, log, node, outbox, paths, states, templates, version)",
    ),
    (
        "checks:\n  up:\n    type: gateway\n    interval: -1\n",
        "7: checks.up.interval: expected a duration of zero or more up to 10 s (a duration in seconds such as 0.2, '200ms', '3s', '5m' or '1h'), got -1",
    ),
]


class TestBadConfigurations:
    """Each invalid configuration is refused with file, line, key path, value and expectation."""

    @pytest.mark.parametrize(("body", "expected"), BAD_CONFIGS)
    def test_message(
        self, tmp_path: Path, make_config: Callable[[str], Config], body: str, expected: str
    ) -> None:
        """The error message names exactly what is wrong and where."""
        with pytest.raises(ConfigError) as caught:
            make_config(body)
        assert str(caught.value) == f"{tmp_path / 'kakit.yaml'}:{expected}"

    def test_missing_version(self) -> None:
        """A file without a version is refused."""
        with pytest.raises(ConfigError, match=r"^k\.yaml: missing top-level 'version: 1'$"):
            parse_config("checks: {}\n", "k.yaml")

    def test_unsupported_version(self) -> None:
        """Only version 1 is understood."""
        with pytest.raises(
            ConfigError, match=r"^k\.yaml:1: version: expected version 1 .*, got 2$"
        ):
            parse_config("version: 2\n", "k.yaml")

    def test_invalid_yaml(self) -> None:
        """A YAML syntax error names the line."""
        with pytest.raises(ConfigError, match=r"^k\.yaml:4: invalid YAML: did not find expected"):
            parse_config("version: 1\nchecks:\n  a: [1, 2\n", "k.yaml")

    def test_empty_file(self) -> None:
        """An empty file is an error, not silently the defaults."""
        with pytest.raises(ConfigError, match="the configuration is empty"):
            parse_config("", "k.yaml")


class TestLookup:
    """Where the configuration comes from."""

    def test_explicit_missing_file(self, tmp_path: Path) -> None:
        """A file named with -c must exist."""
        with pytest.raises(ConfigError, match="configuration file not found"):
            load_config(str(tmp_path / "nope.yaml"))

    def test_environment_variable(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write_config: Callable[[str], Path]
    ) -> None:
        """$KAKIT_CONFIG is used when -c is absent."""
        path = write_config("checks:\n  m: {type: flag, path: /tmp/m}\n")
        monkeypatch.setenv("KAKIT_CONFIG", str(path))
        assert load_config().source == str(path)

    def test_defaults_without_file(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """With no file at all the built-in defaults and presets apply."""
        monkeypatch.delenv("KAKIT_CONFIG", raising=False)
        monkeypatch.setattr("kakit.config.DEFAULT_CONFIG_PATH", "/nonexistent/kakit.yaml")
        config = load_config()
        assert config.source is None
        assert config.paths.state_dir == "/run/kakit"
        assert config.check("nginx").probes[0].options.service == "nginx"


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
            match=r"unknown check 'wbe' in .*; known checks: apache2, flag, gateway, httpd, nginx, web",
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
