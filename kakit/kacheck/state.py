"""Per-check state kept between runs: last result, verdict streak, restart history.

Every ``kacheck`` run is a new process, so anything that spans runs (a restart budget counted
over a window, the last answer given to keepalived) lives in a small JSON file under the state
directory (default ``/run/kakit``, a tmpfs: a reboot starts the budget afresh). Files are
written atomically, so a run killed by keepalived's timeout leaves the previous version.

``kakit latch clear`` starts the budget afresh by writing the time of the clearing beside the
state file (``NAME.budget-reset``) rather than editing the state: a watcher keeps its state in
memory and holds the check's lock for its whole life, and would write the old history back.
Restart attempts up to that time no longer count, in one-shot runs and watchers alike.
"""

from __future__ import annotations

import time

from kakit.core import smalljson
from kakit.core.fsutil import atomic_write, ensure_dir, read_text
from kakit.exceptions import StateError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def state_path(state_dir: str, check: str) -> str:
    """The state file of ``check``: ``<state_dir>/checks/<check>.json``."""
    import os

    return os.path.join(state_dir, "checks", f"{check}.json")


def _reset_path(path: str) -> str:
    return path.removesuffix(".json") + ".budget-reset"


def reset_budget(state_dir: str, check: str, now: float | None = None) -> None:
    """Forget the restart attempts ``check`` made so far (its budget starts afresh).

    Raises:
        StateError: The marker cannot be written.
    """
    import os

    path = state_path(state_dir, check)
    ensure_dir(os.path.dirname(path), 0o700)
    atomic_write(_reset_path(path), repr(time.time() if now is None else now) + "\n", 0o600)


class CheckState:
    """The persistent state of one named check.

    Args:
        path: The JSON file (``<state_dir>/checks/<name>.json``).
    """

    def __init__(self, path: str, data: dict[str, Any] | None = None) -> None:
        self.path = path
        self.data: dict[str, Any] = data if data is not None else {}

    @classmethod
    def load(cls, path: str) -> CheckState:
        """Read the state; a missing or corrupt file gives an empty state (not an error)."""
        try:
            text = read_text(path)
        except StateError:
            text = None
        try:
            data = smalljson.loads(text) if text else {}
        except ValueError:
            data = {}
        return cls(path, data if isinstance(data, dict) else {})

    def save(self) -> None:
        """Write the state atomically (mode 0600: it may name commands and addresses)."""
        import os

        ensure_dir(os.path.dirname(self.path), 0o700)
        atomic_write(self.path, smalljson.dumps(self.data), 0o600)

    # -- last result ----------------------------------------------------------------------------

    def record_result(
        self, ok: bool, summary: str, now: float | None = None, *, pending: bool = False
    ) -> None:
        """Remember the answer given to keepalived (used when a copy overlaps).

        Args:
            ok: The verdict.
            summary: What the run saw and did.
            now: Unix time of the run (default: now).
            pending: A failure whose remedy (a restart) is still under way or budgeted.
        """
        self.data["last"] = {
            "ok": ok,
            "summary": summary,
            "time": time.time() if now is None else now,
        }
        if pending:
            self.data["last"]["pending"] = True

    def last_pending(self) -> bool:
        """Whether the last recorded run was a failure with a remedy still pending."""
        last = self.data.get("last")
        return isinstance(last, dict) and last.get("pending") is True

    def last_result(self) -> tuple[bool, str, float] | None:
        """The last recorded ``(ok, summary, unix time)``, or None."""
        last = self.data.get("last")
        if not isinstance(last, dict):
            return None
        return bool(last.get("ok")), str(last.get("summary", "")), float(last.get("time", 0.0))

    # -- verdict streak: what the log says -----------------------------------------------------

    def note_verdict(self, ok: bool, now: float, heartbeat: float) -> tuple[str, float, int]:
        """Count one run into the current streak of equal verdicts and say how to log it.

        The streak (when it began, how many runs, when a line last said so) is kept here so
        that a one-shot ``kacheck``, a new process every second, knows the previous verdict at
        no extra cost: the state file is read and written by every run anyway.

        Args:
            ok: This run's verdict.
            now: Unix time of this run.
            heartbeat: Seconds between two lines about an unchanged verdict (0: never).

        Returns:
            ``(kind, since, runs)``. ``"change"`` when there was no verdict before or it
            differed; ``since`` and ``runs`` then describe the streak that just ended (``runs``
            0 when there was none). Otherwise ``"heartbeat"`` when no line has said so for
            ``heartbeat`` seconds, else ``"repeat"``, with ``since`` and ``runs`` of the
            streak going on (this run included).
        """
        streak = self.data.get("streak")
        if not isinstance(streak, dict) or streak.get("ok") is not ok:
            ended = streak if isinstance(streak, dict) else {}
            self.data["streak"] = {"ok": ok, "since": now, "runs": 1, "logged": now}
            return "change", _number(ended.get("since"), now), int(_number(ended.get("runs"), 0))
        runs = int(_number(streak.get("runs"), 0)) + 1
        streak["runs"] = runs
        since = _number(streak.get("since"), now)
        quiet = now - _number(streak.get("logged"), 0.0)
        # A clock stepped back (negative quiet time) also gets a line: the arithmetic of the
        # next heartbeat would otherwise wait for the clock to catch up.
        if heartbeat > 0 and (quiet >= heartbeat or quiet < 0):
            streak["logged"] = now
            return "heartbeat", since, runs
        return "repeat", since, runs

    def mark_logged(self, now: float) -> None:
        """A line about the current verdict went out at info or above: the heartbeat waits."""
        streak = self.data.get("streak")
        if isinstance(streak, dict):
            streak["logged"] = now

    # -- restart budget -------------------------------------------------------------------------

    def last_restart(self) -> float:
        """Unix time of the newest restart attempt on record, over every key (0 when none).

        A run that moves it restarted something: worth a log line whatever its verdict.
        """
        history = self.data.get("restarts")
        if not isinstance(history, dict):
            return 0.0
        times = [t for value in history.values() if isinstance(value, list) for t in value]
        return max((_number(t, 0.0) for t in times), default=0.0)

    def restarts(self, key: str) -> list[float]:
        """Unix times of the recorded restart attempts for ``key``, since the last budget reset.

        The reset marker is read on every call (only a service that is down asks), so that a
        watcher sees ``kakit latch clear`` at its next cycle.
        """
        value = self.data.get("restarts", {}).get(key, [])
        times = [float(t) for t in value] if isinstance(value, list) else []
        reset = self.budget_reset()
        if reset is None or reset > time.time():
            # A reset "in the future" means the clock stepped back: honouring it would hide
            # every new attempt until the clock caught up, an unlimited restart storm.
            return times
        return [t for t in times if t > reset]

    def budget_reset(self) -> float | None:
        """When the budget was last reset (``kakit latch clear``), or None."""
        try:
            text = read_text(_reset_path(self.path))
        except StateError:
            return None
        try:
            return float(text) if text else None
        except ValueError:
            return None

    def set_restarts(self, key: str, times: list[float]) -> None:
        """Replace the restart history of ``key``."""
        self.data.setdefault("restarts", {})[key] = times


def _number(value: object, default: float) -> float:
    """``value`` as a float when the file holds a number there, else ``default``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return default
