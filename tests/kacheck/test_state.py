"""CheckState's restart history and the budget reset `kakit latch clear` writes."""

from __future__ import annotations

import time
from pathlib import Path

from kakit.kacheck.state import CheckState, reset_budget, state_path


class TestBudgetReset:
    """Attempts made before a reset no longer count; a reset from the future is ignored."""

    def test_attempts_before_the_reset_are_forgotten(self, tmp_path: Path) -> None:
        """Two restarts, a reset, one more restart: the history holds only the last one."""
        now = time.time()
        state = CheckState(state_path(str(tmp_path), "nginx"))
        state.set_restarts("service:nginx", [now - 30, now - 20])
        reset_budget(str(tmp_path), "nginx", now - 10)
        state.set_restarts("service:nginx", [*state.restarts("service:nginx"), now - 5])

        assert state.restarts("service:nginx") == [now - 5]

    def test_a_reset_in_the_future_hides_nothing(self, tmp_path: Path) -> None:
        """After the clock stepped back, every attempt still counts (no restart storm)."""
        now = time.time()
        state = CheckState(state_path(str(tmp_path), "nginx"))
        state.set_restarts("service:nginx", [now - 30, now - 20])
        reset_budget(str(tmp_path), "nginx", now + 3600)

        assert state.restarts("service:nginx") == [now - 30, now - 20]

    def test_no_reset_keeps_everything(self, tmp_path: Path) -> None:
        """Without `latch clear`, the history is what was recorded."""
        state = CheckState(state_path(str(tmp_path), "nginx"))
        state.set_restarts("service:nginx", [1.0, 2.0])

        assert state.restarts("service:nginx") == [1.0, 2.0]
