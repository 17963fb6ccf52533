"""Stopping the keepalived that runs this check (``on_failure: stop-keepalived``).

The keepalived to stop is found through the parent chain: kacheck's parent is keepalived's VRRP
child, whose parent is the main keepalived process. That is exact even with several keepalived
daemons on one host (lab nodes, containers). Without such a parent (watch mode under systemd)
kakit falls back to ``systemctl --no-block stop keepalived`` (``--no-block`` because keepalived
kills its scripts' process groups on the way down) and then to ``/run/keepalived.pid``.

The caller writes the latch and its log line *before* calling this: after the signal, keepalived
SIGTERMs this process's group.
"""

from __future__ import annotations

import os
import signal

from kakit.core import procfs
from kakit.exceptions import CheckError

KEEPALIVED_PIDFILE = "/run/keepalived.pid"
SYSTEMD_MARKER = "/run/systemd/system"


def find_parent_keepalived(pid: int | None = None) -> int | None:
    """The main keepalived process above ``pid`` (default: this process), or None."""
    chain = procfs.ancestors(os.getpid() if pid is None else pid)
    top = None
    for info in chain:
        if info.comm == "keepalived":
            top = info.pid
        elif top is not None:
            break
    return top


def stop_keepalived() -> str:
    """Ask the responsible keepalived to stop; returns what was done (for the log).

    Raises:
        CheckError: No keepalived could be found or signalled.
    """
    target = find_parent_keepalived()
    if target is not None:
        try:
            os.kill(target, signal.SIGTERM)
        except OSError as exc:
            raise CheckError(f"cannot signal keepalived pid {target}: {exc.strerror}") from exc
        return f"sent SIGTERM to keepalived pid {target} (parent of this check)"
    if os.path.isdir(SYSTEMD_MARKER):
        from kakit.core.programs import run_bounded

        status, output = run_bounded(("systemctl", "--no-block", "stop", "keepalived"), 10.0)
        if status == 0:
            return "ran `systemctl --no-block stop keepalived`"
        raise CheckError(f"`systemctl --no-block stop keepalived` failed: {output or status}")
    pid = procfs.read_pidfile(KEEPALIVED_PIDFILE)
    info = procfs.read_stat(pid) if pid else None
    if pid is not None and info is not None and info.comm == "keepalived":
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError as exc:
            raise CheckError(f"cannot signal keepalived pid {pid}: {exc.strerror}") from exc
        return f"sent SIGTERM to keepalived pid {pid} (from {KEEPALIVED_PIDFILE})"
    raise CheckError(
        "no keepalived found to stop (no keepalived parent, no systemd, no live pid file)"
    )
