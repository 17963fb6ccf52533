"""`hooks_for_state` and `apply_hooks`: which hooks run, in which order, and failure isolation."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from kakit.config import Config
from kakit.core.events import StateEvent
from kakit.exceptions import ConfigError, HookError
from kakit.hooks import build_plan
from kakit.hooks.base import HookOutcome, StateChange
from kakit.hooks.firewall import FirewallHook
from kakit.hooks.run import RunHook
from kakit.hooks.runner import HookPlan, apply_hooks, hook_name, hooks_for_state
from kakit.hooks.spec import HookSettings
from kakit.hooks.sysctl import SysctlHook
from tests.conftest import Namespace
from tests.hooks.sections import sections

CHANGE = StateChange(event=StateEvent(kind="INSTANCE", name="VI_1", state="MASTER"))


class TestHooksForState:
    """`hooks_for_state` builds a state's hooks without running anything."""

    def test_order(self) -> None:
        """A state with all three sections gets sysctl, firewall, run, in that order."""
        states, settings = sections(
            """\
            states:
              MASTER:
                run: [[/bin/true]]
                firewall: {accept: [vrrp]}
                sysctl: {net.ipv4.ip_nonlocal_bind: 1}
            hooks: {run_timeout: 2s}
            """
        )
        hooks = hooks_for_state(states["MASTER"], settings)
        assert [type(hook) for hook in hooks] == [SysctlHook, FirewallHook, RunHook]
        assert [hook_name(hook) for hook in hooks] == ["sysctl", "firewall", "run"]
        run = hooks[2]
        assert isinstance(run, RunHook)
        assert run.timeout == 2.0

    def test_firewall_hook_for_every_state(self) -> None:
        """Once any state has firewall rules, states without a section still get a firewall hook."""
        states, settings = sections(
            "states: {MASTER: {firewall: {accept: [vrrp]}}, BACKUP: {sysctl: {net.ipv4.ip_nonlocal_bind: 0}}}"
        )
        assert [type(hook) for hook in hooks_for_state(states["BACKUP"], settings)] == [
            SysctlHook,
            FirewallHook,
        ]
        assert [type(hook) for hook in hooks_for_state(states["STOP"], settings)] == [FirewallHook]

    def test_nothing_configured(self) -> None:
        """A state without sections gets no hooks at all."""
        assert hooks_for_state({}, HookSettings()) == []

    def test_invalid_combination(self) -> None:
        """An IPv6 rule with the iptables back end is reported when the hooks are built."""
        states, settings = sections("states: {MASTER: {firewall: {accept: [{source: 'fd00::2'}]}}}")
        with pytest.raises(ConfigError, match="iptables back end does not handle"):
            hooks_for_state(states["MASTER"], settings)


class TestApplyHooks:
    """`apply_hooks` runs every hook and isolates failures."""

    def test_failure_recorded_and_next_hook_runs(self) -> None:
        """A hook raising HookError gives an ok=False outcome and the following hooks still run."""
        calls: list[str] = []

        def broken(change: StateChange) -> HookOutcome:
            calls.append("broken")
            raise HookError("broken: it broke")

        def fine(change: StateChange) -> HookOutcome:
            calls.append(f"fine {change.event.state}")
            return HookOutcome(hook="fine", summary="fine: done")

        assert apply_hooks(CHANGE, [broken, fine]) == [
            HookOutcome(hook="broken", summary="broken: it broke", ok=False),
            HookOutcome(hook="fine", summary="fine: done"),
        ]
        assert calls == ["broken", "fine MASTER"]

    def test_no_hooks(self) -> None:
        """No hooks, no outcomes."""
        assert apply_hooks(CHANGE, []) == []


class TestBuildPlan:
    """`build_plan` turns a loaded configuration into the hooks of every state."""

    def test_plan(self, make_config: Callable[[str], Config]) -> None:
        """Configured states get their hooks; with firewall rules every state gets a firewall hook."""
        config = make_config(
            """\
            states:
              MASTER: {sysctl: {net.ipv4.ip_nonlocal_bind: 1}, firewall: {accept: [vrrp]}}
            hooks: {firewall: nftables, chain: KA_LB}
            """
        )
        plan = build_plan(config)
        assert isinstance(plan, HookPlan)
        assert plan.settings == HookSettings(firewall="nftables", chain="KA_LB")
        assert [hook_name(hook) for hook in plan.hooks_for("MASTER")] == ["sysctl", "firewall"]
        assert [hook_name(hook) for hook in plan.hooks_for("BACKUP")] == ["firewall"]

    def test_no_states(self, make_config: Callable[[str], Config]) -> None:
        """Without a ``states`` section there is no plan."""
        assert build_plan(make_config("node: lb1\n")) is None

    def test_located_error(self, make_config: Callable[[str], Config], tmp_path: Path) -> None:
        """An invalid value is reported at load time with the file, line and key path."""
        with pytest.raises(ConfigError) as caught:
            make_config("states:\n  MASTER:\n    firewall: {accept: [{port: 80}]}\n")
        assert str(caught.value) == (
            f"{tmp_path}/kakit.yaml:6: states.MASTER.firewall.accept[0]: "
            "expected protocol tcp or udp with a port"
        )


@pytest.mark.lab
@pytest.mark.skipif(not shutil.which("iptables-restore"), reason="needs iptables")
class TestApplyInNamespace:
    """All three hooks together, as kanotify applies them inside a namespace."""

    def test_failing_sysctl_does_not_stop_firewall_and_run(
        self, ns: Namespace, tmp_path: Path
    ) -> None:
        """A failing sysctl is reported, and the firewall and run hooks after it still apply."""
        out = tmp_path / "state"
        config = f"""\
            states:
              MASTER:
                sysctl: {{net.ipv4.conf.nope0.arp_ignore: 1}}
                firewall: {{accept: [vrrp]}}
                run: [[{sys.executable}, -c, "import os, sys; open(sys.argv[1], 'w').write(os.environ['KAKIT_STATE'])", {out}]]
            """
        outcomes = ns.apply(config, "MASTER", previous="BACKUP")
        assert [(o["hook"], o["ok"]) for o in outcomes] == [
            ("sysctl", False),
            ("firewall", True),
            ("run", True),
        ]
        assert "net.ipv4.conf.nope0.arp_ignore=1" in outcomes[0]["summary"]
        assert (
            '-A KAKIT -p vrrp -m comment --comment "kakit:MASTER" -j ACCEPT' in ns.iptables_rules()
        )
        assert out.read_text() == "MASTER"

    def test_failing_run_reported_after_others_applied(self, ns: Namespace) -> None:
        """A failing run command is the last outcome, with sysctl and firewall already applied."""
        config = """\
            states:
              MASTER:
                sysctl: {net.ipv4.ip_nonlocal_bind: 1}
                firewall: {accept: [vrrp]}
                run: [[/bin/sh, -c, "echo no database >&2; exit 7"]]
            """
        outcomes = ns.apply(config, "MASTER")
        assert outcomes[-1] == {
            "hook": "run",
            "summary": "run: `/bin/sh -c echo no database >&2; exit 7` exited 7: no database",
            "ok": False,
        }
        assert [o["ok"] for o in outcomes[:2]] == [True, True]
        assert ns.sysctl("net.ipv4.ip_nonlocal_bind") == "1"
