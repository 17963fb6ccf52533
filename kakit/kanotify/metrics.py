"""The FIFO reader's metrics, in Prometheus' text format, served on loopback or written to a file.

Where a metric means what one of the keepalived exporter's metrics means (mehdy/keepalived-exporter:
``keepalived_vrrp_state``, ``keepalived_become_master_total``, ``keepalived_release_master_total``),
it has that metric's name, labels and values, so dashboards and alert rules written for the
exporter keep working (docs/kanotify.md, "Metrics"):

- ``keepalived_vrrp_state{iname, intf, vrid, ip_address}``: 0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT,
  one series per virtual address. An instance that is stopped or deleted has no series, as with
  the exporter, whose keepalived is then gone.
- ``keepalived_become_master_total`` and ``keepalived_release_master_total`` with labels
  ``iname, intf, vrid, state`` (``state`` is the current state, as the exporter labels it).

Everything else is kakit's own and named ``kakit_*``. The interface, router id and addresses
come from keepalived.conf when kakit knows it; otherwise those labels are empty.
"""

from __future__ import annotations

import asyncio
import time

from kakit import __version__
from kakit.core.log import logger
from kakit.core.record import frozen

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

#: keepalived's numbers for the states the exporter reports.
KEEPALIVED_STATE_NUMBERS = {"INIT": 0, "BACKUP": 1, "MASTER": 2, "FAULT": 3}
#: Largest request the endpoint reads: a scrape is one short GET.
MAX_REQUEST = 8192
#: Seconds a client may take to send its request.
REQUEST_TIMEOUT = 5.0
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@frozen
class InstanceInfo:
    """What keepalived.conf says of one VRRP instance, for the exporter's labels.

    Attributes:
        interface: The instance's ``interface``.
        vrid: Its ``virtual_router_id``.
        addresses: Its virtual addresses, without prefix length.
    """

    interface: str = ""
    vrid: str = ""
    addresses: tuple[str, ...] = ()


@frozen
class ChannelStats:
    """The outbox as one channel sees it.

    Attributes:
        pending: Messages waiting (held, pending or being sent).
        oldest: Seconds the oldest waiting message has waited (0 when none).
        sent: Messages delivered, as long as the outbox keeps them.
        failed: Messages given up on (failed or expired), likewise.
    """

    pending: int = 0
    oldest: float = 0.0
    sent: int = 0
    failed: int = 0


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def series(name: str, labels: Mapping[str, str], value: float) -> str:
    """One sample line: ``name{label="value",...} number`` (labels escaped)."""
    inner = ",".join(f'{key}="{_label(text)}"' for key, text in labels.items())
    number = (
        repr(float(value))
        if isinstance(value, float) and not value.is_integer()
        else str(int(value))
    )
    return f"{name}{{{inner}}} {number}" if inner else f"{name} {number}"


def family(out: list[str], name: str, kind: str, text: str, rows: Iterable[str]) -> None:
    """Append one metric family to ``out``: its HELP and TYPE lines, then its samples."""
    out.extend((f"# HELP {name} {text}", f"# TYPE {name} {kind}", *rows))


def process_families(out: list[str], name: str, text: str, started: float) -> None:
    """The families every kakit exporter ends with: its start time (``name``, Unix seconds)
    and ``kakit_build_info``."""
    family(out, name, "gauge", text, [series(name, {}, round(started, 3))])
    family(
        out,
        "kakit_build_info",
        "gauge",
        "kakit's version",
        [series("kakit_build_info", {"version": __version__}, 1)],
    )


class _Instance:
    __slots__ = ("became_master", "changed", "flaps", "released_master", "state", "transitions")

    def __init__(self) -> None:
        self.state = ""
        self.changed = 0.0
        self.transitions = 0
        self.flaps = 0
        self.became_master = 0
        self.released_master = 0


