"""kaprobe's metrics in Prometheus' text format, beside the FIFO reader's.

Written from the status record (:meth:`kakit.kaprobe.runtime.Prober.status`, the same one
``kaprobe status`` shows) with the FIFO reader's exposition helpers and endpoint
(:mod:`kakit.kanotify.metrics`). Every series of a session is labelled ``peer`` and ``local``.
"""

from __future__ import annotations

from kakit.kanotify.metrics import family, process_families, series
from kakit.kaprobe.packet import STATE_NAMES

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: The drop counters of the status record, by the ``reason`` label they get.
DROP_REASONS = (
    ("ttl", "rx_dropped_ttl"),
    ("invalid", "rx_dropped_invalid"),
    ("unknown_discr", "rx_dropped_unknown_discr"),
)


def render(status: dict[str, Any]) -> str:
    """The exposition text for kaprobe's status record."""
    out: list[str] = []
    sessions = [({"peer": s["peer"], "local": s["local"]}, s) for s in status["sessions"]]

    def per_session(name: str, kind: str, text: str, value: Any) -> None:
        family(out, name, kind, text, (series(name, labels, value(s)) for labels, s in sessions))

    family(
        out,
        "kakit_bfd_session_state",
        "gauge",
        "1 for the state each BFD session is in",
        (
            series("kakit_bfd_session_state", {**labels, "state": state}, int(s["state"] == state))
            for labels, s in sessions
            for state in STATE_NAMES
        ),
    )
    per_session(
        "kakit_bfd_session_up", "gauge", "1 while the session is Up", lambda s: s["state"] == "Up"
    )
    family(
        out,
        "kakit_bfd_session_transitions_total",
        "counter",
        "Times the session came Up (to=up) and went from Up to Down (to=down)",
        (
            series("kakit_bfd_session_transitions_total", {**labels, "to": to}, s["counters"][to])
            for labels, s in sessions
            for to in ("up", "down")
        ),
    )
    per_session(
        "kakit_bfd_session_detection_time_seconds",
        "gauge",
        "Negotiated detection time (0 before the peer was heard)",
        lambda s: s["detection_time_us"] / 1e6,
    )
    per_session(
        "kakit_bfd_session_tx_interval_seconds",
        "gauge",
        "Negotiated transmit interval, before jitter",
        lambda s: s["tx_interval_us"] / 1e6,
    )
    per_session(
        "kakit_bfd_session_last_down_diag",
        "gauge",
        "Diagnostic code of the last Down (RFC 5880: 1 detection time expired, 3 neighbor down, "
        "7 administratively down)",
        lambda s: s["last_down_diag"],
    )
    for name, counter, text in (
        ("kakit_bfd_packets_received_total", "rx", "Control packets accepted"),
        ("kakit_bfd_packets_sent_total", "tx", "Control packets sent"),
        ("kakit_bfd_send_errors_total", "tx_errors", "Control packets the kernel refused"),
        ("kakit_bfd_polls_answered_total", "polls_answered", "Polls answered with Final"),
    ):
        per_session(name, "counter", text, lambda s, counter=counter: s["counters"][counter])
    nobody = {"peer": "", "local": ""}
    family(
        out,
        "kakit_bfd_packets_dropped_total",
        "counter",
        "Received packets dropped, by reason (peer and local empty: no session matched)",
        [
            *(
                series("kakit_bfd_packets_dropped_total", {**labels, "reason": r}, s["counters"][c])
                for labels, s in sessions
                for r, c in DROP_REASONS
            ),
            *(
                series(
                    "kakit_bfd_packets_dropped_total",
                    {**nobody, "reason": r},
                    status["dropped"].get(c, 0),
                )
                for r, c in DROP_REASONS
            ),
        ],
    )
    process_families(
        out, "kakit_kaprobe_start_time_seconds", "Unix time kaprobe started", status["started"]
    )
    return "\n".join(out) + "\n"
