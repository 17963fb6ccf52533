"""The gateway check's arithmetic: the burst's schedule and how a short run is reported."""

from __future__ import annotations

import pytest

from kakit.checks.gateway import PingStats, plan


class TestPlan:
    """`plan`: spacing and listening time of a burst that must end within what is left."""

    def test_configured_values_when_they_fit(self) -> None:
        """With room for (count-1)*interval+timeout, the configured interval and timeout stay."""
        assert plan(10, 0.01, 0.2, 1.0) == (0.01, 0.2)

    @pytest.mark.parametrize(
        ("count", "interval", "timeout", "left"),
        [(10, 0.01, 0.2, 0.2), (10, 0.01, 0.2, 0.05), (20, 0.1, 1.0, 1.5), (1000, 0.01, 0.2, 0.3)],
    )
    def test_every_request_fits_before_the_deadline(
        self, count: int, interval: float, timeout: float, left: float
    ) -> None:
        """A short deadline narrows the spacing so that all requests and some listening fit."""
        spacing, listen = plan(count, interval, timeout, left)

        assert spacing <= interval and listen <= timeout
        assert (count - 1) * spacing + listen <= left + 1e-9
        assert listen >= min(timeout, left / 2) - 1e-9

    def test_single_request_keeps_its_interval(self) -> None:
        """count 1 has no spacing to shrink; the listening time takes what is left."""
        assert plan(1, 0.5, 1.0, 0.4) == (0.5, 0.4)


class TestShortfall:
    """`PingStats.shortfall`: why fewer requests went out than asked for."""

    def test_complete_run_has_none(self) -> None:
        """All requests sent: nothing to say."""
        stats = PingStats(3)
        stats.sent = 3
        assert stats.complete and stats.shortfall() == ""

    def test_one_reason(self) -> None:
        """Requests cut by the deadline read ``sent 7 of 10: deadline``."""
        stats = PingStats(10)
        stats.sent = 7
        for _ in range(3):
            stats.not_sent("deadline")
        assert stats.shortfall() == "sent 7 of 10: deadline"

    def test_several_reasons_are_counted(self) -> None:
        """Mixed reasons each carry their count."""
        stats = PingStats(10)
        stats.sent = 5
        for reason in ["sendto: Network is unreachable"] * 3 + ["deadline"] * 2:
            stats.not_sent(reason)
        assert stats.shortfall() == (
            "sent 5 of 10: sendto: Network is unreachable (3), deadline (2)"
        )
