"""What one BFD session is asked to do: the options record of a probe, the ``probes:`` section,
and the ``kaprobe:`` section (metrics).

```
probes:
  - peer: 10.213.1.1
    local: 10.213.1.2
    interval: 50ms
    multiplier: 3
    track_file: /run/kakit/track/uplink
```
"""

from __future__ import annotations

from kakit.core.converters import (
    Node,
    absolute_path,
    boolean,
    build,
    duration,
    integer,
    ip_address,
    optional,
    optional_path,
    port,
)
from kakit.core.record import frozen, option

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEFAULT_UP_VALUE = 0
DEFAULT_DOWN_VALUE = -254
"""Written while not Up: with the track_file's weight 0 any non-zero value is FAULT, and with
keepalived's default weight 1 the product -254 is FAULT too (docs/kaprobe.md)."""

_INT32 = integer(-(2**31), 2**31 - 1)


@frozen
class ProbeSpec:
    """One BFD session to run.

    Attributes:
        peer: The peer's address (IPv4 or IPv6, normalised).
        local: Our address on the link; packets leave from it and must arrive at it.
        interval: Desired Min TX and Required Min RX once Up, seconds (1 ms to 60 s).
        multiplier: Our detect multiplier (1-255).
        track_file: keepalived track_file to maintain, or None.
        up_value: Written to the track file while the session is Up.
        down_value: Written while it is not Up (also at start).
        passive: Send nothing until the peer has been heard.
    """

    peer: str = option(ip_address, doc="the BFD peer's address")
    local: str = option(ip_address, doc="our address on the link to the peer")
    interval: float = option(duration(0.001, 60.0), default=0.05)
    multiplier: int = option(integer(1, 255), default=3)
    track_file: str | None = option(optional(absolute_path), default=None)
    up_value: int = option(_INT32, default=DEFAULT_UP_VALUE)
    down_value: int = option(_INT32, default=DEFAULT_DOWN_VALUE)
    passive: bool = option(boolean, default=False)

    def __post_init__(self) -> None:
        if (":" in self.peer) != (":" in self.local):
            raise ValueError("peer and local must be of the same address family")

    @property
    def interval_us(self) -> int:
        """The interval in microseconds, as on the wire."""
        return round(self.interval * 1_000_000)

    @property
    def name(self) -> str:
        """How logs and the status name the session."""
        return f"{self.local}->{self.peer}"


@frozen
class ProbeSettings:
    """The ``kaprobe:`` section: how kaprobe exposes its session metrics.

    Attributes:
        metrics_address: Where the Prometheus endpoint listens (loopback by default); null for
            no endpoint.
        metrics_port: Its port (the FIFO reader's is 9651).
        textfile: Also write the metrics to this file every 15 s, for node_exporter's textfile
            collector (a ``.prom`` file in its directory).
    """

    metrics_address: str | None = option(optional(ip_address), default="127.0.0.1")
    metrics_port: int = option(port, default=9652)
    textfile: str | None = option(optional_path, default=None)


def probes_section(node: Node) -> tuple[ProbeSpec, ...]:
    """The ``probes:`` list: one record per session, no two for the same (peer, local).

    Raises:
        ConfigError: A bad entry, or a duplicate session.
    """
    if not isinstance(node.value, list):
        raise node.error("a list of BFD sessions (peer, local, interval...)")
    specs: list[ProbeSpec] = []
    seen: dict[tuple[str, str], Any] = {}
    for item in node.value:
        spec = build(ProbeSpec, item)
        key = (spec.peer, spec.local)
        if key in seen:
            raise item.error(f"one session per peer and local address ({spec.name} is repeated)")
        seen[key] = item
        specs.append(spec)
    return tuple(specs)
