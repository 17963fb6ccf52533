"""The monit-style restart budget: at most ``max`` restarts within a sliding window.

Pure arithmetic on a list of attempt times, kept apart from the I/O so that the rules can be
tested exactly. monit's own counter fires only when the count *exceeds* the limit (issue #1073
of tildeslash/monit); kakit's reads more simply: ``max: 2`` allows two restarts per window.
"""

from __future__ import annotations


def prune(attempts: list[float], now: float, within: float) -> list[float]:
    """The attempts still inside the window ``(now - within, now]``, oldest first.

    Attempts in the future (the clock went backwards) are kept: forgetting them could allow a
    restart storm after a clock step.
    """
    return sorted(t for t in attempts if t > now - within)


def remaining(attempts: list[float], now: float, max_restarts: int, within: float) -> int:
    """How many restarts the budget still allows right now."""
    return max(0, max_restarts - len(prune(attempts, now, within)))


def next_allowed(attempts: list[float], now: float, max_restarts: int, within: float) -> float:
    """The unix time at which another restart becomes allowed (``now`` if it already is)."""
    live = prune(attempts, now, within)
    if len(live) < max_restarts:
        return now
    if max_restarts == 0:
        return float("inf")
    # The oldest attempt that must leave the window before one more fits.
    return live[len(live) - max_restarts] + within
