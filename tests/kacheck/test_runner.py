"""Specification of `CheckRunner`'s lock and state, as one-shot runs and watch mode use them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from kakit.checks.base import Check, CheckResult, RunContext
from kakit.config import Config
from kakit.kacheck import latch
from kakit.kacheck.runner import CheckRunner


class TestCheckRunner:
    """One runner per check run; its lock keeps overlapping runs of the same check apart."""

    def test_lock_is_exclusive(self, tmp_path: Path, make_config: Callable[[str], Config]) -> None:
        """A second runner of the same check cannot take the lock until the first releases it."""
        config = make_config(f"checks:\n  maint: {{type: flag, path: {tmp_path}/down}}\n")
        first, second = (CheckRunner(config, config.check("maint")) for _ in range(2))
        first.prepare()
        assert first.acquire()
        assert not second.acquire()
        assert not second.acquire(timeout=0.05)
        first.release()
        assert second.acquire()
        second.release()

    def test_state_survives_the_runner(
        self, tmp_path: Path, make_config: Callable[[str], Config]
    ) -> None:
        """The result a run records and saves is what the next runner's state holds."""
        config = make_config(f"checks:\n  maint: {{type: flag, path: {tmp_path}/down}}\n")
        runner = CheckRunner(config, config.check("maint"))
        runner.prepare()
        state = runner.load_state()
        ok, summary = runner.run_once(state)
        state.save()
        last = CheckRunner(config, config.check("maint")).load_state().last_result()
        assert ok
        assert last is not None and last[:2] == (True, summary)


class _Verdict(Check[None]):
    """A probe that always fails, measured or not."""

    type_name = "verdict"

    def __init__(self, measured: bool) -> None:
        super().__init__(None)
        self.measured = measured

    def run(self, ctx: RunContext) -> CheckResult:
        """Fail, saying whether anything was measured."""
        return CheckResult(ok=False, summary="uplink broken", measured=self.measured)


class TestLatchOnlyWhatWasMeasured:
    """A failure to measure is unhealthy but never latches; an observed failure latches."""

    @pytest.mark.parametrize("measured", [True, False])
    def test_latch_follows_measured(
        self, tmp_path: Path, make_config: Callable[[str], Config], measured: bool
    ) -> None:
        """`latch: true` writes the latch for a measured failure only; both runs fail."""
        config = make_config(f"checks:\n  up: {{type: flag, path: {tmp_path}/x, latch: true}}\n")
        runner = CheckRunner(config, config.check("up"))
        runner.checks = [_Verdict(measured)]
        runner.prepare()

        ok, summary = runner.run_once(runner.load_state())

        assert not ok
        assert ("latched" in summary) == measured
        assert (latch.get(config.paths.data_dir, "up") is None) == (not measured)
