"""Where the configuration comes from: -c, $KAKIT_CONFIG, the default path, or none."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from kakit.config import load_config
from kakit.exceptions import ConfigError


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
