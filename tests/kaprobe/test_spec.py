"""The ``probes:`` section of kakit.yaml: one record per BFD session."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kakit.config import Config
from kakit.kaprobe.spec import ProbeSpec


class TestProbesSection:
    """probes: is a list of sessions, validated when the file is read."""

    def test_defaults(self, make_config: Callable[[str], Config]) -> None:
        """A session needs only peer and local: 50 ms x 3, values 0 / -254, no track file."""
        config = make_config("probes:\n  - {peer: 10.213.1.1, local: 10.213.1.2}\n")
        assert config.probes == (ProbeSpec(peer="10.213.1.1", local="10.213.1.2"),)
        spec = config.probes[0]
        assert (spec.interval_us, spec.multiplier, spec.up_value, spec.down_value) == (
            50_000,
            3,
            0,
            -254,
        )

    def test_every_option(self, make_config: Callable[[str], Config]) -> None:
        """Every option is read; the interval is a duration (seconds)."""
        config = make_config(
            "probes:\n"
            "  - peer: fd00::1\n"
            "    local: FD00::2\n"
            "    interval: 10ms\n"
            "    multiplier: 5\n"
            "    track_file: /run/kakit/track/uplink\n"
            "    up_value: 0\n"
            "    down_value: -100\n"
            "    passive: true\n"
        )
        assert config.probes == (
            ProbeSpec(
                peer="fd00::1",
                local="fd00::2",
                interval=0.01,
                multiplier=5,
                track_file="/run/kakit/track/uplink",
                down_value=-100,
                passive=True,
            ),
        )

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            ("  - {peer: gw.example, local: 10.213.1.2}\n", "an IPv4 or IPv6 address"),
            ("  - {peer: 10.213.1.1}\n", "'local'"),
            ("  - {peer: 10.213.1.1, local: fd00::2}\n", "same address family"),
            ("  - {peer: 10.213.1.1, local: 10.213.1.2, multiplier: 0}\n", "1 to 255"),
            ("  - {peer: 10.213.1.1, local: 10.213.1.2, interval: 90s}\n", "interval"),
            ("  - {peer: 10.213.1.1, local: 10.213.1.2, track_file: rel}\n", "absolute path"),
            ("  - {peer: 10.213.1.1, local: 10.213.1.2, intervall: 1s}\n", "did you mean"),
            (
                "  - {peer: 10.213.1.1, local: 10.213.1.2}\n"
                "  - {peer: 10.213.1.1, local: 10.213.1.2}\n",
                "repeated",
            ),
        ],
        ids=["host-name", "no-local", "mixed", "mult-0", "interval", "relative", "typo", "dup"],
    )
    def test_refused(self, config_refusal: Callable[[str], str], body: str, message: str) -> None:
        """A bad session is refused with file, line and what was expected."""
        assert message in config_refusal("probes:\n" + body)
