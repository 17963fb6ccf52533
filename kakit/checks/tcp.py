"""``tcp``: a TCP connection to host:port succeeds within the timeout."""

from __future__ import annotations

from kakit.checks.base import Check, CheckResult, RunContext
from kakit.core.converters import duration, host, port
from kakit.core.record import frozen, option


@frozen
class TcpOptions:
    """Settings of a TCP check (keepalived's TCP_CHECK names).

    Attributes:
        host: Address or name to connect to.
        port: TCP port.
        connect_timeout: Seconds to wait for the connection.
    """

    host: str = option(host, default="127.0.0.1")
    port: int = option(port)
    connect_timeout: float = option(duration(high=60.0), default=1.0)


def tcp_connect(address: str, port_number: int, timeout: float) -> str | None:
    """Try one connection; None on success, else the reason."""
    import socket

    if timeout <= 0:
        return "no time left before the deadline"
    try:
        with socket.create_connection((address, port_number), timeout=timeout):
            return None
    except TimeoutError:
        return f"no answer within {timeout:g} s"
    except OSError as exc:
        return exc.strerror or str(exc)


class TcpCheck(Check[TcpOptions]):
    """Passes when the port accepts a connection."""

    type_name = "tcp"

    def run(self, ctx: RunContext) -> CheckResult:
        """Connect once."""
        opts = self.options
        error = tcp_connect(opts.host, opts.port, ctx.remaining(opts.connect_timeout))
        target = f"{opts.host}:{opts.port}"
        if error is None:
            return CheckResult(ok=True, summary=f"tcp {target} accepts connections")
        return CheckResult(ok=False, summary=f"tcp {target}: {error}")

    def describe(self) -> str:
        """``tcp 127.0.0.1:80``."""
        return f"tcp {self.options.host}:{self.options.port}"
