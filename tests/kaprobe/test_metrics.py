"""kaprobe's metrics: per-session state, transitions, timers and counters, promtool-clean."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import pytest

from kakit.kaprobe.metrics import render

COUNTERS = {
    "rx": 1200,
    "tx": 1210,
    "tx_errors": 1,
    "rx_dropped_ttl": 2,
    "rx_dropped_invalid": 3,
    "rx_dropped_unknown_discr": 4,
    "polls_answered": 5,
    "up": 2,
    "down": 1,
}


def status() -> dict[str, Any]:
    """A status record: the uplink session Up at 50 ms x 3 after one detected Down."""
    return {
        "pid": 1,
        "started": 1795312160.5,
        "written": 1795312170.0,
        "dropped": {"rx_dropped_ttl": 0, "rx_dropped_invalid": 0, "rx_dropped_unknown_discr": 7},
        "sessions": [
            {
                "name": "10.213.7.1->10.213.7.254",
                "peer": "10.213.7.254",
                "local": "10.213.7.1",
                "state": "Up",
                "detection_time_us": 150_000,
                "tx_interval_us": 50_000,
                "last_down_diag": 1,
                "counters": COUNTERS,
            }
        ],
    }


SESSION = 'peer="10.213.7.254",local="10.213.7.1"'


def test_session_series() -> None:
    """State, transitions, negotiated timers, diag and counters, labelled by peer and local."""
    lines = render(status()).splitlines()
    for line in (
        f'kakit_bfd_session_state{{{SESSION},state="Up"}} 1',
        f'kakit_bfd_session_state{{{SESSION},state="Down"}} 0',
        f"kakit_bfd_session_up{{{SESSION}}} 1",
        f'kakit_bfd_session_transitions_total{{{SESSION},to="up"}} 2',
        f'kakit_bfd_session_transitions_total{{{SESSION},to="down"}} 1',
        f"kakit_bfd_session_detection_time_seconds{{{SESSION}}} 0.15",
        f"kakit_bfd_session_tx_interval_seconds{{{SESSION}}} 0.05",
        f"kakit_bfd_session_last_down_diag{{{SESSION}}} 1",
        f"kakit_bfd_packets_received_total{{{SESSION}}} 1200",
        f"kakit_bfd_packets_sent_total{{{SESSION}}} 1210",
        f"kakit_bfd_send_errors_total{{{SESSION}}} 1",
        f"kakit_bfd_polls_answered_total{{{SESSION}}} 5",
        f'kakit_bfd_packets_dropped_total{{{SESSION},reason="ttl"}} 2',
        f'kakit_bfd_packets_dropped_total{{{SESSION},reason="invalid"}} 3',
        f'kakit_bfd_packets_dropped_total{{{SESSION},reason="unknown_discr"}} 4',
        'kakit_bfd_packets_dropped_total{peer="",local="",reason="unknown_discr"} 7',
        "kakit_kaprobe_start_time_seconds 1795312160.5",
    ):
        assert line in lines


@pytest.mark.skipif(not shutil.which("promtool"), reason="needs promtool (Debian prometheus)")
def test_promtool_accepts_the_exposition() -> None:
    """`promtool check metrics` finds nothing to say about kaprobe's exposition."""
    result = subprocess.run(
        ["promtool", "check", "metrics"],
        input=render(status()),
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")
