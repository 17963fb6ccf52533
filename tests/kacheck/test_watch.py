"""Specification of watch mode: hysteresis and the keepalived track file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from kakit.config import Config
from kakit.kacheck.runner import CheckRunner
from kakit.kacheck.watch import Hysteresis, watch

HYSTERESIS_CASES = [
    # rise, fall, results fed in, verdicts expected after each
    (1, 1, [True, False, True], [True, False, True]),
    (
        1,
        3,
        [True, False, False, True, False, False, False],
        [True, True, True, True, True, True, False],
    ),
    (2, 1, [False, True, False, True, True], [False, False, False, False, True]),
    (1, 2, [False, True], [False, True]),  # the first result is taken as is
]


class TestHysteresis:
    """rise/fall: the verdict flips only after enough consecutive results."""

    @pytest.mark.parametrize(("rise", "fall", "results", "verdicts"), HYSTERESIS_CASES)
    def test_sequence(
        self, rise: int, fall: int, results: list[bool], verdicts: list[bool]
    ) -> None:
        """Each result moves the verdict as keepalived's own rise/fall would."""
        hysteresis = Hysteresis(rise, fall)
        assert [hysteresis.update(ok) for ok in results] == verdicts


class TestTrackFile:
    """The track file holds 0 while healthy and the fail value while failing."""

    def test_writes_current_verdict(
        self, tmp_path: Path, make_config: Callable[[str], Config]
    ) -> None:
        """A bounded watch writes 0 for a healthy check and the fail value once it fails."""
        config = make_config(f"checks:\n  maint: {{type: flag, path: {tmp_path}/down}}\n")
        track = tmp_path / "track" / "maint"
        watch(
            CheckRunner(config, config.check("maint")),
            interval=0.01,
            track_file=str(track),
            cycles=2,
        )
        assert track.read_text() == "0\n"
        (tmp_path / "down").touch()
        watch(
            CheckRunner(config, config.check("maint")),
            interval=0.01,
            track_file=str(track),
            fail_value=30,
            cycles=2,
        )
        assert track.read_text() == "30\n"

    def test_fail_on_exit(self, tmp_path: Path, make_config: Callable[[str], Config]) -> None:
        """With fail_on_exit the file says failed after the watcher stops."""
        config = make_config(f"checks:\n  maint: {{type: flag, path: {tmp_path}/down}}\n")
        track = tmp_path / "maint.track"
        watch(
            CheckRunner(config, config.check("maint")),
            interval=0.01,
            track_file=str(track),
            cycles=1,
            fail_on_exit=True,
        )
        assert track.read_text() == "1\n"
