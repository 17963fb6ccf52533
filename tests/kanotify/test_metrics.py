"""Specification of the FIFO reader's metrics: the exporter's names where they mean the same."""

from __future__ import annotations

import asyncio
import shutil
import subprocess

import pytest

from kakit.kanotify.metrics import ChannelStats, InstanceInfo, Metrics, serve


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def flapped() -> Metrics:
    """VI_1: BACKUP, MASTER 2 s later, BACKUP 60 s after that; group G1 MASTER."""
    clock = Clock()
    metrics = Metrics(
        {
            "VI_1": InstanceInfo(
                interface="eth0", vrid="51", addresses=("10.213.7.100", "10.213.7.101")
            )
        },
        flap_window=10.0,
        clock=clock,
    )
    metrics.transition("INSTANCE", "VI_1", "BACKUP")
    clock.now += 2
    metrics.transition("INSTANCE", "VI_1", "MASTER")
    clock.now += 60
    metrics.transition("INSTANCE", "VI_1", "BACKUP")
    metrics.transition("GROUP", "G1", "MASTER")
    metrics.line("vrrp")
    metrics.line("refused")
    return metrics


def test_exporter_compatible_series() -> None:
    """keepalived_vrrp_state and the master counters read as the exporter's do."""
    text = flapped().render()
    assert (
        'keepalived_vrrp_state{iname="VI_1",intf="eth0",vrid="51",ip_address="10.213.7.100"} 1'
        in text
    )
    assert (
        'keepalived_vrrp_state{iname="VI_1",intf="eth0",vrid="51",ip_address="10.213.7.101"} 1'
        in text
    )
    assert (
        'keepalived_become_master_total{iname="VI_1",intf="eth0",vrid="51",state="BACKUP"} 1'
        in text
    )
    assert (
        'keepalived_release_master_total{iname="VI_1",intf="eth0",vrid="51",state="BACKUP"} 1'
        in text
    )
    assert "G1" not in "\n".join(
        line for line in text.splitlines() if line.startswith("keepalived_")
    )


def test_kakit_series() -> None:
    """Transitions, flaps (only the change 2 s after the previous), lines and the one-hot state."""
    text = flapped().render()
    assert 'kakit_vrrp_transitions_total{kind="INSTANCE",name="VI_1"} 3' in text
    assert 'kakit_vrrp_flaps_total{kind="INSTANCE",name="VI_1"} 1' in text
    assert 'kakit_vrrp_state{kind="GROUP",name="G1",state="MASTER"} 1' in text
    assert 'kakit_vrrp_state{kind="INSTANCE",name="VI_1",state="MASTER"} 0' in text
    assert 'kakit_fifo_lines_total{kind="refused"} 1' in text


def test_stopped_instance_has_no_exporter_state() -> None:
    """A stopped instance drops out of keepalived_vrrp_state, as when the exporter loses keepalived."""
    metrics = Metrics()
    metrics.transition("INSTANCE", "VI_1", "MASTER")
    metrics.transition("INSTANCE", "VI_1", "STOP")
    text = metrics.render()
    assert "keepalived_vrrp_state{" not in text
    assert 'kakit_vrrp_state{kind="INSTANCE",name="VI_1",state="STOP"} 1' in text


def test_names_are_escaped() -> None:
    """Instance names are keepalived data: quotes, backslashes and newlines cannot break a line."""
    metrics = Metrics()
    metrics.transition("INSTANCE", 'we"ird\\name\nx', "MASTER")
    assert 'name="we\\"ird\\\\name\\nx"' in metrics.render()


@pytest.mark.skipif(not shutil.which("promtool"), reason="needs promtool (Debian prometheus)")
def test_promtool_accepts_the_exposition() -> None:
    """Prometheus' own linter finds nothing to say about the text."""
    metrics = flapped()
    text = metrics.render({"ops": ChannelStats(pending=2, oldest=3.5, sent=10, failed=1)})
    result = subprocess.run(
        ["promtool", "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


async def fetch(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    return answer


def test_endpoint_serves_metrics_and_nothing_else() -> None:
    """GET /metrics is the exposition; other paths are 404; a silent client is dropped."""

    async def main() -> tuple[bytes, bytes]:
        server = await serve(lambda: "kakit_build_info 1\n", "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            # A client that connects and says nothing does not block the next one.
            _, idle_writer = await asyncio.open_connection("127.0.0.1", port)
            good = await fetch(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            bad = await fetch(port, b"GET /secret HTTP/1.1\r\n\r\n")
            idle_writer.close()
        return good, bad

    good, bad = asyncio.run(main())
    assert good.startswith(b"HTTP/1.0 200 OK\r\n")
    assert b"text/plain; version=0.0.4" in good and good.endswith(b"\r\n\r\nkakit_build_info 1\n")
    assert bad.startswith(b"HTTP/1.0 404 Not Found")


def test_endpoint_drops_an_oversized_request() -> None:
    """A request head past 8 KiB gets no answer and costs no more memory than that."""

    async def main() -> bytes:
        server = await serve(lambda: "x 1\n", "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            return await fetch(port, b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n")

    assert asyncio.run(main()) == b""
