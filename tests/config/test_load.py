"""Where the configuration comes from: -c, $KAKIT_CONFIG, the default path, or none."""

from __future__ import annotations

import os
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

    @pytest.mark.timeout(10)
    def test_fifo_without_writer_is_refused_not_waited_on(
        self, write_config: Callable[[str], Path]
    ) -> None:
        """-c naming a FIFO nobody writes to reads as empty: refused at once, no hang."""
        fifo = write_config("").with_name("fifo.yaml")
        os.mkfifo(fifo, 0o600)
        with pytest.raises(ConfigError, match=r"fifo\.yaml"):
            load_config(str(fifo), cache=False)

    def test_pipe_being_written_is_read(self) -> None:
        """-c <(generate-config): a pipe with its writer attached is read to its end."""
        read_end, write_end = os.pipe()
        try:
            os.write(write_end, b"version: 1\nnode: from-a-pipe\n")
            os.close(write_end)
            assert load_config(f"/dev/fd/{read_end}", cache=False).node == "from-a-pipe"
        finally:
            os.close(read_end)

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
