"""Latches: a failure that stays until an operator clears it.

A latched check keeps failing (exit 1) whatever it sees, like the seed's sticky ``/tmp/bad``
marker and monit's "unmonitor until a human looks". Latches live under the *data* directory
(default ``/var/lib/kakit/latches``), not the tmpfs state directory, so a reboot does not clear
them: the node stays out of the VIP election until ``kakit latch clear NAME``.
"""

from __future__ import annotations

import os
import time

from kakit.core import smalljson
from kakit.core.fsutil import atomic_write, ensure_dir, read_text
from kakit.core.record import frozen
from kakit.exceptions import StateError


@frozen
class Latch:
    """One latch as stored on disk: the check, why it latched, and when (epoch seconds)."""

    check: str
    reason: str
    since: float

    def describe(self) -> str:
        """``latched since 2026-11-22 01:49:20: <reason>``."""
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.since))
        return f"latched since {stamp}: {self.reason}"


def latch_dir(data_dir: str) -> str:
    """Where latch files live."""
    return os.path.join(data_dir, "latches")


def _path(data_dir: str, check: str) -> str:
    return os.path.join(latch_dir(data_dir), check)


def get(data_dir: str, check: str) -> Latch | None:
    """The latch of ``check`` or None. An unreadable latch file still counts as latched."""
    text = read_text(_path(data_dir, check))
    if text is None:
        return None
    try:
        data = smalljson.loads(text)
        return Latch(check=check, reason=str(data["reason"]), since=float(data["since"]))
    except (ValueError, KeyError, TypeError):
        return Latch(check=check, reason="latch file unreadable (still latched)", since=0.0)


def set_latch(data_dir: str, check: str, reason: str) -> Latch:
    """Latch ``check`` (kept if already latched: the first reason is the interesting one)."""
    existing = get(data_dir, check)
    if existing is not None:
        return existing
    ensure_dir(latch_dir(data_dir), 0o700)
    latch = Latch(check=check, reason=reason, since=time.time())
    atomic_write(
        _path(data_dir, check), smalljson.dumps({"reason": reason, "since": latch.since}), 0o600
    )
    return latch


def clear(data_dir: str, check: str) -> bool:
    """Remove the latch; True if there was one."""
    try:
        os.unlink(_path(data_dir, check))
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise StateError(f"cannot clear latch {_path(data_dir, check)}: {exc.strerror}") from exc
    return True


def list_latches(data_dir: str) -> list[Latch]:
    """Every latch, sorted by check name."""
    try:
        names = sorted(os.listdir(latch_dir(data_dir)))
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise StateError(f"cannot list {latch_dir(data_dir)}: {exc.strerror}") from exc
    found = [get(data_dir, name) for name in names if not name.startswith(".")]
    return [latch for latch in found if latch is not None]
