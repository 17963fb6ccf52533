"""Shared fixtures: temporary configurations and running the installed kacheck."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from kakit.config import Config, parse_config


def kacheck_path() -> str:
    """The kacheck console script of the interpreter running the tests."""
    beside = Path(sys.executable).with_name("kacheck")
    if beside.exists():
        return str(beside)
    found = shutil.which("kacheck")
    if found is None:
        raise RuntimeError("kacheck is not installed: run the tests through `make test`")
    return found


def config_text(tmp_path: Path, body: str) -> str:
    """A complete configuration: private directories under ``tmp_path`` plus ``body``."""
    header = textwrap.dedent(
        f"""\
        version: 1
        paths: {{state_dir: {tmp_path}/run, data_dir: {tmp_path}/lib}}
        log: {{file: {tmp_path}/kakit.log, syslog: false}}
        """
    )
    return header + textwrap.dedent(body)


@pytest.fixture(name="write_config")
def _write_config(tmp_path: Path) -> Callable[[str], Path]:
    """Write a kakit.yaml with private state/data/log paths and return its path."""

    def write(body: str) -> Path:
        path = tmp_path / "kakit.yaml"
        path.write_text(config_text(tmp_path, body))
        return path

    return write


@pytest.fixture(name="make_config")
def _make_config(tmp_path: Path) -> Callable[[str], Config]:
    """Parse a configuration body (with private paths) into a Config."""

    def make(body: str) -> Config:
        return parse_config(config_text(tmp_path, body), str(tmp_path / "kakit.yaml"))

    return make


@pytest.fixture(name="run_kacheck")
def _run_kacheck() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the installed kacheck like keepalived does: no terminal, a fresh process."""

    def run(
        *args: str, timeout: float = 60.0, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        full_env = {key: value for key, value in os.environ.items() if key != "KAKIT_CONFIG"}
        full_env.update(env or {})
        return subprocess.run(
            [kacheck_path(), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=full_env,
            stdin=subprocess.DEVNULL,
        )

    return run


@pytest.fixture(name="runner")
def _runner() -> CliRunner:
    """A click runner for the kakit admin CLI."""
    return CliRunner()


@pytest.fixture(name="read_log")
def _read_log(tmp_path: Path) -> Callable[[], list[str]]:
    """The lines kakit logged to the configured log file."""

    def read() -> list[str]:
        path = tmp_path / "kakit.log"
        return path.read_text().splitlines() if path.exists() else []

    return read
