"""``realserver``: an LVS-DR real server's VIPs are on ``lo`` and its ARP sysctls are set.

What ``kakit realserver up`` puts in place is lost at a reboot that did not run it (the unit
disabled, a host rebuilt by hand): the director keeps sending, and the real server drops every
packet for a VIP it no longer holds, or answers ARP for it and takes the service from the
director. The check reads the kernel only (netlink and ``/proc/sys``), never changes it.
"""

from __future__ import annotations

from kakit.checks.base import Check, CheckResult, RunContext
from kakit.core.record import frozen, option
from kakit.realserver import optional_interfaces, optional_vips

TYPE_CHECKING = False
if TYPE_CHECKING:
    from kakit.checks.spec import CheckSpec
    from kakit.realserver import RealserverSettings


@frozen
class RealserverOptions:
    """Settings of a realserver check; each one missing is taken from the ``realserver``
    section of kakit.yaml.

    Attributes:
        vips: The VIPs that must be on ``lo`` as host addresses.
        interfaces: Where ``arp_ignore=1`` and ``arp_announce=2`` must be set (``all`` and
            ``lo`` when neither the check nor the section names any).
    """

    vips: tuple[str, ...] | None = option(optional_vips, default=None)
    interfaces: tuple[str, ...] | None = option(optional_interfaces, default=None)


class RealserverCheck(Check[RealserverOptions]):
    """Fails while a VIP is missing from ``lo`` (or held elsewhere) or an ARP sysctl differs."""

    type_name = "realserver"

    def run(self, ctx: RunContext) -> CheckResult:
        """Read the addresses and the sysctls once."""
        from kakit.exceptions import CheckError, KakitError
        from kakit.realserver import DEFAULT_INTERFACES
        from kakit.realserver.apply import Kernel, Plan, status

        vips = self.options.vips or ()
        plan = Plan(vips=vips, interfaces=self.options.interfaces or DEFAULT_INTERFACES)
        try:
            findings = status(plan, Kernel())
        except KakitError as exc:
            raise CheckError(str(exc)) from exc
        wrong = [finding.text for finding in findings if not finding.ok]
        if wrong:
            return CheckResult(ok=False, summary="; ".join(wrong))
        return CheckResult(
            ok=True,
            summary=f"{', '.join(vips)} on lo; ARP sysctls set on {', '.join(plan.interfaces)}",
        )

    def describe(self) -> str:
        """``realserver 10.0.0.100``."""
        return f"realserver {' '.join(self.options.vips or ())}".rstrip()


def with_section(spec: CheckSpec, section: RealserverSettings | None) -> CheckSpec:
    """``spec`` with its realserver probes' missing settings taken from the section.

    Raises:
        ConfigError: A realserver probe names no VIPs and there is no section to take them
            from.
    """
    from kakit.checks.spec import ProbeSpec
    from kakit.core.record import replace
    from kakit.exceptions import ConfigError

    probes = []
    for probe in spec.probes:
        options = probe.options
        if probe.type == "realserver" and (options.vips is None or options.interfaces is None):
            if options.vips is None and section is None:
                raise ConfigError(
                    f"{spec.origin}: checks.{spec.name}: a realserver check needs its VIPs: "
                    "list them in its 'vips' or in the 'realserver' section"
                )
            if section is not None:
                options = RealserverOptions(
                    vips=options.vips or section.vips,
                    interfaces=options.interfaces or section.interfaces,
                )
            probe = ProbeSpec(type=probe.type, options=options)
        probes.append(probe)
    return replace(spec, probes=tuple(probes))
