"""Apply one state's hooks in the current process's network namespace and print the outcomes.

Run by the tests as ``ip netns exec NS python netns_child.py SPEC``, where SPEC is JSON:
``{"config": "<kakit.yaml text>", "state": "MASTER", "previous": "BACKUP", "name": "VI_1"}``.
It does what kanotify does with a parsed config, and prints ``[{hook, summary, ok}, ...]``.
With ``"drift": true`` it applies nothing and prints the state's drift lines instead.
"""

from __future__ import annotations

import json
import sys

from kakit.config.parse import parse_yaml
from kakit.core.converters import Node, record
from kakit.core.events import StateEvent
from kakit.hooks.base import StateChange
from kakit.hooks.runner import HookPlan, apply_hooks, hooks_for_state
from kakit.hooks.spec import HookSettings, states_section


def main(spec_text: str) -> None:
    """Parse SPEC, apply the hooks of its state and print the outcomes as JSON."""
    spec = json.loads(spec_text)
    root = parse_yaml(spec["config"], "kakit.yaml").mapping()
    states = states_section(root["states"]) if "states" in root else {}
    settings = record(HookSettings)(root.get("hooks") or Node(None, "kakit.yaml", 0, "hooks"))
    event = StateEvent(
        kind="INSTANCE", name=spec.get("name", "VI_1"), state=spec["state"], priority=100, time=1.5
    )
    if spec.get("drift"):
        json.dump(HookPlan(states, settings).drift(spec["state"]), sys.stdout)
        return
    change = StateChange(event=event, previous=spec.get("previous"), node="lb1")
    hooks = hooks_for_state(states.get(event.state, {}), settings)
    outcomes = apply_hooks(change, hooks)
    json.dump([{"hook": o.hook, "summary": o.summary, "ok": o.ok} for o in outcomes], sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
