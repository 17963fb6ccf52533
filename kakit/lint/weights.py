"""The weight arithmetic of a pair: does a failure on the master actually move the VIP?

keepalived's rules (keepalived.conf(5), "VRRP script(s)" and "Track files"; docs/lint.md):

- a tracker with weight 0 puts the instance in FAULT while it fails;
- a positive weight is added while the tracker is OK, a negative one subtracted while it
  fails; ``reverse`` flips the direction;
- a ``track_file`` adds value times weight (its own weight defaults to 1); a product at or below
  -254 means FAULT. The writer decides the value: a failing file is taken to hold 1 under a
  negative weight (``kacheck --watch``) and -254 under a positive one (kaprobe), the value that
  lowers the priority;
- the effective priority is clamped to 1..254, and 255 (the address owner) never changes;
- members of a ``vrrp_sync_group`` track with weight 0 unless the group sets
  ``sync_group_tracking_weight``.
"""

from __future__ import annotations

from itertools import combinations

from kakit.lint.base import Finding, Rule, pairs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import ClassVar

    from kakit.lint.base import Context
    from kakit.lint.model import Instance, Tracker

#: The value a failing track_file is taken to hold, by the sign of its weight: the writer's
#: value that lowers the priority. ``kacheck --watch`` writes 1 (meant for weight 0 or a
#: negative weight); kaprobe writes -254 (meant for weight 0 or 1, where it means FAULT).
FAILING_FILE_VALUE = 1
FAILING_FILE_VALUE_POSITIVE_WEIGHT = -254
#: Most trackers over both nodes for which every combination is printed (2^6 = 64 rows);
#: beyond it, single failures only.
MAX_COMBINATION_TRACKERS = 6
#: ``effective`` returns this for FAULT (below every priority).
FAULT = 0


def adjustment(tracker: Tracker, failing: bool, in_sync_group: bool) -> int | None:
    """What ``tracker`` adds to the priority (None: FAULT) when failing or not."""
    weight = 0 if in_sync_group else tracker.weight
    sign = -1 if tracker.reverse else 1
    if tracker.kind == "file":
        if not failing:
            value = 0
        elif weight * sign > 0:
            value = FAILING_FILE_VALUE_POSITIVE_WEIGHT
        else:
            value = FAILING_FILE_VALUE
        if weight == 0:
            return None if (value != 0) != tracker.reverse else 0
        product = value * weight * sign
        return None if product <= -254 else max(-254, min(253, product))
    if weight == 0:
        return None if failing != tracker.reverse else 0
    if weight > 0:
        return sign * weight if not failing else 0
    return sign * weight if failing else 0


def effective(instance: Instance, failing: set[str]) -> int:
    """The instance's effective priority with the trackers named in ``failing`` failing.

    Returns:
        1..255, or :data:`FAULT` (0).
    """
    base = instance.priority if instance.priority is not None else 100
    total = 0
    for tracker in instance.trackers:
        change = adjustment(
            tracker, f"{tracker.kind}:{tracker.name}" in failing, bool(instance.in_sync_group)
        )
        if change is None:
            return FAULT
        total += change
    if base >= 255:
        return 255
    return max(1, min(254, base + total))


def _key(tracker: Tracker) -> str:
    return f"{tracker.kind}:{tracker.name}"


def _show(priority: int) -> str:
    return "FAULT" if priority == FAULT else str(priority)


def table(mine: Instance, theirs: Instance) -> list[str]:
    """Each node's priority in each combination of failing trackers, one line each."""
    trackers = [("this", _key(t)) for t in mine.trackers] + [
        ("peer", _key(t)) for t in theirs.trackers
    ]
    trackers = list(dict.fromkeys(trackers))
    if len(trackers) <= MAX_COMBINATION_TRACKERS:
        sets = [c for n in range(len(trackers) + 1) for c in combinations(trackers, n)]
    else:
        sets = [(), *((t,) for t in trackers)]
    rows = []
    for failing in sets:
        here = effective(mine, {k for node, k in failing if node == "this"})
        there = effective(theirs, {k for node, k in failing if node == "peer"})
        if here == there == FAULT:
            master = "none"
        elif here == there:
            master = "tie: higher IP"
        else:
            master = "this" if here > there else "peer"
        named = ", ".join(f"{node}:{k}" for node, k in failing) or "nothing"
        rows.append((named, _show(here), _show(there), master))
    width = max(len("failing"), *(len(row[0]) for row in rows))
    lines = [f"{'failing':<{width}}  this  peer  master"]
    lines += [f"{a:<{width}} {b:>5} {c:>5}  {d}" for a, b, c, d in rows]
    return lines


class WeightRule(Rule):
    """With ``--peer``: a tracked failure on the master that leaves it master."""

    codes: ClassVar[dict[str, str]] = {
        "weights": "a failing track script, file, interface or BFD session on the master "
        "that does not bring it below the backup",
    }

    def check(self, context: Context) -> Iterator[Finding]:
        """One finding per instance where some single failure on the master changes nothing."""
        for mine, theirs in pairs(context):
            if not mine.trackers and not theirs.trackers:
                continue
            here, there = effective(mine, set()), effective(theirs, set())
            if here <= there:
                continue  # this node is not the master: the peer's own run reports its side
            stuck = []
            for tracker in mine.trackers:
                failed = effective(mine, {_key(tracker)})
                if failed != FAULT and failed >= there:
                    stuck.append(f"{_key(tracker)} ({here} -> {failed})")
            if not stuck:
                continue
            yield self.at(
                mine.item,
                "warning",
                "weights",
                f"{mine.name}: this node is MASTER at {here} against the peer's {there}, and "
                f"a failing {', '.join(stuck)} keeps it at or above {there}: the VIP stays on "
                "a node whose check fails",
                f"make each weight's size more than {here - there} (the priority gap), or "
                "use weight 0 (FAULT)",
                tuple(table(mine, theirs)),
            )
