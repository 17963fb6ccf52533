"""Per-check state kept between runs: last result, restart history, watch-mode streaks.

Every ``kacheck`` run is a new process, so anything that spans runs (a restart budget counted
over a window, the last answer given to keepalived) lives in a small JSON file under the state
directory (default ``/run/kakit``, a tmpfs: a reboot starts the budget afresh). Files are
written atomically, so a run killed by keepalived's timeout leaves the previous version.
"""

from __future__ import annotations

import time

from kakit.core import smalljson
from kakit.core.fsutil import atomic_write, ensure_dir, read_text
from kakit.exceptions import StateError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


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

    def record_result(self, ok: bool, summary: str, now: float | None = None) -> None:
        """Remember the answer given to keepalived (used when a copy overlaps)."""
        self.data["last"] = {
            "ok": ok,
            "summary": summary,
            "time": time.time() if now is None else now,
        }

    def last_result(self) -> tuple[bool, str, float] | None:
        """The last recorded ``(ok, summary, unix time)``, or None."""
        last = self.data.get("last")
        if not isinstance(last, dict):
            return None
        return bool(last.get("ok")), str(last.get("summary", "")), float(last.get("time", 0.0))

    # -- restart budget -------------------------------------------------------------------------

    def restarts(self, key: str) -> list[float]:
        """Unix times of the recorded restart attempts for ``key``."""
        value = self.data.get("restarts", {}).get(key, [])
        return [float(t) for t in value] if isinstance(value, list) else []

    def set_restarts(self, key: str, times: list[float]) -> None:
        """Replace the restart history of ``key``."""
        self.data.setdefault("restarts", {})[key] = times
