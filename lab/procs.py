"""Process helpers for the lab: liveness, pid files, signalling and bounded waiting.

Reading /proc is kakit's own :mod:`kakit.core.procfs` (what kacheck uses), so the lab judges a
process alive or a zombie exactly as the product does.
"""

from __future__ import annotations

import math
import os
import signal
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from kakit.core import procfs


def proc_state(pid: int) -> str | None:
    """Return the one-letter scheduler state of a process (``R``, ``S``, ``Z``...).

    Args:
        pid: Process id.

    Returns:
        The state letter, or None when the process does not exist.
    """
    info = procfs.read_stat(pid)
    return None if info is None else info.state


def is_alive(pid: int) -> bool:
    """Tell whether a process exists and is not a zombie.

    PID 1 on some machines (this lab's included) reaps orphans lazily, so a dead daemon can
    linger as a zombie for seconds; it counts as dead here.

    Args:
        pid: Process id.

    Returns:
        True if the process exists and is neither a zombie nor dead.
    """
    return procfs.is_alive(procfs.read_stat(pid))


def proc_comm(pid: int) -> str | None:
    """Return a process's command name (the kernel's 15-character ``comm``).

    Args:
        pid: Process id.

    Returns:
        The name, or None when the process is gone.
    """
    info = procfs.read_stat(pid)
    return None if info is None else info.comm


def read_pidfile(path: Path) -> int | None:
    """Read a pid file.

    Args:
        path: Pid file path.

    Returns:
        The pid, or None when the file is missing, empty or malformed.
    """
    return procfs.read_pidfile(str(path))


def send_signal(pid: int, sig: int) -> bool:
    """Send a signal to a process, ignoring one that has already gone.

    Args:
        pid: Process id.
        sig: Signal number.

    Returns:
        True if the signal was delivered.
    """
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    return True


def wait_until(
    predicate: Callable[[], object],
    timeout: float = 15.0,
    interval: float = 0.1,
    what: str = "condition",
) -> None:
    """Poll a predicate until it is truthy, bounded in time and in number of polls.

    Args:
        predicate: Called with no arguments; a truthy result ends the wait. Exceptions
            propagate.
        timeout: Seconds to wait at most.
        interval: Seconds between polls.
        what: Description used in the timeout message.

    Raises:
        TimeoutError: ``timed out after {timeout}s waiting for {what}``.
    """
    deadline = time.monotonic() + timeout
    # The count bound protects against a clock that does not advance (or a zero interval).
    max_polls = math.ceil(timeout / max(interval, 0.001)) + 2
    for _ in range(max_polls):
        if predicate():
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        time.sleep(min(interval, remaining))
    if predicate():
        return
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def terminate(
    pids: Iterable[int],
    *,
    may_signal: Callable[[int], bool],
    reap: Callable[[], None] = lambda: None,
    grace: float = 5.0,
    kill_wait: float = 5.0,
) -> list[int]:
    """Send SIGTERM to processes, wait, then SIGKILL whatever is left and wait again.

    Args:
        pids: Candidate process ids.
        may_signal: Asked before every signal; lets the caller refuse a pid that has been
            reused by an unrelated process since it was recorded.
        reap: Called while waiting so the caller can reap its own children (a child that is
            not reaped stays a zombie, which `is_alive` already treats as dead).
        grace: Seconds to wait after SIGTERM.
        kill_wait: Seconds to wait after SIGKILL.

    Returns:
        The pids still alive at the end (normally empty).
    """
    targets = sorted({pid for pid in pids if pid > 1 and pid != os.getpid()})
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, kill_wait)):
        targets = [pid for pid in targets if is_alive(pid) and may_signal(pid)]
        if not targets:
            return []
        for pid in targets:
            send_signal(pid, sig)

        def gone(current: list[int] = targets) -> bool:
            reap()
            return not any(is_alive(pid) for pid in current)

        try:
            wait_until(gone, timeout=wait, interval=0.05, what="processes to exit")
        except TimeoutError:
            pass
    reap()
    return [pid for pid in targets if is_alive(pid)]