class Metrics:
    """Counters the reader updates as it works, and their exposition.

    Args:
        instances: keepalived.conf's view of each instance, by name, for the exporter's labels.
        flap_window: A change of state less than this many seconds after the previous one of
            the same instance counts as a flap.
        clock: Monotonic seconds (tests give their own).
    """

    def __init__(
        self,
        instances: Mapping[str, InstanceInfo] | None = None,
        *,
        flap_window: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.instances = dict(instances or {})
        self.flap_window = flap_window
        self.clock = clock
        self.started = clock()
        self.vrrp: dict[tuple[str, str], _Instance] = {}
        self.lines = {"vrrp": 0, "lvs": 0, "refused": 0}
        self.drift_corrected = 0
        self.hook_failures = 0

    def line(self, kind: str) -> None:
        """Count one FIFO line: ``vrrp``, ``lvs`` or ``refused``."""
        self.lines[kind] = self.lines.get(kind, 0) + 1

    def transition(self, kind: str, name: str, state: str) -> None:
        """Record that an instance or group entered ``state``."""
        entry = self.vrrp.setdefault((kind, name), _Instance())
        now = self.clock()
        if entry.state and entry.state != state:
            if now - entry.changed < self.flap_window:
                entry.flaps += 1
            if entry.state == "MASTER":
                entry.released_master += 1
        if state == "MASTER" and entry.state != "MASTER":
            entry.became_master += 1
        if entry.state != state:
            entry.transitions += 1
            entry.changed = now
        entry.state = state

    def render(self, channels: Mapping[str, ChannelStats] | None = None) -> str:
        """The exposition text: every metric with its HELP and TYPE lines."""
        out: list[str] = []

        def add(name: str, kind: str, text: str, rows: Iterable[str]) -> None:
            family(out, name, kind, text, rows)

        instances = sorted(
            (name, entry) for (kind, name), entry in self.vrrp.items() if kind == "INSTANCE"
        )

        def labels(name: str, **more: str) -> dict[str, str]:
            info = self.instances.get(name, InstanceInfo())
            return {"iname": name, "intf": info.interface, "vrid": info.vrid, **more}

        state_rows = []
        for name, entry in instances:
            number = KEEPALIVED_STATE_NUMBERS.get(entry.state)
            if number is None:
                continue
            for address in self.instances.get(name, InstanceInfo()).addresses or ("",):
                state_rows.append(
                    series("keepalived_vrrp_state", labels(name, ip_address=address), number)
                )
        add("keepalived_vrrp_state", "gauge", "State of vrrp", state_rows)
        add(
            "keepalived_become_master_total",
            "counter",
            "Became master",
            (
                series(
                    "keepalived_become_master_total", labels(name, state=e.state), e.became_master
                )
                for name, e in instances
            ),
        )
        add(
            "keepalived_release_master_total",
            "counter",
            "Released master",
            (
                series(
                    "keepalived_release_master_total",
                    labels(name, state=e.state),
                    e.released_master,
                )
                for name, e in instances
            ),
        )
        everything = sorted(self.vrrp.items())
        add(
            "kakit_vrrp_state",
            "gauge",
            "1 for the state each instance or group is in, as the notify FIFO last said",
            (
                series(
                    "kakit_vrrp_state",
                    {"kind": kind, "name": name, "state": state},
                    int(entry.state == state),
                )
                for (kind, name), entry in everything
                for state in ("MASTER", "BACKUP", "FAULT", "STOP", "DELETED")
            ),
        )
        add(
            "kakit_vrrp_transitions_total",
            "counter",
            "Changes of state read from the notify FIFO",
            (
                series("kakit_vrrp_transitions_total", {"kind": k, "name": n}, e.transitions)
                for (k, n), e in everything
            ),
        )
        add(
            "kakit_vrrp_flaps_total",
            "counter",
            f"Changes of state within {self.flap_window:g} s of the previous one",
            (
                series("kakit_vrrp_flaps_total", {"kind": k, "name": n}, e.flaps)
                for (k, n), e in everything
            ),
        )
        add(
            "kakit_fifo_lines_total",
            "counter",
            "Lines read from the notify FIFO, by kind (refused: none of keepalived's formats)",
            (
                series("kakit_fifo_lines_total", {"kind": kind}, count)
                for kind, count in sorted(self.lines.items())
            ),
        )
        add(
            "kakit_drift_corrected_total",
            "counter",
            "Times reconcile found the node out of step with its state and applied it again",
            [series("kakit_drift_corrected_total", {}, self.drift_corrected)],
        )
        add(
            "kakit_hook_failures_total",
            "counter",
            "Hooks that failed",
            [series("kakit_hook_failures_total", {}, self.hook_failures)],
        )
        stats = sorted((channels or {}).items())
        add(
            "kakit_outbox_pending",
            "gauge",
            "Alerts waiting in the outbox, per channel",
            (series("kakit_outbox_pending", {"channel": c}, s.pending) for c, s in stats),
        )
        add(
            "kakit_outbox_oldest_pending_seconds",
            "gauge",
            "Age of the oldest alert waiting in the outbox, per channel",
            (
                series("kakit_outbox_oldest_pending_seconds", {"channel": c}, round(s.oldest, 3))
                for c, s in stats
            ),
        )
        add(
            "kakit_outbox_messages",
            "gauge",
            "Alerts the outbox still keeps that were delivered or given up on, per channel",
            (
                series("kakit_outbox_messages", {"channel": c, "result": result}, count)
                for c, s in stats
                for result, count in (("sent", s.sent), ("failed", s.failed))
            ),
        )
        process_families(
            out,
            "kakit_fifo_reader_start_time_seconds",
            "Unix time the FIFO reader started",
            time.time() - (self.clock() - self.started),
        )
        return "\n".join(out) + "\n"


async def serve(render: Callable[[], str], host: str, port: int) -> asyncio.Server:
    """Serve ``render()`` at ``GET /metrics`` on ``host:port`` (a loopback address by default).

    The request is read with a size and time bound: a client that sends nothing, or too much,
    cannot hold the reader's loop.
    """

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await _answer(render, reader, writer)
        except (
            TimeoutError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            ConnectionError,
        ):
            pass  # a client that says nothing, too much, or hangs up: dropped
        finally:
            writer.close()

    server = await asyncio.start_server(answer, host, port, limit=MAX_REQUEST)
    logger.info(f"metrics at http://{host}:{port}/metrics")
    return server


async def _answer(
    render: Callable[[], str], reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    async with asyncio.timeout(REQUEST_TIMEOUT):
        head = await reader.readuntil(b"\r\n\r\n")
    words = head.split(b"\r\n", 1)[0].split(b" ")
    if len(words) == 3 and words[0] in (b"GET", b"HEAD") and words[1].split(b"?")[0] == b"/metrics":
        body, status, kind = render().encode(), b"200 OK", CONTENT_TYPE.encode()
    else:
        body, status, kind = b"not found: try /metrics\n", b"404 Not Found", b"text/plain"
    writer.write(
        b"HTTP/1.0 "
        + status
        + b"\r\nContent-Type: "
        + kind
        + b"\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\nConnection: close\r\n\r\n"
        + (body if words[0] != b"HEAD" else b"")
    )
    await writer.drain()
