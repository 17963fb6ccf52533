"""The sysctl hook, applied for real inside a fresh network namespace per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from kakit.core.events import StateEvent
from kakit.exceptions import HookError
from kakit.hooks.base import HookOutcome, StateChange
from kakit.hooks.spec import HookSettings
from kakit.hooks.sysctl import SysctlHook, SysctlOptions
from tests.conftest import Namespace
from tests.hooks.sections import refusal

SYSCTL = (
    "a sysctl name of dot-separated words of letters, digits, _ and -, "
    "such as net.ipv4.ip_nonlocal_bind"
)

# (kakit.yaml text, exact ConfigError message)
OPTION_ERRORS = [
    pytest.param(
        "states:\n  MASTER:\n    sysctl: {net.ipv4..ip_forward: 1}\n",
        f"kakit.yaml:3: states.MASTER.sysctl.net.ipv4..ip_forward: expected {SYSCTL} (not 'net.ipv4..ip_forward')",
        id="sysctl-double-dot",
    ),
    pytest.param(
        "states:\n  MASTER:\n    sysctl: {net/ipv4/ip_forward: 1}\n",
        f"kakit.yaml:3: states.MASTER.sysctl.net/ipv4/ip_forward: expected {SYSCTL} (not 'net/ipv4/ip_forward')",
        id="sysctl-slash",
    ),
    pytest.param(
        "states:\n  MASTER:\n    sysctl: {kernel: 1}\n",
        f"kakit.yaml:3: states.MASTER.sysctl.kernel: expected {SYSCTL} (not 'kernel')",
        id="sysctl-one-word",
    ),
    pytest.param(
        "states:\n  MASTER:\n    sysctl: {net.ipv4.ip_forward: true}\n",
        "kakit.yaml:3: states.MASTER.sysctl.net.ipv4.ip_forward: expected an integer or a non-empty string, got True",
        id="sysctl-boolean",
    ),
]

MASTER = """\
    states:
      MASTER:
        sysctl: {net.ipv4.conf.all.arp_ignore: 1, net.ipv4.conf.all.arp_announce: 2, net.ipv4.ip_nonlocal_bind: 1}
      BACKUP:
        sysctl: {net.ipv4.conf.all.arp_ignore: 0, net.ipv4.conf.all.arp_announce: 0, net.ipv4.ip_nonlocal_bind: 0}
    """


def host_value(name: str) -> str:
    """A sysctl as the test process (the host's namespace) sees it."""
    return Path("/proc/sys", *name.split(".")).read_text().strip()


@pytest.mark.lab
class TestSysctlDrift:
    """What the FIFO reader's reconcile sees of sysctl values changed behind kakit's back."""

    def test_changed_value_is_drift(self, ns: Namespace) -> None:
        """A value someone reset is named with what it is and what the state wants."""
        ns.apply(MASTER, "MASTER")
        assert ns.drift(MASTER, "MASTER") == []
        ns.run("sh", "-c", "echo 0 > /proc/sys/net/ipv4/ip_nonlocal_bind")
        assert ns.drift(MASTER, "MASTER") == ["sysctl: net.ipv4.ip_nonlocal_bind is 0, not 1"]
        ns.apply(MASTER, "MASTER")
        assert ns.drift(MASTER, "MASTER") == []


@pytest.mark.lab
class TestSysctlHook:
    """`SysctlHook` writes /proc/sys of the namespace it runs in, verifies and reports."""

    def test_values_set_in_namespace(self, ns: Namespace) -> None:
        """Entering MASTER sets every value inside the namespace and the host keeps its own."""
        host_before = host_value("net.ipv4.ip_nonlocal_bind")
        outcomes = ns.apply(MASTER, "MASTER")
        assert outcomes == [
            {
                "hook": "sysctl",
                "summary": "sysctl: 3 set (net.ipv4.conf.all.arp_ignore=1, "
                "net.ipv4.conf.all.arp_announce=2, net.ipv4.ip_nonlocal_bind=1)",
                "ok": True,
            }
        ]
        assert ns.sysctl("net.ipv4.conf.all.arp_ignore") == "1"
        assert ns.sysctl("net.ipv4.conf.all.arp_announce") == "2"
        assert ns.sysctl("net.ipv4.ip_nonlocal_bind") == "1"
        assert host_value("net.ipv4.ip_nonlocal_bind") == host_before

    def test_repeat_is_already_set(self, ns: Namespace) -> None:
        """Applying the same state again writes nothing and reports the values as already set."""
        ns.apply(MASTER, "MASTER")
        assert ns.apply(MASTER, "MASTER") == [
            {"hook": "sysctl", "summary": "sysctl: 3 already set", "ok": True}
        ]

    def test_switch_state(self, ns: Namespace) -> None:
        """Going MASTER then BACKUP leaves BACKUP's values, counting only the changed ones as set."""
        ns.apply(MASTER, "MASTER")
        ns.run("sh", "-c", "echo 0 > /proc/sys/net/ipv4/conf/all/arp_announce")
        outcomes = ns.apply(MASTER, "BACKUP", previous="MASTER")
        assert outcomes[0]["summary"] == (
            "sysctl: 2 set (net.ipv4.conf.all.arp_ignore=0, net.ipv4.ip_nonlocal_bind=0), "
            "1 already set"
        )
        assert ns.sysctl("net.ipv4.conf.all.arp_ignore") == "0"
        assert ns.sysctl("net.ipv4.ip_nonlocal_bind") == "0"

    def test_multi_value_whitespace(self, ns: Namespace) -> None:
        """A multi-value key is verified with whitespace normalized (the kernel prints a tab)."""
        config = 'states: {MASTER: {sysctl: {net.ipv4.ip_local_port_range: "40000  50000"}}}'
        assert ns.apply(config, "MASTER")[0]["summary"] == (
            "sysctl: 1 set (net.ipv4.ip_local_port_range=40000  50000)"
        )
        assert ns.sysctl("net.ipv4.ip_local_port_range") == "40000\t50000"
        assert ns.apply(config, "MASTER")[0]["summary"] == "sysctl: 1 already set"

    def test_missing_key_fails_and_others_still_set(self, ns: Namespace) -> None:
        """A key that does not exist fails the hook, naming key and value; the other keys are set."""
        config = (
            "states: {MASTER: {sysctl: {net.ipv4.conf.nope0.arp_ignore: 1, "
            "net.ipv4.ip_nonlocal_bind: 1}}}"
        )
        assert ns.apply(config, "MASTER") == [
            {
                "hook": "sysctl",
                "summary": "sysctl: failed net.ipv4.conf.nope0.arp_ignore=1: no such key "
                "(/proc/sys/net/ipv4/conf/nope0/arp_ignore does not exist); "
                "1 set (net.ipv4.ip_nonlocal_bind=1)",
                "ok": False,
            }
        ]
        assert ns.sysctl("net.ipv4.ip_nonlocal_bind") == "1"

    def test_refused_value(self, ns: Namespace) -> None:
        """A value the kernel refuses (EINVAL) fails the hook with key and value."""
        config = 'states: {MASTER: {sysctl: {net.ipv4.ip_local_port_range: "50000 40000"}}}'
        assert ns.apply(config, "MASTER")[0] == {
            "hook": "sysctl",
            "summary": "sysctl: failed net.ipv4.ip_local_port_range=50000 40000: "
            "the kernel refused the value (EINVAL)",
            "ok": False,
        }

    def test_read_only_key(self, ns: Namespace) -> None:
        """A read-only key (EACCES even for root) fails the hook instead of being skipped."""
        config = "states: {MASTER: {sysctl: {kernel.ostype: Plan9}}}"
        assert ns.apply(config, "MASTER")[0] == {
            "hook": "sysctl",
            "summary": "sysctl: failed kernel.ostype=Plan9: "
            "permission denied writing /proc/sys/kernel/ostype",
            "ok": False,
        }

    def test_read_back_mismatch(self, ns: Namespace) -> None:
        """A value the kernel accepts but stores differently fails the read-back check."""
        config = 'states: {MASTER: {sysctl: {net.ipv4.ip_nonlocal_bind: "1 2"}}}'
        assert ns.apply(config, "MASTER")[0] == {
            "hook": "sysctl",
            "summary": "sysctl: failed net.ipv4.ip_nonlocal_bind=1 2: read back '1' after writing",
            "ok": False,
        }


class TestSysctlHookTree:
    """`SysctlHook` against a directory standing in for /proc/sys (no root needed)."""

    def test_root_directory(self, tmp_path: Path) -> None:
        """Dotted names map to files below ``root``, written with a trailing newline."""
        (tmp_path / "net" / "ipv4").mkdir(parents=True)
        (tmp_path / "net" / "ipv4" / "ip_forward").write_text("0\n")
        change = StateChange(event=StateEvent(kind="INSTANCE", name="VI_1", state="MASTER"))
        hook = SysctlHook(
            SysctlOptions(sysctl={"net.ipv4.ip_forward": "1"}), HookSettings(), root=str(tmp_path)
        )
        assert hook(change) == HookOutcome(
            hook="sysctl", summary="sysctl: 1 set (net.ipv4.ip_forward=1)"
        )
        assert (tmp_path / "net" / "ipv4" / "ip_forward").read_text() == "1\n"

    def test_missing_file_not_created(self, tmp_path: Path) -> None:
        """A missing key raises HookError and no file is created for it."""
        change = StateChange(event=StateEvent(kind="INSTANCE", name="VI_1", state="MASTER"))
        hook = SysctlHook(
            SysctlOptions(sysctl={"net.ipv4.ip_forward": "1"}), HookSettings(), root=str(tmp_path)
        )
        with pytest.raises(HookError, match=r"net\.ipv4\.ip_forward=1: no such key"):
            hook(change)
        assert list(tmp_path.iterdir()) == []


class TestSysctlOptions:
    """`SysctlOptions`: only names below /proc/sys and values the kernel reads."""

    @pytest.mark.parametrize(("body", "message"), OPTION_ERRORS)
    def test_message(self, body: str, message: str) -> None:
        """Each invalid ``sysctl`` value is refused at load time with exactly this message."""
        assert refusal(body) == message
