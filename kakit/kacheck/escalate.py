"""Stopping the keepalived that runs this check (``on_failure: stop-keepalived``).

Only a keepalived in the caller's network namespace is ever stopped: lab nodes and containers
share the PID namespace and the filesystem (docs/architecture.md, "Processes and containers"),
so ``/run/keepalived.pid``, ``systemctl`` or a process list may all name another node's
keepalived. The one to stop is found:

1. through the parent chain: kacheck's parent is keepalived's VRRP child, whose parent is the
   main keepalived process (exact even with several daemons on one host);
2. without such a parent (watch mode): the main keepalived process of this network namespace,
   the one whose parent is not itself a keepalived. With several, the pid file decides; with
   none, nothing is stopped and the answer says so.

Under systemd, when the process found belongs to ``keepalived.service`` (its cgroup says so),
``systemctl --no-block stop keepalived`` stops it (so a ``Restart=`` setting does not bring it back; ``--no-block`` because
keepalived kills its scripts' process groups on the way down); otherwise it gets SIGTERM.

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


def find_netns_keepalived() -> tuple[int | None, str]:
    """The main keepalived process of this network namespace: ``(pid, how it was found)``.

    ``pid`` is None when there is none, or several and the pid file names none of them; the
    text then says which.
    """
    mains = procfs.masters(procfs.find_by_name("keepalived"))
    if len(mains) == 1:
        return mains[0].pid, "the keepalived of this network namespace"
    if not mains:
        return None, "no keepalived runs in this network namespace"
    from_file = procfs.read_pidfile(KEEPALIVED_PIDFILE)
    if from_file in {info.pid for info in mains}:
        return from_file, f"named by {KEEPALIVED_PIDFILE}, in this network namespace"
    pids = ", ".join(str(info.pid) for info in mains)
    return (
        None,
        f"several keepalived run in this network namespace (pids {pids}), none in {KEEPALIVED_PIDFILE}",
    )


def describe(pid: int) -> str:
    """``keepalived pid 123 (keepalived -n -f /etc/...)``, for the log."""
    cmdline = procfs.read_cmdline(pid)
    return f"keepalived pid {pid} ({cmdline})" if cmdline else f"keepalived pid {pid}"


def _under_systemd_unit(pid: int) -> bool:
    """Whether systemd runs and ``pid`` belongs to its ``keepalived.service``."""
    if not os.path.isdir(SYSTEMD_MARKER):
        return False
    return any(line.endswith("/keepalived.service") for line in procfs.read_cgroups(pid))


def stop_keepalived() -> str:
    """Ask this network namespace's keepalived to stop; returns what was done (for the log).

    Raises:
        CheckError: No keepalived of this network namespace could be found or signalled.
    """
    return stop_target(*find_target())


def find_target() -> tuple[int, str]:
    """The keepalived that escalation stops: ``(pid, how it was found)``.

    Raises:
        CheckError: No keepalived of this network namespace (or no single one).
    """
    target = find_parent_keepalived()
    how = "parent of this check"
    if target is not None and procfs.netns_of(target) != procfs.own_netns():
        # A keepalived parent always shares our namespace; if not, it is not ours to stop.
        target, how = None, f"keepalived parent {target} is in another network namespace"
    if target is None:
        target, how = find_netns_keepalived()
    if target is None:
        raise CheckError(f"no keepalived to stop: {how}; stopping nothing")
    return target, how


def stop_target(target: int, how: str) -> str:
    """Stop keepalived ``target`` (found by :func:`find_target` as ``how``); what was done.

    Raises:
        CheckError: It could not be signalled.
    """
    what = describe(target)
    if _under_systemd_unit(target):
        from kakit.core.programs import run_bounded

        status, output = run_bounded(("systemctl", "--no-block", "stop", "keepalived"), 10.0)
        if status == 0:
            return f"ran `systemctl --no-block stop keepalived` for {what}, {how}"
        raise CheckError(f"`systemctl --no-block stop keepalived` failed: {output or status}")
    try:
        os.kill(target, signal.SIGTERM)
    except OSError as exc:
        raise CheckError(f"cannot signal {what}: {exc.strerror}") from exc
    return f"sent SIGTERM to {what}, {how}"
