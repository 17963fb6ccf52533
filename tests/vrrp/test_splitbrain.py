"""Split-brain detection: which addresses are probed, who is named, when a split starts and ends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kakit.checks.base import RunContext
from kakit.checks.splitbrain import SplitBrainCheck, SplitBrainOptions
from kakit.kacheck.state import CheckState
from kakit.vrrp import splitbrain
from kakit.vrrp.probe import ProbeResult
from kakit.vrrp.splitbrain import Detection, Duplicate, SplitBrainProbe, Tracker, detect

OURS = "02:00:00:00:00:01"
THEIRS = "02:00:00:00:00:02"
VIP = "10.0.0.100"
VIP6 = "fd13:213::100"


class FakeProbe:
    """Answers as configured and records what was probed."""

    def __init__(self, answers: dict[str, tuple[str, ...]]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, list[str]]] = []

    def __call__(self, interface: str, targets: list[str], **_: Any) -> ProbeResult:
        self.calls.append((interface, targets))
        return ProbeResult(OURS, {t: self.answers.get(t, ()) for t in targets})


def held(*vips: str) -> Any:
    return lambda: {"10.0.0.1": "eth0", **dict.fromkeys(vips, "eth0")}


class TestDetect:
    """One round of probes."""

    def test_not_holding_probes_nothing(self) -> None:
        """A backup (VIP not here) sends no ARP at all."""
        probe = FakeProbe({})
        found = detect(SplitBrainProbe(vips=(VIP,)), addresses=held(), prober=probe)
        assert found.held == {} and found.duplicates == [] and probe.calls == []

    def test_another_holder_is_named_through_its_peer_address(self) -> None:
        """The peer answers for the VIP and for its own address: named in the finding."""
        probe = FakeProbe({VIP: (THEIRS,), "10.0.0.2": (THEIRS,)})
        settings = SplitBrainProbe(vips=(VIP,), peers={"n2": "10.0.0.2"})
        found = detect(settings, addresses=held(VIP), prober=probe)
        assert probe.calls == [("eth0", [VIP, "10.0.0.2"])]
        (duplicate,) = found.duplicates
        assert duplicate.describe("n1") == (
            f"{VIP} on eth0: also answered by {THEIRS} (n2); this node n1 is {OURS}"
        )

    def test_vips_from_keepalived_conf(self, tmp_path: Path) -> None:
        """Without ``vips``, every virtual address of keepalived.conf is watched, IPv4 and
        IPv6, written as the kernel writes them."""
        conf = tmp_path / "keepalived.conf"
        conf.write_text(
            "vrrp_instance VI_1 {\n virtual_ipaddress {\n  10.0.0.100/24 dev eth0\n"
            "  FD13:213:0::0100/64\n }\n}\n"
        )
        settings = SplitBrainProbe(keepalived_config=str(conf))
        assert splitbrain.watched(settings) == [VIP, VIP6]

    def test_mixed_families_in_one_round(self) -> None:
        """An IPv4 and an IPv6 VIP on one interface are probed together; either may be split."""
        probe = FakeProbe({VIP6: (THEIRS,), "10.0.0.2": (THEIRS,)})
        settings = SplitBrainProbe(vips=(VIP, VIP6), peers={"n2": "10.0.0.2"})
        found = detect(settings, addresses=held(VIP, VIP6), prober=probe)
        assert probe.calls == [("eth0", [VIP, VIP6, "10.0.0.2"])]
        (duplicate,) = found.duplicates
        assert duplicate.describe("n1") == (
            f"{VIP6} on eth0: also answered by {THEIRS} (n2); this node n1 is {OURS}"
        )

    def test_ipv6_peer_addresses_are_not_probed(self) -> None:
        """A peer's IPv6 address gets no DAD probe (it could make the peer's own DAD fail)."""
        probe = FakeProbe({VIP6: (THEIRS,)})
        settings = SplitBrainProbe(vips=(VIP6,), peers={"n2": "fd13:213::2"})
        found = detect(settings, addresses=held(VIP6), prober=probe)
        assert probe.calls == [("eth0", [VIP6])]
        assert found.duplicates[0].their_macs == (THEIRS,)

    def test_own_other_interface_is_not_another_holder(self, monkeypatch: Any) -> None:
        """This host answering on a second interface of the same segment is no split."""
        monkeypatch.setattr(splitbrain, "own_macs", lambda: {OURS, "02:00:00:00:00:03"})
        probe = FakeProbe({VIP: ("02:00:00:00:00:03",)})
        found = detect(SplitBrainProbe(vips=(VIP,)), addresses=held(VIP), prober=probe)
        assert found.held == {VIP: "eth0"} and found.duplicates == []

    def test_unreadable_keepalived_conf_is_said(self, tmp_path: Path) -> None:
        """Without ``vips``, a keepalived.conf that cannot be read is an error, not a node that
        watches nothing and looks healthy forever."""
        from kakit.exceptions import CheckError

        settings = SplitBrainProbe(keepalived_config=str(tmp_path / "missing.conf"))
        with pytest.raises(CheckError, match=r"keepalived's configuration unreadable: .*missing"):
            splitbrain.watched(settings)


def round_with(duplicate: bool, holding: bool = True) -> Detection:
    found = [Duplicate(VIP, "eth0", OURS, (THEIRS,), ("n2",))] if duplicate else []
    return Detection({VIP: "eth0"} if holding else {}, found)


class TestTracker:
    """Rounds become one start and one end event."""

    def test_start_once_and_end_after_quiet_rounds(self) -> None:
        """The first answer starts it; a single quiet round does not end it; three do."""
        tracker = Tracker({}, clear_after=3)
        assert tracker.update(round_with(True), "n1")[0] == ["split_brain"]
        assert tracker.update(round_with(True), "n1")[0] == []
        assert tracker.update(round_with(False), "n1")[0] == []
        assert tracker.update(round_with(True), "n1")[0] == []  # a lost reply: still split
        for _ in range(2):
            assert tracker.update(round_with(False), "n1")[0] == []
        events, cause = tracker.update(round_with(False), "n1")
        assert events == ["split_brain_over"] and "still held, no other answer" in cause

    def test_losing_the_address_ends_it_at_once(self) -> None:
        """The node gave the VIP up (it stepped down or lost the election): over."""
        tracker = Tracker({}, clear_after=3)
        tracker.update(round_with(True), "n1")
        events, cause = tracker.update(round_with(False, holding=False), "n1")
        assert events == ["split_brain_over"] and "no longer held here" in cause


class TestCheck:
    """The ``split-brain`` check type: alert by default, fail only with step-down."""

    @pytest.mark.parametrize(
        ("action", "hold_down", "ok_split", "ok_after"),
        [("alert", 60, True, True), ("step-down", 60, False, False), ("step-down", 0, False, True)],
    )
    def test_verdict(
        self,
        action: str,
        hold_down: float,
        ok_split: bool,
        ok_after: bool,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """A split is alerted once; ``step-down`` fails through it and its hold-down only."""
        rounds = iter([round_with(True), round_with(True), round_with(False, holding=False)])
        monkeypatch.setattr(splitbrain, "detect", lambda *a, **k: next(rounds))
        options = SplitBrainOptions(vips=(VIP,), on_split_brain=action, hold_down=hold_down)
        check = SplitBrainCheck(options)
        state = CheckState(str(tmp_path / "state.json"))
        ctx = RunContext("sb", state, None)
        monkeypatch.setattr(RunContext, "node", "n1")
        first, second, third = (check.run(ctx) for _ in range(3))
        assert first.events == ("split_brain",) and first.ok is ok_split
        assert f"also answered by {THEIRS} (n2); this node n1" in first.summary
        assert second.events == () and second.ok is ok_split
        assert third.events == ("split_brain_over",) and third.ok is ok_after


class TestConfiguration:
    """Where split-brain detection is configured, and what is refused."""

    def test_check_and_reader_task(self, write_config: Any) -> None:
        """A ``split-brain`` check and the reader's ``fifo.split_brain`` read their settings."""
        from kakit.config import load_config

        path = write_config(
            "checks:\n"
            "  sb: {type: split-brain, vips: [10.0.0.100], on_split_brain: step-down}\n"
            "fifo: {split_brain: {interval: 1, peers: {n2: 10.0.0.2}}}\n"
        )
        config = load_config(str(path), cache=False)
        options = config.check("sb").probes[0].options
        assert options.on_split_brain == "step-down" and options.vips == (VIP,)
        assert config.fifo.split_brain is not None
        assert config.fifo.split_brain.peers == {"n2": "10.0.0.2"}
        assert config.fifo.split_brain.interval == 1

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            (
                "checks:\n  sb: {type: split-brain, on_split_brain: fence}\n",
                "checks.sb.on_split_brain",
            ),
            ("fifo: {split_brain: {peers: {n2: somehost}}}\n", "fifo.split_brain.peers.n2"),
        ],
    )
    def test_refused(self, write_config: Any, text: str, message: str) -> None:
        """A bad action or a peer that is no address is refused, naming the key."""
        from kakit.config import load_config
        from kakit.exceptions import ConfigError

        with pytest.raises(ConfigError, match=message):
            load_config(str(write_config(text)), cache=False)


class TestHeadline:
    """Which event an alert covering several is about."""

    def test_latest_split_event_wins(self) -> None:
        """A split that ended inside the coalescing window is reported as over."""
        from kakit.core.events import headline

        assert headline(["split_brain", "split_brain_over"]) == "split_brain_over"
        assert headline(["restart", "give_up", "restart_failed"]) == "give_up"
