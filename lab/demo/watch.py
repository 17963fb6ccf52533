"""What the demo waits for and shows: the VIP's holder, alerts at the sink, kakit's firewall rules."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.demo.narration import DemoFailure, LogTail, Narrator
from lab.demo.nodes import SINK_PORT
from lab.lab import Lab
from lab.node import Node
from lab.procs import wait_until

VIP_TIMEOUT = 20.0
"""Seconds to wait for the VIP to settle: ~3.5 s master-down interval plus generous slack."""

SINK_TIMEOUT = 10.0
"""Seconds to wait for the sink to answer after it is started."""

ALERT_TIMEOUT = 10.0
"""Seconds to wait for an alert at the sink: the coalesce hold, the worker's start, one POST."""

RULES_TIMEOUT = 5.0
"""Seconds to wait for kakit's firewall rules to be in place (hooks run before alerts go out)."""


def holder_names(lab: Lab) -> str:
    """Name the nodes holding the VIP, for narration."""
    names = [node.name for node in lab.holders(lab.vip)]
    return ", ".join(names) if names else "nobody"


def wait_for_holder(lab: Lab, node: Node, what: str, timeout: float = VIP_TIMEOUT) -> None:
    """Wait until ``node`` alone holds the VIP.

    Raises:
        DemoFailure: It did not within ``timeout``; the message names the current holders.
    """
    try:
        lab.wait_until(lambda: lab.holders(lab.vip) == [node], timeout=timeout, interval=0.2)
    except TimeoutError as exc:
        raise DemoFailure(
            f"{what}: the VIP did not reach {node.name} within {timeout:g} s "
            f"(held by {holder_names(lab)})"
        ) from exc


