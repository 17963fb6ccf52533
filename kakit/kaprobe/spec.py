"""What one BFD session is asked to do: the options record of a probe."""

from __future__ import annotations

from kakit.core.record import frozen

DEFAULT_UP_VALUE = 0
DEFAULT_DOWN_VALUE = -254
"""Written while not Up: with the track_file's weight 0 any non-zero value is FAULT, and with
keepalived's default weight 1 the product -254 is FAULT too (docs/kaprobe.md)."""


@frozen
class ProbeSpec:
    """One BFD session to run.

    Attributes:
        peer: The peer's address (IPv4 or IPv6, normalised).
        local: Our address on the link; packets leave from it and must arrive at it.
        interval: Desired Min TX and Required Min RX once Up, microseconds.
        multiplier: Our detect multiplier (1-255).
        track_file: keepalived track_file to maintain, or None.
        up_value: Written to the track file while the session is Up.
        down_value: Written while it is not Up (also at start).
        passive: Send nothing until the peer has been heard.
    """

    peer: str
    local: str
    interval: int = 50_000
    multiplier: int = 3
    track_file: str | None = None
    up_value: int = DEFAULT_UP_VALUE
    down_value: int = DEFAULT_DOWN_VALUE
    passive: bool = False

    @property
    def name(self) -> str:
        """How logs and the status name the session."""
        return f"{self.local}->{self.peer}"
