"""Specification of the entry-point skeleton shared by kacheck, kanotify and the delivery worker."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kakit import __version__
from kakit.config import Config
from kakit.core.entry import Arguments, run_tool
from kakit.core.log import logger
from kakit.exceptions import CheckError, ConfigError, UsageError
from tests.conftest import config_text

Body = Callable[[Config, Arguments], int]


@pytest.fixture(autouse=True)
def _restore_logger() -> Iterator[None]:
    """run_tool configures the process-wide logger; give it back as it was."""
    saved = dict(vars(logger))
    try:
        yield
    finally:
        vars(logger).clear()
        vars(logger).update(saved)


def parse_config_option(argv: list[str]) -> Arguments:
    """A minimal tool parser: ``[-c FILE] [-v]``, anything else is a usage error."""
    args = Arguments()
    items = list(argv)
    while items:
        item = items.pop(0)
        if item == "-c" and items:
            args.config = items.pop(0)
        elif item == "-v":
            args.verbose = True
        else:
            raise UsageError(f"unknown option {item!r}")
    return args


def tool(argv: list[str], body: Body, **options: object) -> int:
    """Run the skeleton as a tool called ``demo``."""
    return run_tool(
        argv,
        ident="demo",
        usage="usage: demo [-c FILE]\n",
        parse=parse_config_option,
        body=body,
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture(name="config")
def _config(tmp_path: Path) -> Path:
    """A configuration logging to ``tmp_path/kakit.log`` only."""
    path = tmp_path / "kakit.yaml"
    path.write_text(config_text(tmp_path, ""))
    return path


def log_lines(tmp_path: Path) -> list[str]:
    """The lines the tool logged to the configured file, without time stamp and pid."""
    path = tmp_path / "kakit.log"
    if not path.exists():
        return []
    return [line.split(" ", 2)[2] for line in path.read_text().splitlines()]


class TestRunTool:
    """argv -> config -> run -> exit code -> one log line."""

    def test_body_gets_the_configuration_and_decides_the_exit_code(
        self, config: Path, tmp_path: Path
    ) -> None:
        """The body runs with the file named by -c, and its return value is the exit code."""
        seen: list[str | None] = []

        def body(loaded: Config, args: Arguments) -> int:
            seen.append(loaded.source)
            return 1

        assert tool(["-c", str(config)], body) == 1
        assert seen == [str(config)]
        assert log_lines(tmp_path) == []

    @pytest.mark.parametrize(
        ("error", "code"),
        [(CheckError("probe broke"), 1), (ConfigError("probe broke"), 2)],
    )
    def test_error_in_body_is_one_log_line_and_its_exit_code(
        self,
        config: Path,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
        error: Exception,
        code: int,
    ) -> None:
        """A runtime error exits 1, a configuration error 2; either is logged once and on stderr."""

        def body(loaded: Config, args: Arguments) -> int:
            raise error

        assert tool(["-c", str(config)], body, log_prefix="outbox: ") == code
        assert log_lines(tmp_path) == ["error: outbox: probe broke"]
        assert capsys.readouterr().err == "demo: probe broke\n"

    def test_usage_error_names_the_arguments_when_asked(
        self, config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """With log_arguments, a usage error's log line repeats the command line it refused."""

        def body(loaded: Config, args: Arguments) -> int:
            raise UsageError("unknown state 'PRIMARY'")

        argv = ["-c", str(config)]
        assert tool(argv, body, log_arguments=True) == 2
        assert log_lines(tmp_path) == [f"error: unknown state 'PRIMARY' (arguments: -c {config})"]
        assert capsys.readouterr().err == "demo: unknown state 'PRIMARY'\n"

    def test_parse_error_exits_2_before_any_configuration(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A bad option exits 2 with one stderr line, without reading a configuration."""

        def body(loaded: Config, args: Arguments) -> int:
            raise AssertionError("the body must not run")

        assert tool(["--bogus"], body) == 2
        assert capsys.readouterr().err == "demo: unknown option '--bogus'\n"

    def test_broken_configuration_exits_2(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """An invalid configuration file exits 2 and says where it is wrong."""
        path = tmp_path / "kakit.yaml"
        path.write_text("version: 1\nlog: {levle: debug}\n")

        def body(loaded: Config, args: Arguments) -> int:
            raise AssertionError("the body must not run")

        assert tool(["-c", str(path)], body) == 2
        assert capsys.readouterr().err.startswith(f"demo: {path}:2: log.levle: unknown key")

    def test_help_and_version(self, capsys: pytest.CaptureFixture[str]) -> None:
        """-h/--help print the usage and --version the version, both exiting 0 without running."""

        def body(loaded: Config, args: Arguments) -> int:
            raise AssertionError("the body must not run")

        assert tool(["x", "--help"], body) == 0
        assert capsys.readouterr().out == "usage: demo [-c FILE]\n"
        assert tool(["--version"], body) == 0
        assert capsys.readouterr().out == f"demo (kakit) {__version__}\n"

    def test_verbose_logs_debug_to_stderr(
        self, config: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """-v sends every line, debug included, to stderr whatever the configured level."""

        def body(loaded: Config, args: Arguments) -> int:
            logger.debug("details")
            return 0

        assert tool(["-c", str(config), "-v"], body) == 0
        assert capsys.readouterr().err == "demo: debug: details\n"


class TestDeliveryWorkerEntry:
    """``python -m kakit.delivery`` goes through the same skeleton."""

    def run_worker(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run the worker under its historical module name, as the systemd unit does."""
        return subprocess.run(
            [sys.executable, "-m", "kakit.delivery", *args],
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )

    def test_bad_option_exits_2(self) -> None:
        """An unknown option exits 2 and says how to call the worker."""
        result = self.run_worker("--bogus")
        assert result.returncode == 2
        assert result.stderr == (
            "kakit-delivery: usage: python -m kakit.alerts.delivery [-c FILE] "
            "[--max-seconds N] (got '--bogus')\n"
        )

    def test_runtime_error_is_logged_with_the_outbox_prefix(
        self, config: Path, tmp_path: Path
    ) -> None:
        """A data directory that does not exist exits 1 with one ``outbox:`` log line."""
        result = self.run_worker("-c", str(config), "--max-seconds", "5")
        assert result.returncode == 1
        (line,) = log_lines(tmp_path)
        assert line.startswith(f"error: outbox: cannot open lock file {tmp_path}/lib/delivery.lock")
        assert result.stderr.startswith(f"kakit-delivery: cannot open lock file {tmp_path}/lib/")
