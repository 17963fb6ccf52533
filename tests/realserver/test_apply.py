"""`up`, `down` and `status` against a sysctl tree in a directory and an address table in memory.

The real kernel is exercised by tests/realserver/test_netns.py and tests/lab/test_realserver.py;
here every case a user can reach is checked fast, including values no fresh namespace has.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from kakit.core.netlink import Address
from kakit.exceptions import ConfigError, KakitError, StateError, UsageError
from kakit.realserver.apply import Kernel, Plan, State, down, state_path, status, up

VIP = "10.213.60.100"
VIP6 = "2001:db8::100"


class FakeKernel(Kernel):
    """Sysctl files under a directory; addresses in a list (``lo`` holds 127.0.0.1/8)."""

    def __init__(self, root: Path, interfaces: tuple[str, ...] = ("all", "lo", "eth0")) -> None:
        super().__init__(str(root))
        self.held = [Address(interface="lo", address="127.0.0.1", prefix=8)]
        self.changes: list[tuple[bool, str]] = []
        for interface in interfaces:
            directory = root / "net" / "ipv4" / "conf" / interface
            directory.mkdir(parents=True)
            for key in ("arp_ignore", "arp_announce"):
                (directory / key).write_text("0\n")

    def addresses(self) -> list[Address]:
        return list(self.held)

    def change(self, add: bool, address: str) -> None:
        self.changes.append((add, address))
        prefix = 128 if ":" in address else 32
        entry = Address(interface="lo", address=address, prefix=prefix)
        if add:
            self.held.append(entry)
        else:
            self.held.remove(entry)

    def value(self, interface: str, key: str) -> str:
        return Path(self.sysctl(interface, key)).read_text().strip()

    def set(self, interface: str, key: str, value: str) -> None:
        Path(self.sysctl(interface, key)).write_text(value + "\n")

    def snapshot(self) -> tuple[dict[str, str], list[Address]]:
        values = {
            f"{interface}.{key}": self.value(interface, key)
            for interface in ("all", "lo", "eth0")
            for key in ("arp_ignore", "arp_announce")
        }
        return values, sorted(self.held, key=repr)


@pytest.fixture(name="kernel")
def _kernel(tmp_path: Path) -> FakeKernel:
    return FakeKernel(tmp_path / "proc-sys")


@pytest.fixture(name="state_dir")
def _state_dir(tmp_path: Path) -> str:
    return str(tmp_path / "run")


class TestUp:
    """`up` sets ARP first, then holds the VIPs on lo, and can be run again safely."""

    def test_sets_sysctls_and_adds_vips(self, kernel: FakeKernel, state_dir: str) -> None:
        """Both keys on all and lo take 1 and 2, and each VIP is added to lo as a host address."""
        lines = up(Plan(vips=(VIP, VIP6)), state_dir, kernel)
        assert [
            kernel.value(i, k) for i in ("all", "lo") for k in ("arp_ignore", "arp_announce")
        ] == [
            "1",
            "2",
            "1",
            "2",
        ]
        assert kernel.value("eth0", "arp_ignore") == "0"
        assert Address(interface="lo", address=VIP, prefix=32) in kernel.held
        assert Address(interface="lo", address=VIP6, prefix=128) in kernel.held
        assert lines[0] == "net.ipv4.conf.all.arp_ignore: 0 -> 1"
        assert lines[-1] == f"{VIP6}/128 added to lo"

    def test_arp_is_quiet_before_the_vip_arrives(self, kernel: FakeKernel, state_dir: str) -> None:
        """When the VIP is added, arp_ignore is already 1 (else the node would answer for it)."""
        seen: list[str] = []
        original = kernel.change

        def change(add: bool, address: str) -> None:
            seen.append(kernel.value("all", "arp_ignore"))
            original(add, address)

        kernel.change = change  # type: ignore[method-assign]
        up(Plan(vips=(VIP,)), state_dir, kernel)
        assert seen == ["1"]

    def test_second_up_changes_nothing(self, kernel: FakeKernel, state_dir: str) -> None:
        """Run twice, the kernel, the state file and the reported lines show nothing new."""
        up(Plan(vips=(VIP,)), state_dir, kernel)
        before = kernel.snapshot()
        recorded = Path(state_path(state_dir)).read_bytes()
        lines = up(Plan(vips=(VIP,)), state_dir, kernel)
        assert kernel.snapshot() == before
        assert Path(state_path(state_dir)).read_bytes() == recorded
        assert kernel.changes == [(True, VIP)]
        assert all("already" in line for line in lines), lines

    def test_named_interfaces_replace_all_and_lo(self, kernel: FakeKernel, state_dir: str) -> None:
        """With interfaces named, only their keys change."""
        up(Plan(vips=(VIP,), interfaces=("eth0",)), state_dir, kernel)
        assert (kernel.value("eth0", "arp_ignore"), kernel.value("eth0", "arp_announce")) == (
            "1",
            "2",
        )
        assert (kernel.value("all", "arp_ignore"), kernel.value("lo", "arp_announce")) == ("0", "0")

    def test_vip_on_another_interface_changes_nothing(
        self, kernel: FakeKernel, state_dir: str
    ) -> None:
        """A VIP held on eth0 is refused before anything changes: ARP would answer for it there."""
        kernel.held.append(Address(interface="eth0", address=VIP, prefix=24))
        before = kernel.snapshot()
        with pytest.raises(KakitError) as caught:
            up(Plan(vips=(VIP,)), state_dir, kernel)
        assert str(caught.value) == (
            f"{VIP} is also on eth0: this node answers ARP for it there whatever the sysctls "
            "say: nothing changed"
        )
        assert kernel.snapshot() == before
        assert not os.path.exists(state_path(state_dir))

    def test_vip_on_lo_with_a_netmask_is_refused(self, kernel: FakeKernel, state_dir: str) -> None:
        """A VIP on lo as /24 is refused: the whole subnet would be local."""
        kernel.held.append(Address(interface="lo", address=VIP, prefix=24))
        with pytest.raises(KakitError, match=r"is on lo as /24, not /32"):
            up(Plan(vips=(VIP,)), state_dir, kernel)

    def test_missing_interface_is_a_usage_error(self, kernel: FakeKernel, state_dir: str) -> None:
        """An interface without ARP sysctls exits 2 and changes nothing."""
        before = kernel.snapshot()
        with pytest.raises(UsageError) as caught:
            up(Plan(vips=(VIP,), interfaces=("all", "eth9")), state_dir, kernel)
        assert caught.value.exit_code == 2
        assert str(caught.value).startswith("no interface 'eth9' (")
        assert kernel.snapshot() == before


class TestDown:
    """`down` restores exactly what `up` found and removes only what `up` added."""

    def test_restores_values_that_were_not_the_defaults(
        self, kernel: FakeKernel, state_dir: str
    ) -> None:
        """arp_ignore 3 and arp_announce 1 found before up are what down writes back."""
        kernel.set("all", "arp_ignore", "3")
        kernel.set("all", "arp_announce", "1")
        kernel.set("lo", "arp_announce", "2")
        before = kernel.snapshot()
        up(Plan(vips=(VIP,)), state_dir, kernel)
        up(Plan(vips=(VIP,)), state_dir, kernel)  # a second up must not record its own values
        lines = down((), state_dir, kernel)
        assert kernel.snapshot() == before
        assert "net.ipv4.conf.all.arp_ignore: 1 -> 3 (restored)" in lines
        assert "net.ipv4.conf.lo.arp_announce: already 2" in lines
        assert not os.path.exists(state_path(state_dir))

    def test_vip_that_was_there_before_stays(self, kernel: FakeKernel, state_dir: str) -> None:
        """A VIP already on lo before up is not removed by down."""
        kernel.held.append(Address(interface="lo", address=VIP, prefix=32))
        up(Plan(vips=(VIP, VIP6)), state_dir, kernel)
        lines = down((), state_dir, kernel)
        assert Address(interface="lo", address=VIP, prefix=32) in kernel.held
        assert not any(address == VIP6 for _lo, address, _p in map(_fields, kernel.held))
        assert f"{VIP}/32: was on lo before up, left there" in lines

    def test_sysctls_kept_while_a_vip_remains(self, kernel: FakeKernel, state_dir: str) -> None:
        """Downing one of two VIPs keeps ARP quiet for the other."""
        up(Plan(vips=(VIP, VIP6)), state_dir, kernel)
        lines = down((VIP,), state_dir, kernel)
        assert kernel.value("all", "arp_ignore") == "1"
        assert lines[-1] == f"ARP sysctls kept: {VIP6} still in place (down them to restore)"
        down((VIP6,), state_dir, kernel)
        assert kernel.value("all", "arp_ignore") == "0"

    def test_value_changed_since_up_is_left(self, kernel: FakeKernel, state_dir: str) -> None:
        """A key someone changed after up keeps their value, and down says so."""
        up(Plan(vips=(VIP,)), state_dir, kernel)
        kernel.set("lo", "arp_ignore", "2")
        lines = down((), state_dir, kernel)
        assert kernel.value("lo", "arp_ignore") == "2"
        assert "net.ipv4.conf.lo.arp_ignore: left at 2 (changed since up, which set 1)" in lines

    def test_unknown_vip_is_left_alone(self, kernel: FakeKernel, state_dir: str) -> None:
        """A VIP up never recorded stays on lo."""
        kernel.held.append(Address(interface="lo", address=VIP, prefix=32))
        lines = down((VIP,), state_dir, kernel)
        assert Address(interface="lo", address=VIP, prefix=32) in kernel.held
        assert lines == [f"{VIP}/32: not put in place by kakit realserver up, left alone"]

    def test_nothing_to_undo(self, kernel: FakeKernel, state_dir: str) -> None:
        """Without a record, down changes nothing and says so."""
        assert down((), state_dir, kernel) == ["nothing to undo (no record of kakit realserver up)"]


class TestStatus:
    """`status` names each thing that is not in place."""

    def test_all_in_place(self, kernel: FakeKernel, state_dir: str) -> None:
        """After up every finding is ok."""
        up(Plan(vips=(VIP,)), state_dir, kernel)
        assert all(finding.ok for finding in status(Plan(vips=(VIP,)), kernel))

    def test_lost_at_reboot(self, kernel: FakeKernel) -> None:
        """Fresh defaults and no VIP: each key and the VIP are reported."""
        found = [finding.text for finding in status(Plan(vips=(VIP,)), kernel) if not finding.ok]
        assert found == [
            "net.ipv4.conf.all.arp_ignore is 0, not 1",
            "net.ipv4.conf.all.arp_announce is 0, not 2",
            "net.ipv4.conf.lo.arp_ignore is 0, not 1",
            "net.ipv4.conf.lo.arp_announce is 0, not 2",
            f"{VIP} is not on lo",
        ]


class TestStateFile:
    """The record is root's alone: written 0600, and refused when anyone else could change it."""

    def test_written_private(self, kernel: FakeKernel, state_dir: str) -> None:
        """The state file is a regular file with mode 0600."""
        up(Plan(vips=(VIP,)), state_dir, kernel)
        info = os.lstat(state_path(state_dir))
        assert stat.S_ISREG(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o600

    @pytest.mark.skipif(os.geteuid() != 0, reason="ownership matters to root only")
    def test_not_roots_is_refused(self, kernel: FakeKernel, state_dir: str) -> None:
        """A state file owned by another user is never believed: down refuses, exit 2."""
        up(Plan(vips=(VIP,)), state_dir, kernel)
        os.chown(state_path(state_dir), 65534, 65534)
        with pytest.raises(ConfigError, match=r"refusing realserver state file .* not root"):
            down((), state_dir, kernel)
        assert kernel.value("all", "arp_ignore") == "1"

    @pytest.mark.skipif(os.geteuid() != 0, reason="ownership matters to root only")
    def test_writable_by_others_is_refused(self, kernel: FakeKernel, state_dir: str) -> None:
        """A state file others may write is refused too."""
        up(Plan(vips=(VIP,)), state_dir, kernel)
        os.chmod(state_path(state_dir), 0o666)
        with pytest.raises(ConfigError, match=r"writable by everyone"):
            up(Plan(vips=(VIP,)), state_dir, kernel)

    def test_symlink_is_not_followed(
        self, kernel: FakeKernel, state_dir: str, tmp_path: Path
    ) -> None:
        """A symlink in place of the state file is an error, never read through."""
        os.makedirs(state_dir)
        target = tmp_path / "elsewhere.json"
        target.write_text('{"sysctls": [], "vips": {}}')
        os.symlink(target, state_path(state_dir))
        with pytest.raises(StateError, match=r"cannot read .*realserver.json"):
            up(Plan(vips=(VIP,)), state_dir, kernel)

    @pytest.mark.parametrize(
        "text",
        [
            "not json",
            '{"sysctls": [{"interface": "../x", "key": "arp_ignore", "found": "0", "set": "1"}], "vips": {}}',
            '{"sysctls": [{"interface": "all", "key": "rp_filter", "found": "0", "set": "1"}], "vips": {}}',
            '{"sysctls": [], "vips": {"not-an-address": true}}',
            '{"sysctls": [], "vips": {"10.0.0.1": "yes"}}',
            '{"sysctls": [], "vips": {"2001:db8::1%eth0": true}}',
            "[" * 100_000,
            "[]",
        ],
    )
    def test_malformed_is_refused(self, kernel: FakeKernel, state_dir: str, text: str) -> None:
        """A state file kakit did not write is refused with its name and no change made."""
        os.makedirs(state_dir)
        Path(state_path(state_dir)).write_text(text)
        os.chmod(state_path(state_dir), 0o600)
        before = kernel.snapshot()
        with pytest.raises(StateError, match=r"realserver.json: not a realserver state file"):
            down((), state_dir, kernel)
        assert kernel.snapshot() == before

    def test_round_trip(self, kernel: FakeKernel, state_dir: str) -> None:
        """What up records reads back as the values found and the VIPs added."""
        kernel.set("all", "arp_announce", "1")
        up(Plan(vips=(VIP,)), state_dir, kernel)
        state = State.load(state_path(state_dir))
        assert state.sysctls[("all", "arp_announce")] == ("1", "2")
        assert state.vips == {VIP: True}


def _fields(item: Address) -> tuple[str, str, int]:
    return item.interface, item.address, item.prefix