def start_sink(lab: Lab, timeout: float = SINK_TIMEOUT) -> Path:
    """Start the webhook sink on the lab's gateway and wait until it answers.

    Args:
        lab: A lab built with ``gateway=True``.
        timeout: Seconds to wait for the sink's first answer.

    Returns:
        The file the sink appends every received alert body to (one JSON object per line).

    Raises:
        DemoFailure: The lab has no gateway, or the sink exited or did not answer in time.
    """
    gateway = lab.gateway
    if gateway is None:
        raise DemoFailure("the lab has no gateway to run the webhook sink on")
    received = gateway.dir / "alerts.jsonl"
    received.unlink(missing_ok=True)
    output = gateway.dir / "sink.out"
    argv = [sys.executable, "-m", "lab.sink", gateway.address, str(SINK_PORT)]
    with output.open("ab") as out:
        proc = gateway.popen(
            [*argv, str(received)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def answers() -> bool:
        if proc.poll() is not None:
            tail = output.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise DemoFailure(f"the webhook sink exited with {proc.returncode}: {tail[0]}")
        try:
            gateway.http_get(port=SINK_PORT, timeout=1.0)
        except RuntimeError:
            return False
        return True

    try:
        wait_until(answers, timeout=timeout, interval=0.1, what="the webhook sink")
    except TimeoutError as exc:
        raise DemoFailure(f"the webhook sink did not answer within {timeout:g} s") from exc
    return received


def alert_line(body: dict[str, Any]) -> str:
    """Summarise one alert body the sink received, for narration.

    Returns:
        ``n1 VI_1: BACKUP → MASTER (hooks: sysctl: ...; firewall: ...)``, for what kacheck
        did ``n1 check nginx: give_up, latch, escalate (nginx: nginx down ...)``, for a BFD
        session ``n1 BFD 10.213.7.1->10.213.7.254: bfd_down (BFD session ...)``.
    """
    sequence = body.get("sequence") or [body.get("state")]
    if body.get("kind") == "BFD":
        events = ", ".join(str(event) for event in sequence)
        return f"{body.get('node')} BFD {body.get('name')}: {events} ({body.get('cause')})"
    if body.get("event"):
        events = ", ".join(str(event) for event in sequence)
        return f"{body.get('node')} check {body.get('check')}: {events} ({body.get('cause')})"
    hooks = body.get("hooks")
    hooks_text = "; ".join(str(hook) for hook in hooks) if hooks else "none"
    late = ", arrived late" if body.get("late") else ""
    change = " → ".join(str(state) for state in sequence)
    return f"{body.get('node')} {body.get('name')}: {change} (hooks: {hooks_text}{late})"


@dataclass
class AlertFeed:
    """Follows the sink's file and narrates every alert body as the demo sees it arrive.

    Attributes:
        tail: The sink's output file.
        say: Where alerts are printed.
        bodies: Every alert body received so far, in arrival order.
    """

    tail: LogTail
    say: Narrator
    bodies: list[dict[str, Any]] = field(default_factory=list)

    def poll(self) -> None:
        """Read the alerts that arrived since the last poll and print them."""
        new: list[dict[str, Any]] = []
        for line in self.tail.new_lines():
            try:
                body = json.loads(line)
            except ValueError:
                continue
            if isinstance(body, dict):
                new.append(body)
        self.bodies.extend(new)
        self.say.show("sink", [alert_line(body) for body in new])

    def events(self, since: int) -> list[str]:
        """Every event (``bfd_down``...) the alerts received from ``since`` on cover, in order."""
        return [
            str(event)
            for body in self.bodies[since:]
            if body.get("event")
            for event in body.get("sequence") or [body["event"]]
        ]

    def missing(self, wanted: list[tuple[str, str]], since: int) -> list[tuple[str, str]]:
        """List the ``(node, state)`` alerts not among the bodies received from ``since`` on.

        A collapsed flap counts for its final state, which is the state the node is in.
        """
        got = {(body.get("node"), body.get("state")) for body in self.bodies[since:]}
        return [pair for pair in wanted if pair not in got]

    def wait_for(self, wanted: list[tuple[str, str]], since: int, timeout: float) -> list[str]:
        """Wait until the sink has received an alert for every ``(node, state)``.

        Args:
            wanted: The alerts to wait for.
            since: Only bodies from this index of `bodies` on count.
            timeout: Seconds to wait at most.

        Returns:
            What did not arrive, as ``"n2's MASTER alert"`` phrases (empty when all did).
        """

        def arrived() -> bool:
            self.poll()
            return not self.missing(wanted, since)

        try:
            wait_until(arrived, timeout=timeout, interval=0.1, what="alerts at the sink")
        except TimeoutError:
            pass
        return [f"{node}'s {state} alert" for node, state in self.missing(wanted, since)]

    def require(self, wanted: list[tuple[str, str]], since: int, timeout: float) -> None:
        """Like `wait_for`, but a missing alert fails the demo.

        Raises:
            DemoFailure: Names the alerts that did not arrive and what the sink did receive.
        """
        absent = self.wait_for(wanted, since, timeout)
        if absent:
            got = [f"{body.get('node')} {body.get('state')}" for body in self.bodies[since:]]
            raise DemoFailure(
                f"{' and '.join(absent)} did not arrive at the webhook sink within "
                f"{timeout:g} s (it received {', '.join(got) or 'nothing'} meanwhile; kanotify "
                "and its delivery worker log to each node's kakit.log)"
            )


def kakit_rules(node: Node) -> list[str]:
    """kakit's tagged firewall rules in a node (``iptables -S`` lines holding ``kakit:``)."""
    out = node.run(["iptables", "-S"], timeout=10).stdout
    return [rule for rule in out.splitlines() if "kakit:" in rule]


def wait_for_rules(holder: Node, others: list[Node], what: str) -> list[str]:
    """Wait until kakit's firewall rules exist on ``holder`` and on none of ``others``.

    Returns:
        The holder's rules.

    Raises:
        DemoFailure: Not so within `RULES_TIMEOUT`.
    """
    try:
        wait_until(
            lambda: bool(kakit_rules(holder)) and not any(kakit_rules(n) for n in others),
            timeout=RULES_TIMEOUT,
            interval=0.2,
            what=what,
        )
    except TimeoutError as exc:
        where = [n.name for n in [holder, *others] if kakit_rules(n)]
        raise DemoFailure(
            f"{what}: kakit's firewall rules are on {', '.join(where) or 'no node'}, "
            f"not on {holder.name} alone"
        ) from exc
    return kakit_rules(holder)
