"""kaprobe's command line: strict numbers, durations with units, usage errors exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kakit.exceptions import UsageError
from kakit.kaprobe.cli import duration_argument, parse_args

BASE = ["--peer", "10.213.1.1", "--local", "10.213.1.2"]


class TestParse:
    """parse_args turns argv into a session description."""

    def test_issue_example(self) -> None:
        """The documented command line parses to 50 ms x 3 with a track file."""
        args = parse_args([*BASE, "--interval", "50ms", "--multiplier", "3", "--track-file", "/t"])
        assert (args.peer, args.local, args.interval, args.multiplier, args.track_file) == (
            "10.213.1.1",
            "10.213.1.2",
            50_000,
            3,
            "/t",
        )

    @pytest.mark.parametrize(
        ("text", "micros"),
        [("50ms", 50_000), ("1s", 1_000_000), ("0.5s", 500_000), ("1500us", 1500)],
    )
    def test_durations(self, text: str, micros: int) -> None:
        """Durations carry a unit and become microseconds."""
        assert duration_argument("--interval", text) == micros

    @pytest.mark.parametrize(
        "text", ["50", "5e1ms", "-1ms", "nanms", "0ms", "61s", "10 ms", "\uff110ms"]
    )
    def test_bad_durations(self, text: str) -> None:
        """No unit, exponent, sign, nan, out of 1 ms..60 s, spaces or non-ASCII digits: refused."""
        with pytest.raises(UsageError):
            duration_argument("--interval", text)

    @pytest.mark.parametrize(
        "argv",
        [
            ["--peer", "10.213.1.1"],
            [*BASE, "--multiplier", "0"],
            [*BASE, "--multiplier", "256"],
            [*BASE, "--peer", "not-an-address"],
            [*BASE, "--local", "fd00::1"],
            [*BASE, "--track-file", "relative"],
            [*BASE, "--bogus"],
        ],
        ids=["no-local", "mult-0", "mult-256", "bad-peer", "mixed-family", "relative", "unknown"],
    )
    def test_usage_errors(self, argv: list[str]) -> None:
        """Bad command lines are usage errors."""
        with pytest.raises(UsageError):
            parse_args(argv)

    def test_negative_values(self) -> None:
        """Track-file values may be negative (the default down value is -254)."""
        args = parse_args([*BASE, "--down-value", "-300", "--up-value", "5"])
        assert (args.down_value, args.up_value) == (-300, 5)

    def test_ipv6_normalised(self) -> None:
        """IPv6 addresses are normalised, as the kernel reports packet sources."""
        args = parse_args(["--peer", "FD00:0::1", "--local", "fd00::2"])
        assert args.peer == "fd00::1"

    def test_status_needs_no_peer(self) -> None:
        """`kaprobe status` takes no session options."""
        assert parse_args(["status"]).command == "status"


def kaprobe() -> str:
    """The installed console script."""
    return str(Path(sys.executable).with_name("kaprobe"))


class TestProcess:
    """The installed executable."""

    def test_usage_exit_2(self) -> None:
        """A usage error exits 2 and says why on stderr."""
        done = subprocess.run(
            [kaprobe(), "--peer", "x"], capture_output=True, text=True, check=False
        )
        assert done.returncode == 2
        assert "not an IP address" in done.stderr

    def test_status_without_a_run(self, tmp_path: Path) -> None:
        """`kaprobe status` before any run fails with exit 1 and a clear line."""
        config = tmp_path / "kakit.yaml"
        config.write_text(
            f"version: 1\npaths: {{state_dir: {tmp_path}/run}}\nlog: {{syslog: false}}\n"
        )
        done = subprocess.run(
            [kaprobe(), "-c", str(config), "status"], capture_output=True, text=True, check=False
        )
        assert done.returncode == 1
        assert "is kaprobe running" in done.stderr

    def test_no_session_is_a_usage_error(self, tmp_path: Path) -> None:
        """Without --peer and without a probes: section there is nothing to run: exit 2."""
        config = tmp_path / "kakit.yaml"
        config.write_text(
            f"version: 1\npaths: {{state_dir: {tmp_path}/run}}\nlog: {{syslog: false}}\n"
        )
        done = subprocess.run(
            [kaprobe(), "-c", str(config)], capture_output=True, text=True, check=False
        )
        assert done.returncode == 2
        assert "probes: section" in done.stderr


class TestFlags:
    """Flags without values."""

    def test_flags(self) -> None:
        """Every flag sets its own field."""
        args = parse_args([*BASE, "-v", "--passive", "--realtime", "--admin-down-on-exit"])
        assert (args.verbose, args.passive, args.realtime, args.admin_down_on_exit) == (
            True,
            True,
            True,
            True,
        )
        assert parse_args(["status", "--json"]).json
