"""``nopreempt`` that cannot work: it needs ``state BACKUP``."""

from __future__ import annotations

from kakit.lint.base import Finding, Rule

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import ClassVar

    from kakit.lint.base import Context


class PreemptRule(Rule):
    """keepalived clears nopreempt on an instance that starts as MASTER."""

    codes: ClassVar[dict[str, str]] = {
        "nopreempt-state": "nopreempt on an instance that starts as MASTER (keepalived clears it)"
    }

    def check(self, context: Context) -> Iterator[Finding]:
        """One finding per instance with nopreempt and a state other than BACKUP."""
        for instance in context.node.instances:
            item = instance.first("nopreempt")
            # Without `state`, keepalived starts a non-owner as BACKUP: nopreempt works.
            if item is None or instance.state == "BACKUP":
                continue
            if not instance.state and instance.priority != 255:
                continue
            if instance.state == "MASTER":
                why = "keepalived clears nopreempt on an instance in state MASTER"
            elif instance.priority == 255:
                why = "an address owner (priority 255) starts as MASTER and always preempts"
            else:
                why = f"state {instance.state} is not BACKUP"
            yield self.at(
                item,
                "warning",
                "nopreempt-state",
                f"{instance.name}: {why}; the node takes the VIP back when it returns",
                "write `state BACKUP` on both nodes (and a priority below 255)",
            )
