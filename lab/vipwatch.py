"""Timing a failover: ``ip monitor address`` in a namespace, stamped on the monotonic clock."""

from __future__ import annotations

import subprocess
import threading
import time

from lab.node import Node


class VipWatch:
    """Follows ``ip monitor address`` in a node: the monotonic time the VIP last appeared.

    Stamped as the kernel reports the address, so the time from a cut to the VIP is measured
    without polling. Reset :attr:`appeared` to None before the event you time.
    """

    def __init__(self, node: Node, vip: str) -> None:
        self.vip = vip
        self.appeared: float | None = None
        self.proc = subprocess.Popen(
            ["ip", "-n", node.ns, "monitor", "address"], stdout=subprocess.PIPE, text=True
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
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
