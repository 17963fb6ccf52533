"""`kaprobe status`: the status file rendered for an operator."""

from __future__ import annotations

import os
from typing import Any

from kakit.kaprobe.status import render

NOW = 1_000_000.0


def status(pid: int) -> dict[str, Any]:
    """A status record as the runtime writes it, one session Up for 65 s."""
    return {
        "pid": pid,
        "written": NOW - 0.5,
        "dropped": {"rx_dropped_ttl": 0, "rx_dropped_invalid": 2},
        "sessions": [
            {
                "name": "10.213.1.2->10.213.1.1",
                "source_port": 51234,
                "state": "Up",
                "remote_state": "Up",
                "since": NOW - 65,
                "local_discr": 123,
                "remote_discr": 456,
                "tx_interval_us": 50_000,
                "desired_min_tx_us": 50_000,
                "remote_min_rx_us": 50_000,
                "remote_desired_min_tx_us": 50_000,
                "remote_multiplier": 3,
                "detection_time_us": 150_000,
                "last_down_diag": 1,
                "last_down_reason": "control detection time expired",
                "counters": {"rx": 10, "tx": 11, "rx_dropped_ttl": 1},
                "track_file": "/run/kakit/track/uplink",
                "track_file_latency_us": 1400,
            }
        ],
    }


class TestRender:
    """What an operator reads."""

    def test_session_lines(self) -> None:
        """State, negotiated intervals, detection time, last diag and counters are shown."""
        text = render(status(os.getpid()), now=NOW)
        assert f"kaprobe pid {os.getpid()}: running" in text
        assert "Up for 65.0 s, peer Up" in text
        assert "tx interval 50 ms" in text
        assert "detection time 150 ms (peer x3" in text
        assert "last down: diag 1 (control detection time expired)" in text
        assert "rx_dropped_ttl 1" in text
        assert "dropped, no session: rx_dropped_ttl 0, rx_dropped_invalid 2" in text
        assert "track file /run/kakit/track/uplink (last written 1.4 ms after the change)" in text

    def test_dead_writer(self) -> None:
        """A status left by a process that is gone says so."""
        assert "NOT running" in render(status(2**22 + 1), now=NOW)
