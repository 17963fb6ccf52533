"""The node's addresses from the kernel, as the probe round sees them."""

from __future__ import annotations

from kakit.vrrp.probe import local_addresses, normal


class TestAddresses:
    """The node's IPv4 and IPv6 addresses, over rtnetlink."""

    def test_loopback(self) -> None:
        """127.0.0.1 and ::1 are listed, on lo."""
        found = local_addresses()
        assert found.get("127.0.0.1") == "lo"
        assert found.get("::1") == "lo"

    def test_normal_form(self) -> None:
        """An address is compared as the kernel writes it; a non-address is left as it is."""
        assert normal("FD13:213:0::0100") == "fd13:213::100"
        assert normal("10.0.0.1") == "10.0.0.1"
        assert normal("10.0.0.1-5") == "10.0.0.1-5"
