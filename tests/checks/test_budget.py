"""Specification of the restart budget arithmetic (monit-style, over a sliding window)."""

from __future__ import annotations

import pytest

from kakit.checks import budget

NOW = 10_000.0


class TestBudget:
    """``max`` restarts are allowed within ``within`` seconds."""

    @pytest.mark.parametrize(
        ("attempts", "max_restarts", "within", "left"),
        [
            ([], 2, 300, 2),
            ([NOW - 10], 2, 300, 1),
            ([NOW - 10, NOW - 5], 2, 300, 0),
            ([NOW - 301, NOW - 5], 2, 300, 1),  # the old attempt left the window
            ([NOW - 300, NOW - 5], 2, 300, 1),  # exactly at the edge counts as gone
            ([NOW - 1, NOW - 2, NOW - 3], 2, 300, 0),
            ([], 0, 300, 0),
            ([NOW + 50], 1, 300, 0),  # clock stepped back: the future attempt still counts
        ],
    )
    def test_remaining(
        self, attempts: list[float], max_restarts: int, within: float, left: int
    ) -> None:
        """The remaining allowance counts only attempts inside the window."""
        assert budget.remaining(attempts, NOW, max_restarts, within) == left

    def test_next_allowed_when_spent(self) -> None:
        """When spent, the next restart is allowed once the oldest relevant attempt expires."""
        attempts = [NOW - 100, NOW - 10]
        assert budget.next_allowed(attempts, NOW, 2, 300) == NOW - 100 + 300

    def test_next_allowed_now(self) -> None:
        """With budget left, a restart is allowed now."""
        assert budget.next_allowed([NOW - 10], NOW, 2, 300) == NOW

    def test_never_when_disabled(self) -> None:
        """max 0 never allows a restart."""
        assert budget.next_allowed([], NOW, 0, 300) == float("inf")

    def test_prune_sorts_and_drops(self) -> None:
        """Pruning keeps the window's attempts, oldest first."""
        assert budget.prune([NOW - 5, NOW - 400, NOW - 50], NOW, 300) == [NOW - 50, NOW - 5]
