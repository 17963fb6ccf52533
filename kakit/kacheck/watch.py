"""Watch mode: check every ``interval`` in-process and feed keepalived a ``track_file``.

keepalived 2.2.7 runs ``vrrp_script`` at whole-second intervals and forks a new interpreter each
time; watch mode checks at any interval from one resident process and rewrites the track file
atomically (tmp + rename, which keepalived's inotify watch sees as a move) only when the verdict
changes. ``rise``/``fall`` hysteresis is applied here because track files have none.

The file holds ``0`` while healthy and ``fail_value`` (default 1) while failing: with
``weight 0`` in keepalived any non-zero value means FAULT; with ``weight -W`` the priority drops
by ``fail_value * W`` (a product of -254 or less means FAULT).
"""

from __future__ import annotations

import os
import signal
import time

from kakit.core.fsutil import atomic_write, ensure_dir
from kakit.core.log import logger
from kakit.exceptions import EXIT_OK

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import FrameType

    from kakit.kacheck.runner import CheckRunner


class _Stop(Exception):
    """Raised by the signal handler to leave the loop between two cycles."""


class Hysteresis:
    """rise/fall counting: the verdict flips only after enough consecutive results.

    The first result is taken as is: there is no earlier verdict to protect.
    """

    def __init__(self, rise: int, fall: int) -> None:
        self.rise = rise
        self.fall = fall
        self.healthy: bool | None = None
        self._streak = 0

    def update(self, ok: bool) -> bool:
        """Feed one result; returns the verdict after it."""
        if self.healthy is None:
            self.healthy = ok
            self._streak = 0
            return ok
        if ok == self.healthy:
            self._streak = 0
            return self.healthy
        self._streak += 1
        if self._streak >= (self.rise if ok else self.fall):
            self.healthy = ok
            self._streak = 0
        return self.healthy


def write_track_file(path: str, value: int, *, durable: bool = True) -> None:
    """Write ``value`` the way keepalived's track_file parser (strtol) reads it.

    ``durable=False`` skips the fsyncs (:func:`kakit.core.fsutil.atomic_write`).
    """
    atomic_write(path, f"{value}\n", 0o644, durable=durable)


def watch(
    runner: CheckRunner,
    *,
    interval: float,
    track_file: str,
    fail_value: int = 1,
    cycles: int | None = None,
    fail_on_exit: bool = False,
) -> int:
    """Run the check every ``interval`` seconds until SIGTERM/SIGINT (or ``cycles`` runs).

    Args:
        runner: The prepared check runner (its probes keep their caches between cycles).
        interval: Seconds from one cycle's start to the next.
        track_file: The keepalived ``track_file`` to maintain.
        fail_value: The number written while failing.
        cycles: Stop after this many cycles (tests and benchmarks); None runs until signalled.
        fail_on_exit: Write ``fail_value`` when stopping. Off by default: restarting the
            watcher must not make keepalived fail over.

    Returns:
        The process exit code.
    """
    spec = runner.spec
    ensure_dir(os.path.dirname(track_file) or ".", 0o755)
    hysteresis = Hysteresis(spec.rise, spec.fall)
    runner.prepare()
    if not runner.acquire(timeout=max(interval, 1.0) * 5):
        logger.warning(f"{spec.name}: another kacheck holds the check's lock; watching anyway")
    state = runner.load_state()
    written: int | None = None

    def stop(signum: int, _frame: FrameType | None) -> None:
        raise _Stop(signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    logger.info(
        f"{spec.name}: watching every {interval:g} s, track file {track_file} (fail value {fail_value})"
    )
    done = 0
    next_start = time.monotonic()
    try:
        while cycles is None or done < cycles:
            ok, summary = runner.run_once(state)
            healthy = hysteresis.update(ok)
            value = 0 if healthy else fail_value
            # The same rule as one-shot runs: a line at info for a change of the verdict
            # keepalived sees (here: the track file), a restart or escalation, or the heartbeat;
            # debug otherwise. The streak is kept in memory and saved with the state.
            verdict = runner.note_verdict(state, healthy)
            if value != written:
                write_track_file(track_file, value)
                if verdict.kind == "repeat":
                    # The watcher's first write of a verdict an earlier run already had: the
                    # track file was (re)written, which is worth its line.
                    state.mark_logged(time.time())
                    verdict.kind = "change"
                    verdict.runs = 0
                runner.log(verdict, summary, f"; track file {track_file} = {value}")
                written = value
                state.save()
            else:
                runner.log(verdict, summary)
            done += 1
            next_start += interval
            delay = next_start - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                next_start = time.monotonic()  # overran: do not try to catch up in a burst
    except _Stop as stopped:
        logger.info(f"{spec.name}: watch stopped by signal {stopped.args[0]}")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if fail_on_exit:
            write_track_file(track_file, fail_value)
            logger.info(f"{spec.name}: track file {track_file} = {fail_value} on exit")
        state.save()
        runner.release()
    return EXIT_OK
