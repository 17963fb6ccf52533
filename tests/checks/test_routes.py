"""Specification of default-gateway discovery from /proc."""

from __future__ import annotations

from pathlib import Path

import pytest

from kakit.checks import routes
from kakit.exceptions import CheckError

IPV4_TABLE = """\
Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth1\t00000000\t0207D50A\t0003\t0\t0\t200\t00000000\t0\t0\t0
eth0\t00000000\tFE07D50A\t0003\t0\t0\t100\t00000000\t0\t0\t0
eth0\t0007D50A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
eth2\t00000000\t00000000\t0201\t0\t0\t50\t00000000\t0\t0\t0
"""

IPV6_TABLE = """\
00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo
fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000001 00000000 00000003     eth0
00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000002 00000000 80200001       lo
"""


class TestIPv4:
    """Parsing /proc/net/route."""

    def test_lowest_metric_default_route_wins(self) -> None:
        """The default route with the lowest metric is chosen; host-order hex is decoded."""
        found = routes.parse_ipv4_routes(IPV4_TABLE)
        assert [(r.gateway, r.interface, r.metric) for r in found] == [
            ("10.213.7.254", "eth0", 100),
            ("10.213.7.2", "eth1", 200),
        ]

    def test_reject_and_non_default_routes_ignored(self) -> None:
        """Reject routes and subnet routes are not gateways."""
        assert routes.parse_ipv4_routes(IPV4_TABLE.splitlines()[0] + "\n") == []


class TestIPv6:
    """Parsing /proc/net/ipv6_route."""

    def test_default_route_skips_lo_reject_and_local(self) -> None:
        """Only the real default route counts; lo reject and local-table entries do not."""
        found = routes.parse_ipv6_routes(IPV6_TABLE)
        assert [(r.gateway, r.interface, r.metric) for r in found] == [("fd00::1", "eth0", 1024)]


class TestDefaultGateway:
    """Choosing between families, and failing clearly."""

    def test_ipv4_preferred(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """With both families present, IPv4 is used."""
        (tmp_path / "route").write_text(IPV4_TABLE)
        (tmp_path / "ipv6_route").write_text(IPV6_TABLE)
        monkeypatch.setattr(routes, "IPV4_ROUTES", str(tmp_path / "route"))
        monkeypatch.setattr(routes, "IPV6_ROUTES", str(tmp_path / "ipv6_route"))
        assert routes.default_gateway().gateway == "10.213.7.254"
        assert routes.default_gateway(6).gateway == "fd00::1"

    def test_no_default_route(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """No default route at all is a CheckError that says so."""
        (tmp_path / "route").write_text(IPV4_TABLE.splitlines()[0] + "\n")
        monkeypatch.setattr(routes, "IPV4_ROUTES", str(tmp_path / "route"))
        monkeypatch.setattr(routes, "IPV6_ROUTES", str(tmp_path / "missing"))
        with pytest.raises(
            CheckError,
            match=r"^no IPv4 or IPv6 default route in the main routing table \(target: auto\)$",
        ):
            routes.default_gateway()
