"""Specification of what a check logs: changes and heartbeats at info, repeats at debug."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from kakit.checks.base import CheckResult
from kakit.config import DEFAULT_CONFIG_PATH, Config, parse_config
from kakit.core.log import logger
from kakit.core.record import replace
from kakit.kacheck.runner import CheckRunner
from kakit.kacheck.state import CheckState
from kakit.kacheck.watch import watch
from tests.conftest import config_text

RunKacheck = Callable[..., subprocess.CompletedProcess[str]]


def at_info(tmp_path: Path, body: str, log: str = "") -> Path:
    """A configuration logging at info (the default) to ``tmp_path/kakit.log``."""
    text = config_text(tmp_path, body).replace("level: debug", f"level: info{log}")
    path = tmp_path / "kakit.yaml"
    path.write_text(text)
    return path


def lines(tmp_path: Path) -> list[str]:
    """The log lines without their time stamp and pid."""
    path = tmp_path / "kakit.log"
    text = path.read_text() if path.exists() else ""
    return [line.split("] ", 1)[1] for line in text.splitlines()]


class TestOneShot:
    """Each `kacheck NAME` is a new process; the previous verdict comes from the state file."""

    def test_repeats_are_quiet_and_changes_say_how_long(
        self, tmp_path: Path, run_kacheck: RunKacheck
    ) -> None:
        """Three healthy runs log one line; the first failure says what held before and for
        how many runs; a repeated failure logs nothing more at info."""
        config = at_info(tmp_path, f"checks:\n  maint: {{type: flag, path: {tmp_path}/down}}\n")
        for _ in range(3):
            assert run_kacheck("-c", str(config), "maint").returncode == 0
        (tmp_path / "down").write_text("disk swap\n")
        for _ in range(2):
            assert run_kacheck("-c", str(config), "maint").returncode == 1
        assert lines(tmp_path) == [
            f"info: maint: OK: no maintenance flag {tmp_path}/down",
            f"warning: maint: FAIL: maintenance flag {tmp_path}/down present: disk swap"
            " (was OK for 0 s, 3 runs)",
        ]

    def test_debug_level_logs_every_run(self, tmp_path: Path, run_kacheck: RunKacheck) -> None:
        """At level debug, the repeats are there too."""
        config = at_info(tmp_path, f"checks:\n  maint: {{type: flag, path: {tmp_path}/down}}\n")
        config.write_text(config.read_text().replace("level: info", "level: debug"))
        for _ in range(3):
            run_kacheck("-c", str(config), "maint")
        assert [line.split(":")[0] for line in lines(tmp_path)] == ["info", "debug", "debug"]

    def test_heartbeat_repeats_an_unchanged_verdict(
        self, tmp_path: Path, run_kacheck: RunKacheck
    ) -> None:
        """Once the heartbeat interval has passed without a line, a run says the failure is
        still there, for how long and over how many runs."""
        (tmp_path / "down").write_text("disk swap\n")
        config = at_info(
            tmp_path,
            f"checks:\n  maint: {{type: flag, path: {tmp_path}/down}}\n",
            log=", heartbeat: 5m",
        )
        run_kacheck("-c", str(config), "maint")
        state_file = tmp_path / "run" / "checks" / "maint.json"
        state = json.loads(state_file.read_text())
        # As if the failure had begun two hours ago and nothing had been said for ten minutes.
        state["streak"]["since"] -= 7200
        state["streak"]["logged"] -= 600
        state_file.write_text(json.dumps(state))
        run_kacheck("-c", str(config), "maint")
        run_kacheck("-c", str(config), "maint")
        assert lines(tmp_path)[1:] == [
            f"warning: maint: still FAIL for 2 h (2 runs): maintenance flag {tmp_path}/down"
            " present: disk swap"
        ]


class TestOverlapWarning:
    """Copies that find the previous run still going warn once per heartbeat, not every time."""

    def test_one_warning_per_heartbeat(self, tmp_path: Path, run_kacheck: RunKacheck) -> None:
        """Three overlapping copies at info: one warning line."""
        config = at_info(tmp_path, f"checks:\n  maint: {{type: flag, path: {tmp_path}/down}}\n")
        run_kacheck("-c", str(config), "maint")
        fd = os.open(tmp_path / "run" / "checks" / "maint.lock", os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            for _ in range(3):
                assert run_kacheck("-c", str(config), "maint").returncode == 0
        finally:
            os.close(fd)
        overlaps = [line for line in lines(tmp_path) if "previous run still in progress" in line]
        assert [line.split(":")[0] for line in overlaps] == ["warning"]


class TestStreak:
    """`CheckState.note_verdict` counts the runs of one verdict and times the heartbeat."""

    def test_change_repeat_heartbeat(self, tmp_path: Path) -> None:
        """First run and every flip are changes; equal verdicts repeat until the heartbeat."""
        state = CheckState(str(tmp_path / "s.json"))
        seen = [
            state.note_verdict(True, 1000.0, 600.0),
            state.note_verdict(True, 1001.0, 600.0),
            state.note_verdict(True, 1600.0, 600.0),
            state.note_verdict(True, 1601.0, 600.0),
            state.note_verdict(False, 1700.0, 600.0),
        ]
        assert seen == [
            ("change", 1000.0, 0),
            ("repeat", 1000.0, 2),
            ("heartbeat", 1000.0, 3),
            ("repeat", 1000.0, 4),
            ("change", 1000.0, 4),
        ]

    def test_heartbeat_zero_is_off(self, tmp_path: Path) -> None:
        """With heartbeat 0 an unchanged verdict never logs at info again."""
        state = CheckState(str(tmp_path / "s.json"))
        state.note_verdict(False, 0.0, 0.0)
        assert state.note_verdict(False, 86400.0 * 30, 0.0)[0] == "repeat"

    def test_clock_stepped_back_gets_a_line(self, tmp_path: Path) -> None:
        """A wall clock set back does not silence the heartbeat until it catches up."""
        state = CheckState(str(tmp_path / "s.json"))
        state.note_verdict(True, 10_000.0, 600.0)
        assert state.note_verdict(True, 5_000.0, 600.0)[0] == "heartbeat"


class _Restarts:
    """A probe that passes, and on its second run says it restarted its service (and records
    the restart, as the service check does)."""

    def __init__(self) -> None:
        self.calls = 0

    def describe(self) -> str:
        return "fake"

    def run(self, ctx: object) -> CheckResult:
        self.calls += 1
        state = ctx.state  # type: ignore[attr-defined]
        if self.calls == 2:
            state.set_restarts("service:fake", [*state.restarts("service:fake"), 1e9 + self.calls])
            return CheckResult(ok=True, summary="fake was down; restarted")
        return CheckResult(ok=True, summary="fake up")


def run_logged(
    tmp_path: Path, make_config: Callable[[str], Config], probe: object, runs: int
) -> None:
    """Run the check ``maint`` with ``probe`` as its only probe ``runs`` times, logging each run
    at info into ``tmp_path/kakit.log`` as kacheck does."""
    config = make_config(f"checks:\n  maint: {{type: flag, path: {tmp_path}/down}}\n")
    runner = CheckRunner(config, config.check("maint"))
    runner.checks = [probe]  # type: ignore[list-item]
    runner.prepare()
    logger.configure(level="info", file=str(tmp_path / "kakit.log"), syslog=False)
    state = runner.load_state()
    for _ in range(runs):
        ok, summary = runner.run_once(state)
        runner.log(runner.note_verdict(state, ok), summary)


class TestActions:
    """A run that restarted or escalated is logged at info even when the verdict held."""

    def test_restart_is_never_debug(
        self, tmp_path: Path, make_config: Callable[[str], Config]
    ) -> None:
        """OK, restarted-and-OK, OK: the restart line is at info, the plain repeat is not."""
        run_logged(tmp_path, make_config, _Restarts(), runs=3)
        assert lines(tmp_path) == [
            "info: maint: OK: fake up",
            "info: maint: OK: fake was down; restarted",
        ]


class _GivesUp:
    """A probe that fails with its remedy pending twice, then for good, then for good again."""

    def __init__(self) -> None:
        self.calls = 0

    def describe(self) -> str:
        return "fake"

    def run(self, ctx: object) -> CheckResult:
        self.calls += 1
        if self.calls <= 2:
            return CheckResult(ok=False, summary="fake down; retrying", remedy_pending=True)
        return CheckResult(ok=False, summary="fake down; restart budget spent")


class TestGivingUp:
    """The first run that gives up on a remedy is logged; the ones after it are repeats."""

    def test_first_final_failure_is_a_warning(
        self, tmp_path: Path, make_config: Callable[[str], Config]
    ) -> None:
        """Pending, pending, given up, given up: the first failure and the giving up, at warning."""
        run_logged(tmp_path, make_config, _GivesUp(), runs=4)
        assert lines(tmp_path) == [
            "warning: maint: FAIL: fake down; retrying",
            "warning: maint: FAIL: fake down; restart budget spent",
        ]


class TestLatchHint:
    """The latch hint names the configuration when `kakit latch clear` would not find it."""

    @pytest.mark.parametrize(
        ("source", "option"),
        [
            (None, ""),
            (DEFAULT_CONFIG_PATH, ""),
            ("/srv/ha/kakit.yaml", "-c /srv/ha/kakit.yaml "),
            ("/srv/my ha/kakit.yaml", "-c '/srv/my ha/kakit.yaml' "),
        ],
    )
    def test_hint(self, source: str | None, option: str) -> None:
        """Default or no file: the bare command; any other file: `-c FILE`, quoted if needed."""
        config = replace(parse_config("version: 1\n", "x.yaml"), source=source)
        runner = CheckRunner(config, config.check("flag"))
        assert runner.clear_hint() == f"`kakit latch clear {option}flag`"

    def test_latched_run_names_the_file(
        self, tmp_path: Path, run_kacheck: RunKacheck, read_log: Callable[[], list[str]]
    ) -> None:
        """A check latched under `-c FILE` logs the clear command with that `-c FILE`."""
        config = at_info(
            tmp_path, f"checks:\n  maint: {{type: flag, path: {tmp_path}/down, latch: true}}\n"
        )
        (tmp_path / "down").write_text("x\n")
        run_kacheck("-c", str(config), "maint")
        assert read_log()[-1].endswith(
            f"latched (clear with `kakit latch clear -c {config} maint`)"
        )


class TestWatch:
    """Watch mode follows the same rule for the verdict keepalived sees."""

    def test_one_line_per_track_file_change(
        self, tmp_path: Path, make_config: Callable[[str], Config]
    ) -> None:
        """Five healthy cycles at info: the start line and one OK line with the track file."""
        config = make_config(f"checks:\n  maint: {{type: flag, path: {tmp_path}/down}}\n")
        logger.configure(level="info", file=str(tmp_path / "kakit.log"), syslog=False)
        track = tmp_path / "track"
        watch(
            CheckRunner(config, config.check("maint")),
            interval=0.01,
            track_file=str(track),
            cycles=5,
        )
        assert [line.split(":")[:3] for line in lines(tmp_path)] == [
            [
                "info",
                " maint",
                " watching every 0.01 s, track file " + str(track) + " (fail value 1)",
            ],
            ["info", " maint", " OK"],
        ]
