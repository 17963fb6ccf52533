"""The status file kaprobe keeps in the state directory, and ``kaprobe status``."""

from __future__ import annotations

import os
import time

from kakit.exceptions import StateError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def status_path(state_dir: str) -> str:
    """Where the running kaprobe writes its status."""
    return os.path.join(state_dir, "kaprobe", "status.json")


def read_status(path: str) -> dict[str, Any]:
    """The last status kaprobe wrote.

    Raises:
        StateError: No status file (kaprobe never ran with this state directory) or unreadable.
    """
    from kakit.core.smalljson import loads

    try:
        with open(path, encoding="utf-8") as handle:
            value: dict[str, Any] = loads(handle.read())
    except FileNotFoundError:
        raise StateError(f"no kaprobe status at {path}: is kaprobe running?") from None
    except (OSError, ValueError) as exc:
        raise StateError(f"cannot read kaprobe status {path}: {exc}") from exc
    return value


def _ms(microseconds: int) -> str:
    return f"{microseconds / 1000:g} ms"


def render(status: dict[str, Any], now: float | None = None) -> str:
    """The human-readable text ``kaprobe status`` prints."""
    now = time.time() if now is None else now
    pid = status.get("pid")
    alive = isinstance(pid, int) and os.path.exists(f"/proc/{pid}")
    age = now - float(status.get("written", 0))
    lines = [
        f"kaprobe pid {pid}: {'running' if alive else 'NOT running'}, "
        f"status written {age:.1f} s ago"
    ]
    for s in status.get("sessions", []):
        c = s["counters"]
        lines += [
            f"session {s['name']} (source port {s['source_port']}): {s['state']} "
            f"for {now - s['since']:.1f} s, peer {s['remote_state']}",
            f"  discriminators: local {s['local_discr']}, remote {s['remote_discr']}",
            f"  tx interval {_ms(s['tx_interval_us'])} (we want {_ms(s['desired_min_tx_us'])}, "
            f"peer accepts {_ms(s['remote_min_rx_us'])}); "
            f"detection time {_ms(s['detection_time_us'])} "
            f"(peer x{s['remote_multiplier']}, peer sends every "
            f"{_ms(s['remote_desired_min_tx_us'])})",
            f"  last down: diag {s['last_down_diag']} ({s['last_down_reason']})",
            "  counters: " + ", ".join(f"{k} {v}" for k, v in c.items()),
        ]
        if s.get("track_file"):
            latency = s.get("track_file_latency_us")
            written = "" if latency is None else f" (last written {_ms(latency)} after the change)"
            lines.append(f"  track file {s['track_file']}{written}")
    dropped = status.get("dropped", {})
    if any(dropped.values()):
        lines.append("dropped, no session: " + ", ".join(f"{k} {v}" for k, v in dropped.items()))
    return "\n".join(lines) + "\n"
