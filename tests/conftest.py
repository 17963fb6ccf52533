"""Shared fixtures: temporary configurations and running the installed kacheck."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kakit.config import Config, parse_config
from kakit.exceptions import ConfigError
from lab import netns


@pytest.fixture(scope="session", autouse=True)
def _private_config_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep the validated-config cache of every kakit process a test starts in a temporary dir.

    Set in os.environ so that kacheck/kanotify run by tests, and by keepalived in lab tests,
    inherit it; the host's /run/kakit/config-cache stays untouched.
    """
    previous = os.environ.get("KAKIT_CONFIG_CACHE")
    os.environ["KAKIT_CONFIG_CACHE"] = str(tmp_path_factory.mktemp("config-cache"))
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("KAKIT_CONFIG_CACHE", None)
        else:
            os.environ["KAKIT_CONFIG_CACHE"] = previous


@pytest.fixture(autouse=True)
def _host_log_untouched() -> Iterator[None]:
    """Give each test the process-wide logger as it was before, without a fallback file.

    Tools run in-process point the logger at their configuration's data directory: a test
    that loads the defaults would otherwise leave its lines in the host's /var/lib/kakit.
    """
    from kakit.core.log import logger

    saved = dict(vars(logger))
    logger.fallback = None
    try:
        yield
    finally:
        vars(logger).clear()
        vars(logger).update(saved)


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
        log: {{file: {tmp_path}/kakit.log, syslog: false, level: debug}}
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


@pytest.fixture(name="config_refusal")
def _config_refusal(tmp_path: Path, make_config: Callable[[str], Config]) -> Callable[[str], str]:
    """The ConfigError message a configuration body is refused with, after ``<file>:``."""

    def refusal(body: str) -> str:
        with pytest.raises(ConfigError) as caught:
            make_config(body)
        prefix = f"{tmp_path / 'kakit.yaml'}:"
        message = str(caught.value)
        assert message.startswith(prefix), message
        return message.removeprefix(prefix)

    return refusal


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


# --- a private network namespace per test ---------------------------------------------------

CHILD = Path(__file__).parent / "hooks" / "netns_child.py"
_counter = itertools.count(1)


class Namespace:
    """A network namespace created for one test, with helpers to act and look inside it."""

    def __init__(self, name: str) -> None:
        self.name = name

    def run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a program inside the namespace and capture its output."""
        return subprocess.run(
            ["ip", "netns", "exec", self.name, *argv],
            capture_output=True,
            text=True,
            timeout=30,
            check=check,
        )

    def apply(self, config: str, state: str, previous: str | None = None) -> list[dict[str, Any]]:
        """Apply ``state``'s hooks of the kakit.yaml text ``config`` in a fresh Python process
        inside the namespace, as kanotify would, and return the outcomes."""
        spec = json.dumps({"config": textwrap.dedent(config), "state": state, "previous": previous})
        proc = self.run(sys.executable, str(CHILD), spec, check=False)
        if proc.returncode != 0:
            raise AssertionError(f"hook child failed ({proc.returncode}): {proc.stderr}")
        outcomes: list[dict[str, Any]] = json.loads(proc.stdout)
        return outcomes

    def drift(self, config: str, state: str) -> list[str]:
        """How the namespace differs from ``state``'s hooks, as the FIFO reader's reconcile sees it."""
        spec = json.dumps({"config": textwrap.dedent(config), "state": state, "drift": True})
        proc = self.run(sys.executable, str(CHILD), spec, check=False)
        if proc.returncode != 0:
            raise AssertionError(f"hook child failed ({proc.returncode}): {proc.stderr}")
        found: list[str] = json.loads(proc.stdout)
        return found

    def sysctl(self, name: str) -> str:
        """A sysctl's value as seen inside the namespace."""
        return self.run("cat", "/proc/sys/" + name.replace(".", "/")).stdout.strip()

    def iptables_rules(self) -> list[str]:
        """``iptables -S`` of the filter table inside the namespace, one rule per item."""
        return self.run("iptables", "-S").stdout.splitlines()

    def nft_table(self, table: str = "kakit") -> str | None:
        """``nft list table inet TABLE`` inside the namespace, or None when there is none."""
        proc = self.run("nft", "list", "table", "inet", table, check=False)
        return proc.stdout if proc.returncode == 0 else None


@pytest.fixture(name="ns")
def _ns() -> Iterator[Namespace]:
    """A fresh network namespace ``kh<pid>-<n>``, deleted after the test."""
    if os.geteuid() != 0 or not shutil.which("ip"):
        pytest.skip("needs root and iproute2")
    name = f"kh{os.getpid()}-{next(_counter)}"
    try:
        netns.add_netns(name)
        yield Namespace(name)
    finally:
        netns.delete_netns(name)
