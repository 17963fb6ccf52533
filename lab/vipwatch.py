"""Timing a failover: ``ip monitor address`` in a namespace, stamped on the monotonic clock."""

from __future__ import annotations

import os
import subprocess
import threading
import time

from lab.node import Node

OBSERVER_PRIORITY = 40
"""SCHED_FIFO priority of real-time observers: below kaprobe --realtime's 50."""


def realtime_prefix(realtime: bool) -> list[str]:
    """``chrt -f 40`` to start a command SCHED_FIFO, or nothing."""
    return ["chrt", "-f", str(OBSERVER_PRIORITY)] if realtime else []


class VipWatch:
    """Follows ``ip monitor address`` in a node: the monotonic time the VIP last appeared.

    Stamped as the kernel reports the address, so the time from a cut to the VIP is measured
    without polling. Reset :attr:`appeared` to None before the event you time. With
    ``realtime`` the monitor and the thread reading it run SCHED_FIFO (:data:`OBSERVER_PRIORITY`),
    so that on a busy machine the observer does not add its own scheduling delay to what it
    measures.
    """

    def __init__(self, node: Node, vip: str, *, realtime: bool = False) -> None:
        self.vip = vip
        self.realtime = realtime
        self.appeared: float | None = None
        self.proc = subprocess.Popen(
            [*realtime_prefix(realtime), "ip", "-n", node.ns, "monitor", "address"],
            stdout=subprocess.PIPE,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        if self.realtime:
            # pid 0 is this thread alone.
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(OBSERVER_PRIORITY))
        for line in self.proc.stdout:
            if f" {self.vip}/" in line and not line.startswith("Deleted"):
                self.appeared = time.monotonic()

    def when(self) -> float | None:
        """The time the VIP last appeared, or None since the last reset."""
        return self.appeared

    def close(self) -> None:
        """Stop the monitor."""
        self.proc.terminate()
        self.proc.wait(5)
