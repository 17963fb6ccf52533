"""``split-brain``: another host answers ARP or ND for a virtual address this node holds.

The detection is :mod:`kakit.vrrp.splitbrain`'s; this check runs one round per run and keeps
the split's memory in the check's state, so that ``split_brain`` is alerted once when a split
starts and ``split_brain_over`` once when it ends, whether kacheck runs under keepalived or in
watch mode.

Acting is opt-in. With ``on_split_brain: alert`` (the default) the check stays healthy and only
alerts: both nodes of a split see the other's answers at the same moment, and if both stepped
down at once neither would hold the address, the outage the split had not caused yet (docs/pair.md,
"Split brain"). ``step-down`` fails the check while the split lasts and for ``hold_down``
seconds after it was last seen, for the node that should give way (give it alone this
setting). The hold-down matters: once the node has let the address go it can no longer see the
split, and without it the node would be back as MASTER three adverts later, into the same split.
"""

from __future__ import annotations

import time

from kakit.checks.base import Check, CheckResult, RunContext
from kakit.core.converters import choice, duration
from kakit.core.record import frozen, option
from kakit.vrrp.splitbrain import SplitBrainProbe

#: The check-state key holding the split's memory between runs.
MEMORY = "split_brain"


@frozen
class SplitBrainOptions(SplitBrainProbe):
    """Settings of a split-brain check (and of :class:`SplitBrainProbe`).

    Attributes:
        on_split_brain: ``alert`` (stay healthy, alert) or ``step-down`` (fail while split).
        hold_down: With ``step-down``, seconds the check keeps failing after the split was
            last seen.
    """

    on_split_brain: str = option(choice("alert", "step-down"), default="alert")
    hold_down: float = option(duration(high=86400.0, allow_zero=True), default=60.0)


class SplitBrainCheck(Check[SplitBrainOptions]):
    """Healthy unless another host answers for a held address and ``step-down`` is set."""

    type_name = "split-brain"

    def run(self, ctx: RunContext) -> CheckResult:
        """One round of probes."""
        from kakit.exceptions import CheckError
        from kakit.vrrp.splitbrain import Tracker, detect, summary

        opts = self.options
        node = ctx.node
        memory = ctx.state.data.get(MEMORY)
        tracker = Tracker(dict(memory) if isinstance(memory, dict) else {}, opts.clear_after)
        try:
            conf = ctx.config.keepalived.config if ctx.config is not None else None
            detection = detect(opts, keepalived_config=conf)
        except CheckError as exc:
            # Nothing was measured: a split cannot be told either way.
            return CheckResult(ok=False, summary=f"split-brain: {exc}", measured=False)
        events, cause = tracker.update(detection, node)
        now = time.time()
        if tracker.split:
            tracker.memory["seen"] = now
        ctx.state.data[MEMORY] = tracker.memory
        text = cause if events else summary(detection, tracker, node)
        if opts.on_split_brain == "alert":
            if tracker.split:
                text += " (on_split_brain: alert, staying healthy)"
            return CheckResult(ok=True, summary=text, events=tuple(events))
        seen = tracker.memory.get("seen")
        ago = now - seen if isinstance(seen, int | float) else float("inf")
        if tracker.split:
            text += " (on_split_brain: step-down)"
        elif 0 <= ago < opts.hold_down:
            text += f"; stepping down: split seen {ago:.0f} s ago (hold_down {opts.hold_down:g} s)"
        else:
            return CheckResult(ok=True, summary=text, events=tuple(events))
        return CheckResult(ok=False, summary=text, events=tuple(events))

    def describe(self) -> str:
        """``split-brain``."""
        return "split-brain"
