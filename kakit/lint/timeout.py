"""A ``vrrp_script`` running ``kacheck NAME`` with a timeout below the check's deadline."""

from __future__ import annotations

from kakit.keepalived.conf import kacheck_target
from kakit.lint.base import Finding, Rule

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import ClassVar

    from kakit.lint.base import Context


class TimeoutRule(Rule):
    """keepalived kills a script at its timeout: kacheck must finish before, within its deadline."""

    codes: ClassVar[dict[str, str]] = {
        "script-timeout": "a vrrp_script timeout shorter than the kacheck deadline it runs",
        "kacheck-unknown": "a vrrp_script running a kacheck check kakit.yaml does not define",
    }

    def check(self, context: Context) -> Iterator[Finding]:
        """Findings for every vrrp_script that runs ``kacheck NAME`` (needs kakit.yaml)."""
        config = context.config
        if config is None:
            return
        from kakit.checks.spec import check_spec

        for script in context.node.scripts.values():
            target = kacheck_target(script.argv)
            if target is None or "--watch" in script.argv:
                continue
            spec = config.checks.get(target) or check_spec(target)
            if spec is None:
                yield self.at(
                    script.argv_item,
                    "error",
                    "kacheck-unknown",
                    f"vrrp_script {script.name} runs kacheck {target}, which "
                    f"{config.source or 'kakit.yaml'} does not define: it exits 2, a failure",
                    f"define checks.{target} in kakit.yaml, or correct the name",
                )
                continue
            if spec.deadline is None or script.timeout is None:
                continue
            if script.timeout < spec.deadline:
                default = (
                    "" if script.item.children("timeout") else " (the interval: no timeout set)"
                )
                yield self.at(
                    script.item.children("timeout")[0]
                    if script.item.children("timeout")
                    else script.item,
                    "warning",
                    "script-timeout",
                    f"vrrp_script {script.name}: timeout {script.timeout} s{default} is shorter "
                    f"than check {target}'s deadline {spec.deadline:g} s: keepalived kills a "
                    "slow run as a failure before kacheck can decide (or restart)",
                    f"set timeout to at least {int(-(-spec.deadline // 1))} (and interval to "
                    f"at least the timeout), or lower checks.{target}.deadline",
                )
